"""The cleanup CronJobs' scripts, run exactly as the chart ships them (their ConfigMap, their
container's env, the `cleanup` ACL user of the rendered users.acl) against real redis-server 7
on 127.0.0.1, on data written in the data contract's shapes (chart README, Data contract)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.security.resp import Resp
from tests.conftest import CHART, install_values
from tests.live.jobs import (
    admin,
    cache_commands,
    job_command,
    pipeline,
    run_job,
    server_ms,
    session_commands,
    snapshot,
)
from tests.live.ports import free_port
from tests.live.topology import LocalTopology, cli_as, live_password, require_binaries

pytestmark = pytest.mark.live

SESSIONS_DB, CACHE_DB = 0, 1
MAX_SESSIONS, MAX_REFRESH = 5, 3  # the spec's limits, as development renders them
CACHE_MAX, CACHE_BATCH = 40, 7  # small, so that trimming takes several batches
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTopology]:
    """Development's standalone data pod, booted from the chart with a small cache limit."""
    require_binaries()
    extra = install_values(
        "development",
        {"cache": {"maxEntriesPerService": CACHE_MAX, "cleanupBatchSize": CACHE_BATCH}},
    )
    objects = helm.render(CHART, "development", extra=extra)
    local = LocalTopology(tmp_path_factory.mktemp("cleanup"), objects)
    local.build(replicas=1, sentinels=0)
    local.start_redis(0)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def conn(server: LocalTopology) -> Iterator[Resp]:
    connection = admin(server.redis[0].port)
    connection.call("FLUSHALL")
    try:
        yield connection
    finally:
        connection.close()


# the host's /bin/sh (dash) and coreutils, and BusyBox's sh and applets (the Alpine image's)
SHELLS = ["dash", "busybox"]


def sessions_job(server: LocalTopology, shell: str = "dash", **env: str) -> Any:
    port = server.redis[0].port
    return run_job(server, "session-cleanup", port, env=env, busybox=shell == "busybox")


def cache_job(server: LocalTopology, shell: str = "dash", **env: str) -> Any:
    port = server.redis[0].port
    return run_job(server, "cache-cleanup", port, env=env, busybox=shell == "busybox")


def members(conn: Resp, key: str, db: int = SESSIONS_DB) -> list[str]:
    conn.call("SELECT", db)
    found: list[str] = conn.call("ZRANGE", key, 0, -1)
    conn.call("SELECT", 0)
    return found


def exists(conn: Resp, key: str, db: int = SESSIONS_DB) -> bool:
    conn.call("SELECT", db)
    found: bool = conn.call("EXISTS", key) == 1
    conn.call("SELECT", 0)
    return found


def seed_sessions(conn: Resp) -> int:
    """Users within and over their limits, with expired and gone index entries; returns now."""
    now = server_ms(conn)
    commands: list[list[str | int]] = []
    # within the limit: 3 live sessions, 2 refresh tokens
    for i in range(3):
        commands += session_commands("within", f"w{i}", now + (i + 1) * HOUR_MS, HOUR_MS * 2)
    for i in range(2):
        commands += session_commands("within", f"wr{i}", now + HOUR_MS, HOUR_MS * 2, "refresh")
    # over the limit: 8 live sessions (expiring in order), 5 refresh tokens
    for i in range(8):
        commands += session_commands("over", f"o{i}", now + (i + 1) * 60_000, HOUR_MS)
    for i in range(5):
        commands += session_commands("over", f"or{i}", now + (i + 1) * 60_000, HOUR_MS, "refresh")
    # stale: 2 live, 2 expired entries (score past, key gone), 1 gone early (evicted or deleted)
    for i in range(2):
        commands += session_commands("stale", f"s{i}", now + HOUR_MS, HOUR_MS)
    for i in range(2):
        commands += session_commands("stale", f"x{i}", now - (i + 1) * 60_000, None)
    commands += session_commands("stale", "gone", now + HOUR_MS, None)
    # over the limit only by counting dead entries: 5 live + 3 gone; no live one may go
    for i in range(5):
        commands += session_commands("dead", f"d{i}", now + (i + 1) * 60_000, HOUR_MS)
    for i in range(3):
        commands += session_commands("dead", f"dg{i}", now + (i + 10) * 60_000, None)
    replies = pipeline(conn, commands)
    assert not [r for r in replies if isinstance(r, Exception)]
    return now


