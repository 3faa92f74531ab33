"""Recovery without an operator, the Sentinel failure the field reports most: after a failover has
moved the master away from pod 0, (a) every data pod restarts while the Sentinels stay, (b)
the whole release restarts with the Sentinels' state gone. Both must converge on one master that
all Sentinels name, with both replicas attached and no acknowledged write lost. And (c) pod 0
never comes back (its zone is down) while the others restart: they still serve."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.live.topology import (
    REDIS_SET,
    LocalTopology,
    acknowledged,
    cli,
    info,
    online_replicas,
    wait_for,
)

pytestmark = pytest.mark.live


def _move_master_off_pod_0(topology: LocalTopology) -> None:
    """Fail over once, bring pod 0 back as a replica, and write data every pod acknowledges."""
    old = topology.redis[0]
    cli(old.port, "SET", "session:first", "1")
    assert acknowledged(old.port, 2)
    old.kill()
    wait_for(
        lambda: topology.agreed_master() not in (None, f"127.0.0.1:{old.port}"),
        "a failover away from pod 0",
        timeout=45,
    )
    topology.start_redis(0)
    master = int(str(topology.agreed_master()).split(":")[1])
    wait_for(lambda: online_replicas(master) == 2, "pod 0 back")
    assert cli(master, "SET", "session:second", "2") == "OK"
    assert acknowledged(master, 2)
    time.sleep(1.5)  # appendfsync everysec: acknowledged and a second old is on every disk


def _converged(topology: LocalTopology) -> bool:
    agreed = topology.agreed_master()
    if agreed is None:
        return False
    port = int(agreed.split(":")[1])
    if info(port, "replication").get("role") != "master":
        return False
    replicas = [pod for pod in topology.redis if pod.port != port]
    return all(
        info(pod.port, "replication").get("master_port") == str(port)
        and info(pod.port, "replication").get("master_link_status") == "up"
        for pod in replicas
    )


def _assert_recovered(topology: LocalTopology) -> None:
    wait_for(lambda: _converged(topology), "one agreed master with both replicas", timeout=60)
    masters = [p for p in topology.redis if info(p.port, "replication").get("role") == "master"]
    assert len(masters) == 1
    for pod in topology.redis:
        assert cli(pod.port, "GET", "session:first") == "1"
        assert cli(pod.port, "GET", "session:second") == "2"
    assert cli(masters[0].port, "SET", "session:third", "3") == "OK"


def _start_in_order(start: Callable[[int], None], count: int, errors: list[BaseException]) -> None:
    """One StatefulSet with OrderedReady (the Sentinels): pod N+1 only once pod N is ready."""
    try:
        for index in range(count):
            start(index)
    except BaseException as error:  # reported by the test thread
        errors.append(error)


def _start_at_once(
    topology: LocalTopology, indexes: list[int], errors: list[BaseException]
) -> None:
    """The data pods' StatefulSet (podManagementPolicy Parallel): every pod starts at once."""
    try:
        for index in indexes:
            topology.redis[index].start(["--bind", "127.0.0.1"])
        for index in indexes:
            pod = topology.redis[index]
            wait_for(
                lambda pod=pod: topology.probe(REDIS_SET, pod, "readinessProbe"),
                f"{pod.name} ready",
                timeout=60,
            )
    except BaseException as error:
        errors.append(error)


def test_all_data_pods_restart_while_sentinels_stay(topology: LocalTopology) -> None:
    _move_master_off_pod_0(topology)
    for pod in topology.redis:
        pod.kill()
    # All come back at once; pod 0 is told to follow a master that is gone until the Sentinels
    # promote one of them.
    errors: list[BaseException] = []
    _start_at_once(topology, list(range(len(topology.redis))), errors)
    assert not errors, errors
    _assert_recovered(topology)


