"""Production as rendered (the service cache on a Redis group of its own) with an address per pod
that changes when the pod is recreated (tests/live/addresses.py): one Sentinel set monitors both
master sets by name. A cache master kill fails the cache set over and only it (the sessions keep
their master, their set's epoch unchanged); the killed cache pod comes back at a new address and
rejoins as a replica the Sentinels and the new master reach where it now lives."""

from __future__ import annotations

import re

import pytest

from tests.live.addresses import PerPodTopology, sentinel_entries
from tests.live.topology import Pod, wait_for
from tests.test_live_addresses import sentinels_dialling

pytestmark = pytest.mark.live

SESSIONS_SET, CACHE_MASTER_SET = "sessiondb", "servicecache"


def master_of(t: PerPodTopology, master_set: str) -> Pod | None:
    """The pod every Sentinel names as master of `master_set`, None while they disagree."""
    master = t.agreed_master_of(master_set)
    return t.pod_named(master.rsplit(":", 1)[0]) if master else None


def epoch(t: PerPodTopology, sentinel: Pod, master_set: str) -> int:
    """The set's config-epoch as `sentinel` knows it: every failover raises it."""
    (entry,) = sentinel_entries(t.cli(sentinel, "SENTINEL", "MASTER", master_set))
    return int(entry["config-epoch"])


def cache_converged(t: PerPodTopology, master: Pod) -> bool:
    """Every Sentinel lists the other cache pods, by name, as healthy replicas of `master` in
    the cache's set, `master` has them online, and the Sentinels reach every cache pod at its
    current address."""
    others = [p for p in t.cache if p is not master]
    expected = dict.fromkeys((f"{t.fqdn[p.name]}:6379" for p in others), "slave")
    if any(t.sentinel_view(s, "replicas", CACHE_MASTER_SET) != expected for s in t.sentinels):
        return False
    online = {
        value.split(",")[0].removeprefix("ip=")
        for key, value in t.info(master, "replication").items()
        if re.fullmatch(r"slave\d+", key) and "state=online" in value
    }
    # and every Sentinel dials each cache pod where it lives now
    return online == {t.fqdn[p.name] for p in others} and all(
        len(sentinels_dialling(t, p)) == len(t.sentinels) for p in t.cache
    )


def test_cache_pods_have_their_own_addresses_and_names(pods: PerPodTopology) -> None:
    assert len(pods.cache) == 2, "production's render has the cache StatefulSet (2 pods)"
    addresses = [p.host for p in [*pods.redis, *pods.cache, *pods.sentinels]]
    assert len(set(addresses)) == 8 and "127.0.0.1" not in addresses, addresses
    for i, pod in enumerate(pods.cache):
        assert pods.fqdn[pod.name].startswith(
            f"sessions-session-database-cache-{i}.sessions-session-database-cache-headless."
        )
        assert pod.env["MASTER_SET"] == CACHE_MASTER_SET
    wait_for(lambda: cache_converged(pods, pods.cache[0]), "the cache set converged by name")
    assert master_of(pods, CACHE_MASTER_SET) is pods.cache[0]
    assert master_of(pods, SESSIONS_SET) is pods.redis[0]


def test_a_cache_master_kill_fails_over_the_cache_only_and_it_rejoins_at_a_new_address(
    pods: PerPodTopology,
) -> None:
    old, sessions = pods.cache[0], pods.redis[0]
    wait_for(lambda: cache_converged(pods, old), "a converged cache set")
    sessions_epochs = [epoch(pods, s, SESSIONS_SET) for s in pods.sentinels]
    assert pods.cli(old, "-n", "1", "SET", "cache:svc:before", "kept") == "OK"
    assert pods.cli(old, "WAIT", "1", "5000") == "1"
    assert pods.cli(sessions, "SET", "session:s1", "u1") == "OK"

    pods.kill(old)
    wait_for(
        lambda: master_of(pods, CACHE_MASTER_SET) not in (None, old),
        "the Sentinels agree on a new cache master",
        45,
    )
    new = master_of(pods, CACHE_MASTER_SET)
    assert new is pods.cache[1]
    wait_for(lambda: pods.info(new, "replication").get("role") == "master", "promotion")
    assert pods.cli(new, "-n", "1", "GET", "cache:svc:before") == "kept"
    # the sessions' set did not move: same master, no failover (epoch unchanged), still writable
    assert master_of(pods, SESSIONS_SET) is sessions
    assert [epoch(pods, s, SESSIONS_SET) for s in pods.sentinels] == sessions_epochs
    assert pods.info(sessions, "replication")["role"] == "master"
    assert pods.cli(sessions, "SET", "session:s2", "u2") == "OK"

    stale = pods.recreate(old)
    assert stale != old.host
    pods.start_cache(0)
    assert f"starting as replica of {pods.fqdn[new.name]}:6379" in old.log.read_text()
    wait_for(
        lambda: master_of(pods, CACHE_MASTER_SET) is new and cache_converged(pods, new),
        "every Sentinel and the new cache master know the old one at its new address",
        60,
    )
    assert pods.info(old, "replication")["master_host"] == pods.fqdn[new.name]
    assert pods.cli(new, "-n", "1", "SET", "cache:svc:after", "1") == "OK"
    assert pods.cli(new, "WAIT", "1", "5000") == "1"
    assert pods.cli(old, "-n", "1", "GET", "cache:svc:after") == "1"
    assert master_of(pods, SESSIONS_SET) is sessions