def assert_cleaned(conn: Resp, before: dict[str, Any]) -> None:
    """What seed_sessions' data must look like after the cleanup."""
    # within the limits: untouched
    for key in ("user:within:sessions", "user:within:refresh"):
        assert members(conn, key) == list(before[key][::2])
    assert all(exists(conn, f"session:w{i}") for i in range(3))
    # over: the newest MAX remain, the oldest are gone from the index and deleted
    assert members(conn, "user:over:sessions") == [f"o{i}" for i in range(3, 8)]
    assert members(conn, "user:over:refresh") == [f"or{i}" for i in range(2, 5)]
    assert not any(exists(conn, f"session:o{i}") for i in range(3))
    assert all(exists(conn, f"session:o{i}") for i in range(3, 8))
    assert not any(exists(conn, f"refresh:or{i}") for i in range(2))
    # expired and gone entries out; live ones kept, even where dead entries made the count high
    assert members(conn, "user:stale:sessions") == ["s0", "s1"]
    assert members(conn, "user:dead:sessions") == [f"d{i}" for i in range(5)]
    assert all(exists(conn, f"session:d{i}") for i in range(5))


@pytest.mark.parametrize("shell", SHELLS)
def test_session_cleanup_enforces_the_contract(
    server: LocalTopology, conn: Resp, shell: str
) -> None:
    seed_sessions(conn)
    before = snapshot(conn, SESSIONS_DB)
    run = sessions_job(server, shell)
    assert run.returncode == 0, run.stdout + run.stderr
    summary = run.summary
    assert summary["job"] == "session-cleanup" and summary["status"] == "ok", run.stdout
    # 2 expired; 1 + 3 gone; over the limit: 3 sessions and 2 refresh tokens of "over"
    assert (summary["expired"], summary["gone"], summary["over_limit"]) == ("2", "4", "5")
    assert summary["keys_deleted"] == "5" and summary["removed"] == "11"

    assert_cleaned(conn, before)

    # the run's record, for the monitoring
    conn.call("SELECT", SESSIONS_DB)
    record = {
        field: conn.call("GET", f"cleanup:result:sessions:{field}")
        for field in ("last_run", "last_success", "removed", "failures", "duration_seconds")
    }
    assert record["removed"] == "11" and record["failures"] == "0"
    assert int(record["last_success"]) == int(record["last_run"]) >= server_ms(conn) // 1000 - 60

    # a second run changes nothing but its own record
    after = snapshot(conn, SESSIONS_DB)
    again = sessions_job(server, shell)
    assert again.returncode == 0 and again.summary["removed"] == "0", again.stdout
    unchanged = snapshot(conn, SESSIONS_DB)
    data = {k: v for k, v in after.items() if not k.startswith("cleanup:result:")}
    assert {k: v for k, v in unchanged.items() if not k.startswith("cleanup:result:")} == data


@pytest.mark.parametrize("shell", SHELLS)
def test_cache_cleanup_keeps_the_most_recently_used(
    server: LocalTopology, conn: Resp, shell: str
) -> None:
    now = server_ms(conn)
    conn.call("SELECT", CACHE_DB)
    commands: list[list[str | int]] = []
    # alpha: 100 entries, last used in shuffled order; every 10th one already expired
    order = [(i * 37) % 100 for i in range(100)]
    for i, key in enumerate(order):
        ttl = None if key % 10 == 0 else 3600
        commands += cache_commands("alpha", f"k{key}", now - (100 - i) * 1000, ttl)
    # beta: within the limit; one gone entry
    for i in range(20):
        commands += cache_commands("beta", f"b{i}", now - i * 1000, None if i == 3 else 3600)
    replies = pipeline(conn, commands)
    assert not [r for r in replies if isinstance(r, Exception)]
    alive = [f"k{key}" for key in order if key % 10]
    conn.call("SELECT", 0)

    run = cache_job(server, shell)
    assert run.returncode == 0, run.stdout + run.stderr
    summary = run.summary
    assert (summary["services"], summary["gone"], summary["evicted"]) == ("2", "11", "50")
    # alpha: the CACHE_MAX most recently used live entries, in their order; the rest deleted
    assert members(conn, "cache:alpha:index", CACHE_DB) == alive[-CACHE_MAX:]
    assert all(exists(conn, f"cache:alpha:{k}", CACHE_DB) for k in alive[-CACHE_MAX:])
    assert not any(exists(conn, f"cache:alpha:{k}", CACHE_DB) for k in alive[:-CACHE_MAX])
    # beta: only its gone entry left the index
    assert len(members(conn, "cache:beta:index", CACHE_DB)) == 19
    assert all(exists(conn, f"cache:beta:b{i}", CACHE_DB) for i in range(20) if i != 3)

    conn.call("SELECT", CACHE_DB)
    assert conn.call("GET", "cleanup:result:cache:removed") == "61"
    conn.call("SELECT", 0)
    before = snapshot(conn, CACHE_DB)
    again = cache_job(server, shell)
    assert again.returncode == 0 and again.summary["removed"] == "0", again.stdout
    assert {k: v for k, v in snapshot(conn, CACHE_DB).items() if "cleanup:result:" not in k} == {
        k: v for k, v in before.items() if "cleanup:result:" not in k
    }