def test_pod_0_unschedulable_the_others_restart_and_serve(topology: LocalTopology) -> None:
    """Pod 0's zone is down: it never comes back. Pods 1 and 2 restart too (a node drain);
    with podManagementPolicy Parallel they are recreated without pod 0, find the master the
    Sentinels agree on, and the master takes writes again (min-replicas-to-write 1)."""
    master = topology.redis[0]
    assert cli(master.port, "SET", "session:before", "1") == "OK"
    assert acknowledged(master.port, 2)
    master.kill()
    wait_for(
        lambda: topology.agreed_master() not in (None, f"127.0.0.1:{master.port}"),
        "a failover away from pod 0",
        timeout=45,
    )
    time.sleep(1.5)  # appendfsync everysec
    for pod in topology.redis[1:]:
        pod.kill()
    errors: list[BaseException] = []
    _start_at_once(topology, [1, 2], errors)
    assert not errors, errors
    # the Sentinels may fail over once more while the two restart; wait for them to settle
    survivors = topology.redis[1:]

    def settled() -> int | None:
        agreed = topology.agreed_master()
        port = int(agreed.split(":")[1]) if agreed else 0
        if port not in [p.port for p in survivors]:
            return None
        if info(port, "replication").get("role") != "master" or online_replicas(port) != 1:
            return None
        return port

    wait_for(lambda: settled() is not None, "a master among pods 1-2 with the other following")
    port = settled()
    assert port is not None
    assert cli(port, "GET", "session:before") == "1"
    assert cli(port, "SET", "session:after", "2") == "OK"  # not NOREPLICAS
    assert acknowledged(port, 1)


def test_whole_release_restarts_with_sentinel_state_lost(topology: LocalTopology) -> None:
    _move_master_off_pod_0(topology)
    topology.stop()
    for index in range(len(topology.sentinels)):
        # emptyDir: a recreated Sentinel pod starts with no memory of the master
        runtime = topology.root / f"sentinel-{index}" / "run"
        shutil.rmtree(runtime)
        runtime.mkdir()
    errors: list[BaseException] = []
    # Both StatefulSets start at once: the data pods all together, the Sentinels in order.
    threads = [
        threading.Thread(
            target=_start_at_once, args=(topology, list(range(len(topology.redis))), errors)
        ),
        threading.Thread(
            target=_start_in_order,
            args=(topology.start_sentinel, len(topology.sentinels), errors),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    _assert_recovered(topology)


def test_split_brain_heals_on_the_master_with_the_most_writes(topology: LocalTopology) -> None:
    """Sentinels gone, pod 1 promoted by hand with pod 2 as its replica and written to: two
    masters. Sentinels that start afresh adopt the one with the highest replication offset; the
    liveness probe then fails on the pod outside it, which restarts and rejoins."""
    old, rogue, follower = topology.redis
    for sentinel in topology.sentinels:
        sentinel.kill()
        shutil.rmtree(sentinel.env["RUNTIME_DIR"])
        Path(sentinel.env["RUNTIME_DIR"]).mkdir()
    assert cli(rogue.port, "REPLICAOF", "NO", "ONE") == "OK"
    # min-replicas-to-write: a master alone refuses writes, so the rogue takes a replica along
    assert cli(follower.port, "REPLICAOF", "127.0.0.1", str(rogue.port)) == "OK"
    wait_for(lambda: online_replicas(rogue.port) == 1, "the rogue master's replica")
    wait_for(lambda: online_replicas(old.port) == 0, "the old master alone")
    assert cli(old.port, "SET", "session:lone", "1").startswith("NOREPLICAS")
    for index in range(50):
        assert cli(rogue.port, "SET", f"session:rogue-{index}", "1") == "OK"
    errors: list[BaseException] = []
    _start_in_order(topology.start_sentinel, len(topology.sentinels), errors)
    assert not errors, errors
    assert topology.agreed_master() == f"127.0.0.1:{rogue.port}"
    assert "reports role:master (offset" in topology.sentinels[0].log.read_text()

    # the kubelet restarts what its liveness probe fails
    wait_for(
        lambda: not topology.probe(REDIS_SET, old, "livenessProbe"),
        "the lone old master found outside the agreed master",
    )
    old.kill()
    topology.start_redis(0)
    for pod in topology.redis:
        assert topology.probe(REDIS_SET, pod, "livenessProbe")
    wait_for(lambda: online_replicas(rogue.port) == 2, "both pods rejoined the agreed master")
    assert cli(old.port, "GET", "session:rogue-49") == "1"
