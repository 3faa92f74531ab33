"""The rendered HA topology with an address per pod that changes when the pod is recreated, as on
Kubernetes: names resolve through the pods' /etc/hosts (tests/live/addresses.py), so Redis and
Sentinel must find each other by name and drop the addresses a recreated pod left behind."""

from __future__ import annotations

import os
import re
import subprocess
import threading

import pytest

from tests.live.addresses import PerPodTopology, in_namespace, sentinel_entries
from tests.live.topology import Pod, wait_for

pytestmark = pytest.mark.live


def sentinels_dialling(t: PerPodTopology, pod: Pod) -> set[str]:
    """The Sentinels (by run id) whose command link reaches `pod` at its current address."""
    linked = set()
    for line in t.cli(pod, "CLIENT", "LIST").splitlines():
        name = re.search(r" name=sentinel-(\w+)-cmd ", line)
        if name and f" laddr={pod.host}:{pod.port} " in line:
            linked.add(name.group(1))
    return linked


def replicas_of(t: PerPodTopology, master: Pod) -> set[str]:
    """The replicas a master lists online (by announced name)."""
    online = set()
    for key, value in t.info(master, "replication").items():
        if re.fullmatch(r"slave\d+", key) and "state=online" in value:
            online.add(value.split(",")[0].removeprefix("ip="))
    return online


def agreed(t: PerPodTopology) -> Pod | None:
    """The data pod every Sentinel names as master (by its FQDN), None while they disagree."""
    master = t.agreed_master()
    return t.pod_named(master.rsplit(":", 1)[0]) if master else None


def converged(t: PerPodTopology, master: Pod) -> bool:
    """Every Sentinel lists exactly the other data pods as healthy replicas of `master`, each
    reached at its current address, and `master` has them online."""
    others = {f"{t.fqdn[p.name]}:6379" for p in t.redis if p is not master}
    for sentinel in t.sentinels:
        if t.sentinel_view(sentinel, "replicas") != dict.fromkeys(others, "slave"):
            return False
    return replicas_of(t, master) == {o.rsplit(":", 1)[0] for o in others} and all(
        len(sentinels_dialling(t, p)) == len(t.sentinels) for p in t.redis
    )