def test_a_run_alongside_writes_loses_no_live_session(server: LocalTopology, conn: Resp) -> None:
    """While the cleanup trims 300 over-limit users, 20 users log in and renew sessions within
    their limit (the contract's MULTI blocks); every session they hold at the end survives."""
    now = server_ms(conn)
    garbage: list[list[str | int]] = []
    for user in range(300):
        for i in range(MAX_SESSIONS + 4):
            garbage += session_commands(f"g{user}", f"g{user}-{i}", now + (i + 1) * 60_000, HOUR_MS)
    pipeline(conn, garbage)

    port = server.redis[0].port
    held: dict[str, list[str]] = {f"live{u}": [] for u in range(20)}
    stop = threading.Event()
    errors: list[Exception] = []

    def writer() -> None:
        try:
            with admin(port) as client:
                n = 0
                while not stop.is_set():
                    for uid, sids in held.items():
                        n += 1
                        expiry = server_ms(client) + HOUR_MS
                        if len(sids) < MAX_SESSIONS:  # log in
                            sid = f"{uid}-{n}"
                            pipeline(client, session_commands(uid, sid, expiry, HOUR_MS))
                            sids.append(sid)
                        else:  # renew the oldest (ZADD XX: never re-adds a removed entry)
                            sid = sids[n % len(sids)]
                            pipeline(
                                client,
                                [
                                    ["MULTI"],
                                    ["PEXPIRE", f"session:{sid}", HOUR_MS],
                                    ["ZADD", f"user:{uid}:sessions", "XX", expiry, sid],
                                    ["EXEC"],
                                ],
                            )
        except Exception as exc:  # reported by the test
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        run = sessions_job(server, "busybox", BATCH_SIZE="50")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.summary["over_limit"] == str(300 * 4), run.stdout
    for uid, sids in held.items():
        assert sids, "the writer wrote nothing"
        assert sorted(members(conn, f"user:{uid}:sessions")) == sorted(sids), uid
        assert all(exists(conn, f"session:{sid}") for sid in sids), uid


def test_two_runs_at_once_end_as_one(server: LocalTopology, conn: Resp) -> None:
    """Forbid keeps a CronJob to one run, but a manual run or a late pod may overlap: two runs
    at once both succeed and leave exactly what one run leaves."""
    seed_sessions(conn)
    before = snapshot(conn, SESSIONS_DB)
    command, env = job_command(server, "session-cleanup", server.redis[0].port, busybox=True)
    runs = [
        subprocess.Popen(command, env={**env, "BATCH_SIZE": "1"}, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    # each entry removed once, by one of them
    assert sum(int(o.split(" removed=")[-1].split()[0]) for o in outputs) == 11, outputs
    assert_cleaned(conn, before)


def test_cleanup_user_may_not_write_data(server: LocalTopology) -> None:
    """Least privilege: the cleanup identity removes, it never writes a session or a cache
    value; of all writes it may only SET its own record."""
    port, password = server.redis[0].port, live_password("CLEANUP_PASSWORD")
    for command in (
        ("SET", "session:forged", "x"),
        ("HSET", "session:forged", "uid", "admin"),
        ("SET", "refresh:forged", "x"),
        ("SET", "cleanup:result:sessions:other", "1"),
        ("EVAL", "return 1", "0"),
        ("KEYS", "*"),
    ):
        assert "NOPERM" in cli_as("cleanup", password, port, *command), command
    record = "cleanup:result:sessions:failures"
    assert cli_as("cleanup", password, port, "SET", record, "0") == "OK"


def test_a_run_without_a_server_fails_cleanly(server: LocalTopology) -> None:
    run = run_job(server, "session-cleanup", free_port())
    assert run.returncode == 1
    assert run.summary["status"] == "failed" and "reason" in run.summary, run.stdout
    assert "Traceback" not in run.stderr
