"""The cleanup jobs on the rendered production HA topology (3 data pods, 3 Sentinels): they
find the master through the Sentinels (over TLS where production has it on), and a run that a
failover interrupts either completes or fails cleanly (one summary line, exit 1), and the next
run finishes the work."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from chartgen.engines import helm
from tests.conftest import CHART, FAST_FAILOVER
from tests.live.jobs import admin, job_command, pipeline, server_ms, session_commands
from tests.live.prometheus import Processes, scrape, start_exporters
from tests.live.tls import issue, make_ca
from tests.live.topology import (
    ADMIN,
    ADMIN_PASSWORD,
    REDIS_SET,
    LocalTopology,
    acknowledged,
    cli,
    online_replicas,
    require_binaries,
    running,
    tls_args,
    wait_for,
)

pytestmark = pytest.mark.live

USERS, PER_USER, LIMIT = 3000, 8, 5
HOUR_MS = 3_600_000


def _master_port(local: LocalTopology) -> int:
    wait_for(lambda: local.agreed_master() is not None, "the Sentinels to agree on a master", 60)
    agreed = local.agreed_master()
    assert agreed
    return int(agreed.rsplit(":", 1)[1])


def _writable_master(local: LocalTopology) -> int:
    """The agreed master once its replica follows it: it takes writes then (min-replicas-to-write
    1); a run before that fails cleanly on NOREPLICAS, as an interrupted one may."""
    master = _master_port(local)
    wait_for(lambda: online_replicas(master) >= 1, "a replica following the new master")
    return master


def _over_limit(port: int) -> int:
    """Users whose session index is still above the limit (a full SCAN as the admin)."""
    with admin(port) as conn:
        cursor, over = "0", 0
        while True:
            cursor, keys = conn.call("SCAN", cursor, "MATCH", "user:*:sessions", "COUNT", 1000)
            cards = pipeline(conn, [["ZCARD", key] for key in keys]) if keys else []
            over += sum(1 for card in cards if card > LIMIT)
            if cursor == "0":
                return over


def _refused_run_changes_nothing(topology: LocalTopology, master: int, sentinel: int) -> None:
    """A run the master refuses to write for fails cleanly, naming the reply, changing nothing."""
    with admin(master) as conn:
        conn.call("CONFIG", "SET", "min-replicas-to-write", "3")
    command, env = job_command(topology, "session-cleanup", master, sentinel)
    refused = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    with admin(master) as conn:
        conn.call("CONFIG", "SET", "min-replicas-to-write", "1")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert 'reason="error replies"' in refused.stdout, refused.stdout
    assert 'error_reply="NOREPLICAS Not enough good replicas to write."' in refused.stdout
    assert _over_limit(master) == USERS, refused.stdout


def _finishing_run(topology: LocalTopology, sentinel: int) -> int:
    """The run after the failover, through the Sentinels, finishes the work; the master it used.
    On a starved machine FAST_FAILOVER's 1 s down-after can fail the new master over again, or its
    only replica resyncs, under that run: it must then fail cleanly, naming the transient reply,
    and the run after it finishes."""
    for _ in range(3):
        new = _writable_master(topology)
        command, env = job_command(topology, "session-cleanup", new, sentinel)
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        if result.returncode == 0:
            break
        why = result.stdout + "\n".join(
            topology.sentinel_events("+sdown", "+odown", "+switch-master", "+tilt")
        )
        assert "status=failed" in result.stdout, why
        assert re.search(r'error_reply="(READONLY|NOREPLICAS)', result.stdout), why
        wait_for(lambda: topology.agreed_master() is not None, "the Sentinels agreeing", 60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"master=127.0.0.1:{new}" in result.stdout
    return new


def test_cleanup_through_sentinel_survives_a_failover(topology: LocalTopology) -> None:
    master = _master_port(topology)
    with admin(master) as conn:
        now = server_ms(conn)
        commands: list[list[str | int]] = []
        for user in range(USERS):
            for i in range(PER_USER):
                expiry = now + (i + 1) * 60_000
                commands += session_commands(f"u{user}", f"u{user}-{i}", expiry, HOUR_MS)
        pipeline(conn, commands)
    assert acknowledged(master, 2)
    sentinel = topology.sentinels[0].port

    _refused_run_changes_nothing(topology, master, sentinel)

    # a run interrupted by the master's crash
    command, env = job_command(topology, "session-cleanup", master, sentinel)
    env["BATCH_SIZE"] = "100"
    job = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(1.0)
    old = next(pod for pod in topology.redis if pod.port == master)
    old.kill()
    stdout, stderr = job.communicate(timeout=180)
    summary = [line for line in stdout.splitlines() if line.startswith("job=")]
    assert len(summary) == 1, stdout + stderr
    if job.returncode:
        assert "status=failed" in summary[0] and "reason=" in summary[0], summary
    else:
        assert "status=ok" in summary[0], summary
    assert "Traceback" not in stderr

    wait_for(
        lambda: topology.agreed_master() not in (None, f"127.0.0.1:{master}"), "a new master", 60
    )
    new = _finishing_run(topology, sentinel)
    assert _over_limit(new) == 0
    with admin(new) as conn:
        # every user kept exactly its newest LIMIT sessions, and their keys
        sample = [f"u{user}" for user in range(0, USERS, 97)]
        for uid in sample:
            kept = conn.call("ZRANGE", f"user:{uid}:sessions", 0, -1)
            assert kept == [f"{uid}-{i}" for i in range(PER_USER - LIMIT, PER_USER)], uid
            assert conn.call("EXISTS", *[f"session:{sid}" for sid in kept]) == LIMIT
        assert conn.call("GET", "cleanup:result:sessions:failures") == "0"
        finished = int(conn.call("GET", "cleanup:result:sessions:last_success"))

    # What the job recorded is what the monitoring reads: the data pod's exporter sidecar, as
    # rendered (monitor user, its key checks), publishes the record the alerts watch.
    procs = Processes(topology.root)
    try:
        [target] = start_exporters(
            topology,
            procs,
            "session-db",
            [(REDIS_SET, [pod for pod in topology.redis if pod.port == new])],
        )
        wanted = 'redis_key_value{db="db0",key="cleanup:result:sessions:last_success"}'

        def published() -> float | None:
            try:
                lines = scrape(target.port)
            except OSError:
                return None
            return next((float(x.split()[-1]) for x in lines if x.startswith(wanted)), None)

        wait_for(lambda: published() is not None, "the exporter publishing the job's record")
        assert published() == finished
    finally:
        procs.stop()


def test_cache_cleanup_over_tls_through_sentinel(tmp_path: Path) -> None:
    """Production as rendered (TLS on): the cache job, on BusyBox as in the image, asks the
    Sentinels over TLS for the master and trims a service over its limit, checking the servers'
    certificates against the mounted CA only."""
    require_binaries()
    extra = {**FAST_FAILOVER, "cache": {"maxEntriesPerService": 30, "cleanupBatchSize": 8}}
    local = LocalTopology(tmp_path, helm.render(CHART, "production", extra=extra))
    assert local.tls, "production renders with TLS on"
    make_ca(tmp_path)
    issue(local.tls_dir, serial=2001)
    local.build(replicas=3, sentinels=3)
    with running(local):
        # production keeps the cache on a group of its own: the job asks for that set's master
        assert local.cache, "production renders the cache's own group"
        cache_set = local.sentinels[0].env["CACHE_MASTER_SET"]
        wait_for(lambda: local.agreed_master_of(cache_set) is not None, "the cache's master", 60)
        agreed = local.agreed_master_of(cache_set)
        assert agreed is not None
        master = int(agreed.rsplit(":", 1)[1])
        lines = [
            f"SET cache:svc:k{i} v EX 3600\nZADD cache:svc:index {1000 + i} k{i}" for i in range(50)
        ]
        seeded = subprocess.run(
            ["redis-cli", *tls_args(master), "--user", ADMIN, "-p", str(master), "-n", "1"],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={**os.environ, "REDISCLI_AUTH": ADMIN_PASSWORD},
        )
        assert "ERR" not in seeded.stdout, seeded.stdout
        command, env = job_command(local, "cache-cleanup", master, local.sentinels[0].port, True)
        assert env["TLS_DIR"] == str(local.tls_dir)
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "evicted=20" in result.stdout and f"master=127.0.0.1:{master}" in result.stdout
        kept = cli(master, "-n", "1", "ZRANGE", "cache:svc:index", "0", "-1").split()
        assert kept == [f"k{i}" for i in range(20, 50)]