def test_pods_find_each_other_by_name_on_their_own_addresses(pods: PerPodTopology) -> None:
    addresses = [p.host for p in [*pods.redis, *pods.sentinels]]
    assert len(set(addresses)) == 6 and "127.0.0.1" not in addresses, addresses
    # the env is the rendered one: names, not addresses
    assert not any(
        "127.0.0." in v for p in pods.redis for k, v in p.env.items() if k != "POD_LOOPBACK"
    )
    master = pods.redis[0]
    wait_for(lambda: converged(pods, master), "replicas listed by name, dialled at their address")
    assert agreed(pods) is master
    inode = os.stat(pods.hosts).st_ino
    pods.write_hosts()
    assert os.stat(pods.hosts).st_ino == inode  # rewritten in place: the bind mounts see it
    # A name without a record fails at once, from the hosts file alone: no lookup goes to the
    # machine's DNS servers (the namespace's nsswitch.conf says `hosts: files`).
    lookup = "grep '^hosts:' /etc/nsswitch.conf; getent hosts x.invalid"
    gone = subprocess.run(
        in_namespace(pods.hosts, ["sh", "-c", lookup]),
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    assert gone.stdout.split() == ["hosts:", "files"] and gone.returncode == 2, gone


def test_failover_after_a_master_kill_and_rejoin_at_a_new_address(pods: PerPodTopology) -> None:
    old = pods.redis[0]
    wait_for(lambda: converged(pods, old), "a converged topology")
    assert pods.cli(old, "SET", "session:before", "kept") == "OK"
    assert pods.cli(old, "WAIT", "2", "5000") == "2"
    pods.kill(old)
    wait_for(lambda: agreed(pods) not in (None, old), "the Sentinels agree on a new master", 45)
    new = agreed(pods)
    assert new is not None
    wait_for(lambda: pods.info(new, "replication").get("role") == "master", "promotion")
    assert pods.cli(new, "GET", "session:before") == "kept"

    stale = pods.recreate(old)
    assert stale != old.host
    pods.start_redis(0)
    assert f"starting as replica of {pods.fqdn[new.name]}:6379" in old.log.read_text()

    def rejoined() -> bool:
        master = agreed(pods)
        return master is not None and master is not old and converged(pods, master)

    wait_for(rejoined, "every Sentinel and the master know the old master at its new address", 60)
    master = agreed(pods)
    assert master is not None
    assert pods.info(old, "replication")["master_host"] == pods.fqdn[master.name]
    assert pods.cli(old, "GET", "session:before") == "kept"


def test_a_recreated_replica_is_followed_to_its_new_address(pods: PerPodTopology) -> None:
    master, replica = pods.redis[0], pods.redis[2]
    wait_for(lambda: converged(pods, master), "a converged topology")
    before = sentinels_dialling(pods, replica)
    stale = pods.recreate(replica)
    pods.start_redis(2)
    assert replica.host != stale
    wait_for(lambda: converged(pods, master), "Sentinels and master follow the replica", 45)
    # the same Sentinels, now dialling the new address; nothing listens on the old one
    assert sentinels_dialling(pods, replica) == before
    assert pods.cli(master, "SET", "session:after", "1") == "OK"
    assert pods.cli(master, "WAIT", "2", "5000") == "2"
    assert pods.cli(replica, "GET", "session:after") == "1"


def test_the_hand_over_then_the_pod_comes_back_at_a_new_address(pods: PerPodTopology) -> None:
    old = pods.redis[0]
    wait_for(lambda: converged(pods, old), "a converged topology")
    acked: list[int] = []
    refused: list[str] = []

    def write_until_refused() -> None:
        while len(refused) == 0:
            reply = pods.cli(old, "INCR", "session:counter", timeout=30)
            if reply.isdigit():
                acked.append(int(reply))
            else:
                refused.append(reply)

    writer = threading.Thread(target=write_until_refused)
    writer.start()
    wait_for(lambda: len(acked) >= 20, "the client writing")
    hook = pods.pre_stop(old)
    writer.join(timeout=30)
    assert hook.returncode == 0, hook.stdout + hook.stderr
    assert "pre-stop: replica of sessions-session-database-redis-" in hook.stdout, hook.stdout
    assert refused and ("READONLY" in refused[0] or "UNBLOCKED" in refused[0]), refused
    wait_for(lambda: agreed(pods) not in (None, old), "the Sentinels agree on the new master")
    new = agreed(pods)
    assert new is not None
    assert int(pods.cli(new, "GET", "session:counter")) >= max(acked)

    pods.recreate(old)  # the container stops after the hook; the pod comes back elsewhere
    pods.start_redis(0)
    wait_for(lambda: agreed(pods) is new and converged(pods, new), "the old master rejoined", 60)
    assert pods.cli(new, "INCR", "session:counter").isdigit()


def test_a_recreated_sentinel_is_learnt_by_its_peers(pods: PerPodTopology) -> None:
    master = pods.redis[0]
    wait_for(lambda: converged(pods, master), "a converged topology")
    sentinel = pods.sentinels[1]
    old_id = pods.cli(sentinel, "SENTINEL", "MYID")
    pods.recreate(sentinel)
    pods.start_sentinel(1)
    # it found the master by asking a peer by name
    assert re.search(
        r"from Sentinel sessions-session-database-sentinel-[02]\.", sentinel.log.read_text()
    )
    new_id = pods.cli(sentinel, "SENTINEL", "MYID")
    assert new_id != old_id  # an emptied runtime folder: a new Sentinel id at a new address

    def peers_know_it() -> bool:
        for peer in pods.sentinels:
            others = {f"{pods.fqdn[s.name]}:26379" for s in pods.sentinels if s is not peer}
            if pods.sentinel_view(peer, "sentinels") != dict.fromkeys(others, "sentinel"):
                return False
            reply = pods.cli(peer, "SENTINEL", "sentinels", peer.env["MASTER_SET"])
            known = sentinel_entries(reply)
            if peer is not sentinel and new_id not in {entry["runid"] for entry in known}:
                return False
        return len(sentinels_dialling(pods, sentinel)) == 2

    wait_for(peers_know_it, "both peers list the Sentinel once and dial its new address", 45)
    # With sentinel-0 gone, a failover needs the votes of both the others: the recreated one
    # must be reachable where it now lives.
    pods.kill(pods.sentinels[0])
    pods.kill(master)
    wait_for(
        lambda: all(
            pods.master_by_sentinel(s).split(":")[0] not in ("", pods.fqdn[master.name])
            for s in pods.sentinels[1:]
        ),
        "a failover agreed by the two remaining Sentinels",
        45,
    )
