"""The rendered HA topology, booted with real redis-server and redis-sentinel on 127.0.0.1:
replication works, every Sentinel agrees on the master, a failover is agreed, and a restarted
former master rejoins as a replica of the new one."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from chartgen.engines import helm
from tests.conftest import CHART, install_values
from tests.live.topology import (
    CACHE_SET,
    REDIS_SET,
    LocalTopology,
    acknowledged,
    cli,
    info,
    online_replicas,
    wait_for,
)

pytestmark = pytest.mark.live


@pytest.mark.parametrize("layout", ["shared", "separate"])
def test_scripts_read_only_env_the_statefulsets_set(tmp_path: Path, layout: str) -> None:
    extra = install_values("production", {"cache": {"group": layout}})
    objects = helm.render(CHART, "production", extra=extra)
    local = LocalTopology(tmp_path, objects)
    data_sets = [REDIS_SET] if layout == "shared" else [REDIS_SET, CACHE_SET]
    for statefulset, configmap, script in (
        *((s, s, name) for s in data_sets for name in ("start-redis.sh", "pre-stop.sh")),
        *((s, s, name) for s in data_sets for name in ("health.sh", "lib.sh")),
        (
            "sessions-session-database-sentinel",
            "sessions-session-database-sentinel",
            "start-sentinel.sh",
        ),
        (
            "sessions-session-database-sentinel",
            "sessions-session-database-sentinel",
            "sentinel-health.sh",
        ),
    ):
        text = local._object("ConfigMap", configmap)["data"][script]
        used = set(re.findall(r"\$\{?([A-Z_]+)", text))
        # read with a default (`${NAME:-}`): set only in some layouts
        optional = set(re.findall(r"\$\{([A-Z_]+):-", text))
        provided = {item["name"] for item in local.container(statefulset)["env"]}
        assert used - optional <= provided, f"{script} reads {sorted(used - provided)} unset"
        if layout == "separate":
            assert used <= provided, f"{script} reads {sorted(used - provided)} unset"


def test_replication_and_sentinels_agree_on_the_master(topology: LocalTopology) -> None:
    master, *replicas = topology.redis
    assert info(master.port, "replication")["role"] == "master"
    wait_for(
        lambda: online_replicas(master.port) == 2,
        "two replicas connected",
    )
    for replica in replicas:
        assert info(replica.port, "replication")["master_port"] == str(master.port)

    assert cli(master.port, "-n", "0", "SET", "session:abc", "user-1", "EX", "3600") == "OK"
    assert cli(master.port, "-n", "1", "SET", "cache:svc:k", "v", "EX", "86400") == "OK"
    assert acknowledged(master.port, 2)
    for replica in replicas:
        assert cli(replica.port, "-n", "0", "GET", "session:abc") == "user-1"
        assert cli(replica.port, "-n", "1", "GET", "cache:svc:k") == "v"
        assert cli(replica.port, "-n", "0", "SET", "x", "1").startswith("READONLY")

    for sentinel in topology.sentinels:
        wait_for(
            lambda s=sentinel: topology.master_by_sentinel(s) == f"127.0.0.1:{master.port}",
            f"{sentinel.name} names the master",
        )
        wait_for(
            lambda s=sentinel: topology.sentinel_entry(s).endswith("slaves=2,sentinels=3"),
            f"{sentinel.name} sees 2 replicas and 3 Sentinels",
        )
        assert cli(sentinel.port, "SENTINEL", "ckquorum", sentinel.env["MASTER_SET"]).startswith(
            "OK 3 usable Sentinels"
        )


def test_failover_is_agreed_and_the_old_master_rejoins_as_replica(topology: LocalTopology) -> None:
    old_master = topology.redis[0]
    cli(old_master.port, "SET", "session:before", "kept")
    assert acknowledged(old_master.port, 2)
    old_master.kill()

    wait_for(
        lambda: topology.agreed_master() not in (None, f"127.0.0.1:{old_master.port}"),
        "all Sentinels agree on a new master",
        timeout=45,
    )
    new_port = int(str(topology.agreed_master()).split(":")[1])
    wait_for(lambda: info(new_port, "replication").get("role") == "master", "promotion")
    assert cli(new_port, "GET", "session:before") == "kept"

    # The restarted pod asks the Sentinels and must not come back as a second master. Under
    # load the Sentinels may fail over once more meanwhile, so the end state is compared with
    # whatever master they agree on now, not with the one seen before the restart.
    topology.start_redis(0)
    assert info(old_master.port, "replication")["role"] == "slave"
    assert "starting as replica of 127.0.0.1:" in old_master.log.read_text()

    def rejoined_agreed_master() -> bool:
        agreed = topology.agreed_master()
        if agreed in (None, f"127.0.0.1:{old_master.port}"):
            return False
        master_port = str(agreed).split(":")[1]
        replication = info(old_master.port, "replication")
        return (
            replication.get("role") == "slave"
            and replication.get("master_port") == master_port
            and replication.get("master_link_status") == "up"
            and online_replicas(int(master_port)) == 2
        )

    wait_for(rejoined_agreed_master, "the old master rejoined the agreed master", timeout=45)
    assert cli(old_master.port, "GET", "session:before") == "kept"


def test_restarted_sentinel_learns_the_master_from_its_peers(topology: LocalTopology) -> None:
    sentinel = topology.sentinels[1]
    sentinel.kill()
    topology.start_sentinel(1)
    master = topology.redis[0]
    assert topology.master_by_sentinel(sentinel) == f"127.0.0.1:{master.port}"
    assert "from Sentinel 127.0.0.1:" in sentinel.log.read_text()


def test_a_stopping_master_hands_over_without_losing_acknowledged_writes(
    topology: LocalTopology,
) -> None:
    old_master = topology.redis[0]
    wait_for(
        lambda: all(
            topology.sentinel_entry(s).endswith("slaves=2,sentinels=3") for s in topology.sentinels
        ),
        "every Sentinel sees both replicas",
    )
    acked: list[int] = []
    refused: list[str] = []
    stop_writing = threading.Event()

    def write_until_refused() -> None:
        # A client that keeps writing through the hand-over: every write is either
        # acknowledged (and must survive) or refused (and the client reconnects).
        while not stop_writing.is_set():
            reply = cli(old_master.port, "INCR", "session:counter", timeout=30)
            if reply.isdigit():
                acked.append(int(reply))
            else:
                refused.append(reply)
                return

    writer = threading.Thread(target=write_until_refused)
    writer.start()
    wait_for(lambda: len(acked) >= 20, "the client writing")
    hook = topology.pre_stop(old_master)
    writer.join(timeout=30)
    stop_writing.set()

    assert hook.returncode == 0, hook.stdout + hook.stderr
    assert "pre-stop: replica of 127.0.0.1:" in hook.stdout, hook.stdout
    assert info(old_master.port, "replication")["role"] == "slave"
    assert refused and ("READONLY" in refused[0] or "UNBLOCKED" in refused[0]), refused
    wait_for(
        lambda: topology.agreed_master() not in (None, f"127.0.0.1:{old_master.port}"),
        "all Sentinels agree on the new master",
    )
    new_port = int(str(topology.agreed_master()).split(":")[1])
    assert int(cli(new_port, "GET", "session:counter")) >= max(acked)
    # The container stops after the hook; the new master keeps taking writes once the other
    # replica follows it (min-replicas-to-write 1: Sentinel reconfigures it after the hand-over,
    # later when it monitors the cache's set too).
    old_master.kill()
    wait_for(lambda: online_replicas(new_port) >= 1, "the other replica follows the new master")
    assert cli(new_port, "INCR", "session:counter").isdigit()


def test_pre_stop_of_a_replica_changes_nothing(topology: LocalTopology) -> None:
    master, replica = topology.redis[0], topology.redis[1]
    hook = topology.pre_stop(replica)
    assert hook.returncode == 0
    assert hook.stdout == ""
    assert info(master.port, "replication")["role"] == "master"
    assert info(replica.port, "replication")["role"] == "slave"
    assert topology.agreed_master() == f"127.0.0.1:{master.port}"


def test_a_master_cut_off_from_its_replicas_refuses_writes(topology: LocalTopology) -> None:
    # min-replicas-to-write: what a partitioned old master accepts would be lost on failover.
    master = topology.redis[0]
    wait_for(
        lambda: online_replicas(master.port) == 2,
        "two replicas connected",
    )
    assert cli(master.port, "SET", "session:a", "1") == "OK"
    for replica in topology.redis[1:]:
        replica.kill()
    wait_for(
        lambda: cli(master.port, "SET", "session:b", "1").startswith("NOREPLICAS"),
        "writes refused without replicas",
    )
    assert cli(master.port, "GET", "session:a") == "1"  # reads still served
    topology.start_redis(1)
    wait_for(lambda: cli(master.port, "SET", "session:b", "1") == "OK", "writes back")


def test_pre_stop_without_an_eligible_replica_releases_writes_at_once(
    topology: LocalTopology,
) -> None:
    master = topology.redis[0]
    for replica in topology.redis[1:]:
        assert cli(replica.port, "CONFIG", "SET", "replica-priority", "0") == "OK"
    service = topology.sentinels[0]  # the one the pod reaches through the Service, locally

    def priorities() -> list[str]:
        # SENTINEL REPLICAS: one flat field/value list per replica
        lines = cli(service.port, "SENTINEL", "replicas", service.env["MASTER_SET"]).splitlines()
        return [lines[i + 1] for i, line in enumerate(lines[:-1]) if line == "slave-priority"]

    wait_for(lambda: priorities() == ["0", "0"], "Sentinel sees no promotable replica")
    hook = topology.pre_stop(master)
    assert hook.returncode == 0
    assert "NOGOODSLAVE" in hook.stdout and "without a hand-over" in hook.stdout, hook.stdout
    assert info(master.port, "replication")["role"] == "master"
    assert cli(master.port, "SET", "session:after", "1", timeout=2) == "OK"  # not paused
