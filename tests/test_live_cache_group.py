"""The two layouts of the service cache, booted from the production chart with real redis-server,
redis-sentinel and HAProxy: cache writes fill memory far past maxmemory. On one shared group
with the seed's production policy (allkeys-lru) the sessions go, as the eviction-policy rule
says; with the cache on its own group (cache.group: separate, production's layout, the
sessions' group on noeviction) no session is lost, the same Sentinels monitor both master sets,
and a cache master kill fails over the cache set only, the endpoint's cache frontend following
it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.topology.resolve import resolve
from chartgen.topology.resource_rules import eviction_policy
from tests.conftest import CHART, FAST_FAILOVER, SPEC
from tests.live.endpoint import LocalEndpoint
from tests.live.topology import (
    LocalTopology,
    cli,
    cli_as,
    info,
    live_password,
    require_binaries,
    running,
    wait_for,
)
from tests.test_live_eviction import _command, db_size, pipe

pytestmark = pytest.mark.live

SESSIONS = 400
CACHE_ENTRIES = 6000  # of about 1 KiB: far more than maxmemory holds
MAXMEMORY = "3mb"
SESSIONS_SET, CACHE_MASTER_SET = "sessiondb", "servicecache"


def production(layout: str) -> list[helm.RenderedObject]:
    """Production's chart without TLS, failing over fast, with a small maxmemory on the group
    that takes the cache writes."""
    extra: dict[str, Any] = {**FAST_FAILOVER, "tls": {"enabled": False}}
    if layout == "shared":  # the seed's production policy, allkeys-lru, on both databases
        extra["redis"] = {"config": {"maxmemory": MAXMEMORY, "maxmemoryPolicy": "allkeys-lru"}}
        extra["cache"] = {"group": "shared"}
    else:
        extra["redis"] = {"config": {"maxmemory": MAXMEMORY, "maxmemoryPolicy": "noeviction"}}
        extra["cache"] = {"group": "separate", "config": {"maxmemory": MAXMEMORY}}
    return helm.render(CHART, "production", extra=extra)


def fill(sessions_port: int, cache_port: int) -> str:
    """Sessions (DB 0) on the sessions' master, then far more cache entries (DB 1) than fit on
    the cache's master; the cache batch's summary."""
    sessions = b"".join(
        _command("SET", f"session:{i}", f"user-{i}", "EX", "3600") for i in range(SESSIONS)
    )
    assert "errors: 0" in pipe(sessions_port, _command("SELECT", "0") + sessions)
    value = "v" * 1000
    cache = b"".join(
        _command("SET", f"cache:svc:{i}", value, "EX", "86400") for i in range(CACHE_ENTRIES)
    )
    return pipe(cache_port, _command("SELECT", "1") + cache)


@pytest.fixture
def split(tmp_path: Path) -> Iterator[LocalTopology]:
    """Production split: 3 session pods, 2 cache pods, 3 Sentinels."""
    require_binaries()
    local = LocalTopology(tmp_path, production("separate"))
    local.build(replicas=3, sentinels=3, cache=2)
    with running(local):
        yield local


def test_shared_group_with_the_seeds_policy_loses_sessions(tmp_path: Path) -> None:
    require_binaries()
    spec = copy.deepcopy(resolve(SPEC).environments["production"])
    assert list(eviction_policy(spec)) == []  # production as committed: split, noeviction
    spec["databases"]["cache"]["group"] = "shared"
    spec["redis"]["config"]["maxmemoryPolicy"] = "allkeys-lru"
    (finding,) = eviction_policy(spec)
    assert "an idle but valid session goes before a busier cache entry" in finding[1]
    local = LocalTopology(tmp_path, production("shared"))
    local.build(replicas=2, sentinels=3)
    with running(local):
        master = local.redis[0].port
        assert cli(master, "CONFIG", "GET", "maxmemory-policy").splitlines()[1] == "allkeys-lru"
        summary = fill(master, master)
        kept = db_size(master, 0)
        assert "errors: 0" in summary  # nothing refused: room was made by evicting
        assert kept < SESSIONS / 2, f"allkeys-lru kept {kept} of {SESSIONS} sessions"


def test_split_keeps_every_session_while_the_cache_evicts(split: LocalTopology) -> None:
    sessions, cache = split.redis[0].port, split.cache[0].port
    assert cli(sessions, "CONFIG", "GET", "maxmemory-policy").splitlines()[1] == "noeviction"
    assert cli(cache, "CONFIG", "GET", "maxmemory-policy").splitlines()[1] == "allkeys-lru"
    assert cli(cache, "CONFIG", "GET", "appendonly").splitlines()[1] == "no"
    summary = fill(sessions, cache)
    assert "errors: 0" in summary  # the cache made room by evicting its own entries
    assert db_size(sessions, 0) == SESSIONS
    assert 0 < db_size(cache, 1) < CACHE_ENTRIES
    assert int(info(cache, "stats")["evicted_keys"]) > 0
    assert int(info(sessions, "stats")["evicted_keys"]) == 0
    # the cache's replica has what its master kept, the sessions' replicas every session
    assert cli(cache, "WAIT", "1", "5000") == "1"
    assert db_size(split.cache[1].port, 1) == db_size(cache, 1)


def test_split_acl_keeps_each_role_on_its_own_group(split: LocalTopology) -> None:
    cache = split.cache[0].port
    app = ("app", live_password("APP_PASSWORD"))
    role = ("cache", live_password("CACHE_PASSWORD"))
    assert cli_as(*app, split.redis[0].port, "SET", "session:s1", "u1", "EX", "60") == "OK"
    # no such user there: its login fails and the write is refused
    assert cli(cache, "ACL", "GETUSER", "app") == ""
    assert "NOAUTH" in cli_as(*app, cache, "SET", "session:s1", "u1", "EX", "60")
    assert cli_as(*role, cache, "-n", "1", "SET", "cache:svc:k", "v", "EX", "60") == "OK"
    # nor the cache role on the sessions' group (its noeviction memory is for sessions)
    assert cli(split.redis[0].port, "ACL", "GETUSER", "cache") == ""
    assert "NOAUTH" in cli_as(*role, split.redis[0].port, "-n", "1", "SET", "cache:svc:k", "v")


def test_one_sentinel_set_monitors_both_and_fails_over_the_cache_only(
    split: LocalTopology,
) -> None:
    for sentinel in split.sentinels:
        masters = cli(sentinel.port, "SENTINEL", "MASTERS")
        assert SESSIONS_SET in masters and CACHE_MASTER_SET in masters, masters
        assert split.probe("sessions-session-database-sentinel", sentinel, "readinessProbe")
    sessions_master = split.agreed_master_of(SESSIONS_SET)
    assert sessions_master == f"127.0.0.1:{split.redis[0].port}"
    assert split.agreed_master_of(CACHE_MASTER_SET) == f"127.0.0.1:{split.cache[0].port}"
    endpoint = LocalEndpoint.of(split)
    try:
        endpoint.start(split)
        assert endpoint.serving() == f"127.0.0.1:{split.redis[0].port}"
        wait_for(
            lambda: endpoint.serving(endpoint.cache_port) == f"127.0.0.1:{split.cache[0].port}",
            "the cache frontend routes to the cache master",
        )
        split.cache[0].kill()
        promoted = f"127.0.0.1:{split.cache[1].port}"
        wait_for(
            lambda: split.agreed_master_of(CACHE_MASTER_SET) == promoted,
            "the Sentinels promote the cache replica",
        )
        wait_for(
            lambda: endpoint.serving(endpoint.cache_port) == f"127.0.0.1:{split.cache[1].port}",
            "the cache frontend follows the failover",
        )
        # the sessions' set was left alone: same master, never failed over
        assert split.agreed_master_of(SESSIONS_SET) == sessions_master
        assert info(split.redis[0].port, "replication")["role"] == "master"
        assert endpoint.serving() == f"127.0.0.1:{split.redis[0].port}"
        for sentinel in split.sentinels:
            state = cli(sentinel.port, "SENTINEL", "MASTER", SESSIONS_SET).splitlines()
            assert state[state.index("config-epoch") + 1] == "0", state
    finally:
        endpoint.stop()
