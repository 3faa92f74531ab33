"""What real Redis evicts when cache writes fill memory past maxmemory, policy by policy, against
what the eviction-policy rule says: the single-group layout loses sessions under every policy the
rule warns about, and none under noeviction (where cache writes are refused instead)."""

from __future__ import annotations

import copy
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chartgen.engines import helm
from chartgen.topology.resolve import resolve
from chartgen.topology.resource_rules import eviction_policy
from tests.conftest import CHART, SPEC, install_values
from tests.live.topology import ADMIN, ADMIN_PASSWORD, LocalTopology, cli, require_binaries

pytestmark = pytest.mark.live

SESSIONS = 400
CACHE_ENTRIES = 6000  # of about 1 KiB: far more than maxmemory holds
MAXMEMORY = "3mb"


def _command(*words: str) -> bytes:
    """One command in RESP, for redis-cli --pipe."""
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        raw = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(parts)


def pipe(port: int, commands: bytes) -> str:
    """Send a batch through redis-cli --pipe; its summary line ("errors: N, replies: M")."""
    result = subprocess.run(
        ["redis-cli", "--user", ADMIN, "-h", "127.0.0.1", "-p", str(port), "--pipe"],
        input=commands,
        capture_output=True,
        timeout=60,
        check=False,
        env={**os.environ, "REDISCLI_AUTH": ADMIN_PASSWORD},
    )
    return result.stdout.decode(errors="replace").strip().splitlines()[-1]


def db_size(port: int, db: int) -> int:
    return int(cli(port, "-n", str(db), "DBSIZE"))


def rule_message(policy: str) -> str | None:
    spec = copy.deepcopy(resolve(SPEC).base)
    spec["redis"]["config"]["maxmemoryPolicy"] = policy
    findings = [message for _, message in eviction_policy(spec)]
    return findings[0] if findings else None


Fill = Callable[[str], tuple[int, int, str]]


@pytest.fixture
def fill(tmp_path: Path) -> Iterator[Fill]:
    """Boot development's standalone server with a small maxmemory and `policy`, write the
    sessions (DB 0), then far more cache entries (DB 1) than fit; (sessions left, cache entries
    left, the cache batch's summary)."""
    require_binaries()
    started: list[LocalTopology] = []

    def run(policy: str) -> tuple[int, int, str]:
        config = {"maxmemory": MAXMEMORY, "maxmemoryPolicy": policy}
        extra = install_values("development", {"redis": {"config": config}})
        local = LocalTopology(tmp_path / policy, helm.render(CHART, "development", extra=extra))
        local.build(replicas=1, sentinels=0)
        started.append(local)
        local.start_redis(0)
        port = local.redis[0].port
        assert cli(port, "CONFIG", "GET", "maxmemory-policy").splitlines()[1] == policy
        sessions = b"".join(
            _command("SET", f"session:{i}", f"user-{i}", "EX", "3600") for i in range(SESSIONS)
        )
        assert "errors: 0" in pipe(port, _command("SELECT", "0") + sessions)
        # the application keeps reading the cache, not the idle sessions
        value = "v" * 1000
        cache = b"".join(
            _command("SET", f"cache:svc:{i}", value, "EX", "86400") for i in range(CACHE_ENTRIES)
        )
        summary = pipe(port, _command("SELECT", "1") + cache)
        return db_size(port, 0), db_size(port, 1), summary

    yield run
    for local in started:
        local.stop()


def test_noeviction_keeps_every_session_and_refuses_cache_writes(fill: Fill) -> None:
    assert rule_message("noeviction") is None
    sessions, cached, summary = fill("noeviction")
    assert sessions == SESSIONS
    assert 0 < cached < CACHE_ENTRIES
    assert "errors: 0" not in summary  # the writes past maxmemory were answered OOM


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-lru"])
def test_lru_policies_evict_idle_sessions_for_cache_entries(fill: Fill, policy: str) -> None:
    message = rule_message(policy)
    assert message is not None
    assert "session" in message
    sessions, cached, summary = fill(policy)
    assert "errors: 0" in summary  # nothing refused: room was made by evicting
    assert sessions < SESSIONS / 2, f"{policy} kept {sessions} of {SESSIONS} sessions"
    assert cached > 0


def test_volatile_ttl_evicts_sessions_before_cache_entries(fill: Fill) -> None:
    message = rule_message("volatile-ttl")
    assert message is not None
    assert "sessions (TTL 3600 s) go before cache entries (TTL 86400 s)" in message
    sessions, cached, _ = fill("volatile-ttl")
    # every session went while cache entries (written later, longer TTL) survive
    assert sessions == 0
    assert cached > 0
