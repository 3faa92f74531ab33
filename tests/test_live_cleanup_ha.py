"""The session cleanup job on the rendered production HA topology (3 data pods, 3 Sentinels):
it finds the master through the Sentinels, and a run that a failover interrupts either
completes or fails cleanly (one summary line, exit 1), and the next run finishes the work."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.live.jobs import admin, job_command, pipeline, server_ms, session_commands
from tests.live.topology import LocalTopology, acknowledged, wait_for

pytestmark = pytest.mark.live

USERS, PER_USER, LIMIT = 3000, 8, 5
HOUR_MS = 3_600_000


def _master_port(local: LocalTopology) -> int:
    wait_for(lambda: local.agreed_master() is not None, "the Sentinels to agree on a master", 60)
    agreed = local.agreed_master()
    assert agreed
    return int(agreed.rsplit(":", 1)[1])


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
    new = _master_port(topology)
    # the next run, through the Sentinels, finishes the work
    command, env = job_command(topology, "session-cleanup", new, sentinel)
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"master=127.0.0.1:{new}" in result.stdout
    assert _over_limit(new) == 0
    with admin(new) as conn:
        # every user kept exactly its newest LIMIT sessions, and their keys
        sample = [f"u{user}" for user in range(0, USERS, 97)]
        for uid in sample:
            kept = conn.call("ZRANGE", f"user:{uid}:sessions", 0, -1)
            assert kept == [f"{uid}-{i}" for i in range(PER_USER - LIMIT, PER_USER)], uid
            assert conn.call("EXISTS", *[f"session:{sid}" for sid in kept]) == LIMIT
        assert conn.call("GET", "maintenance:session-cleanup:failures") == "0"
