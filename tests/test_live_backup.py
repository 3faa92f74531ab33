"""Backup, restore and helm test, run exactly as the chart ships them (scripts from the rendered
ConfigMaps, env of the rendered containers, the ACL users they use) against real redis-server
and redis-sentinel on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from tests.conftest import CHART, FAST_FAILOVER
from tests.live.operations import FULLNAME, Job, Resp, snapshot, summary
from tests.live.ports import free_port
from tests.live.tls import issue, make_ca
from tests.live.topology import (
    ADMIN,
    LocalTopology,
    acknowledged,
    cli,
    info,
    online_replicas,
    require_binaries,
    running,
    wait_for,
)

pytestmark = pytest.mark.live

SESSIONS, REFRESH, USERS, CACHE = 1500, 600, 300, 2000


def _objects(**extra: Any) -> list[helm.RenderedObject]:
    return helm.render(
        CHART, "production", extra={**FAST_FAILOVER, "tls": {"enabled": False}, **extra}
    )


def _write_data(port: int) -> None:
    """Sessions, refresh tokens and per-user indexes in DB 0, cache entries and their
    per-service index in DB 1, with TTLs as the data contract has them."""
    client = Resp(port)
    commands: list[tuple[str, ...]] = [("SELECT", "0")]
    for i in range(SESSIONS):
        commands.append(("HSET", f"session:s{i}", "user", f"u{i % USERS}", "created", str(i)))
        commands.append(("PEXPIRE", f"session:s{i}", str(3_600_000 - i * 1000)))
    for i in range(REFRESH):
        commands.append(("SET", f"refresh:r{i}", f"u{i % USERS}", "EX", "604800"))
    for u in range(USERS):
        commands.append(("ZADD", f"user:u{u}:sessions", str(1000 + u), f"s{u}", "2000", f"x{u}"))
    commands.append(("SELECT", "1"))
    for i in range(CACHE):
        commands.append(("SET", f"cache:svc{i % 5}:k{i}", f"v{i}", "EX", str(86_400 - i)))
    for s in range(5):
        commands.append(("ZADD", f"cache:svc{s}:index", "1", "k1", "2", "k2"))
    try:
        replies = client.send(commands)
    finally:
        client.close()
    assert not [r for r in replies if isinstance(r, Exception)], "a write failed"


def _same_data(
    got: dict[tuple[int, bytes], tuple[Any, ...]],
    expected: dict[tuple[int, bytes], tuple[Any, ...]],
    elapsed_ms: int,
) -> None:
    missing, extra = expected.keys() - got.keys(), got.keys() - expected.keys()
    assert not missing and not extra, f"missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"
    for key, (kind, value, ttl) in expected.items():
        got_kind, got_value, got_ttl = got[key]
        assert (got_kind, got_value) == (kind, value), key
        if ttl < 0:
            assert got_ttl == ttl, key
        else:  # the expiry is absolute: kept, less the time that passed
            assert ttl - elapsed_ms - 1000 <= got_ttl <= ttl, (key, ttl, got_ttl)


def _backup_of_a_live_release(
    tmp_path: Path, backups: Path
) -> tuple[dict[tuple[int, bytes], tuple[Any, ...]], float, str]:
    """Boot the release, write the data set, run the backup job as shipped; then write more
    (in every pod's AOF, not in the backup). Returns the data, when it was read, the file."""
    old = LocalTopology(tmp_path / "old", _objects())
    redis_conf = old._object("ConfigMap", f"{FULLNAME}-redis")["data"]["redis.conf"]
    assert "appendonly yes" in redis_conf, "the case under test: AOF on"
    old.build(replicas=3, sentinels=3)
    with running(old):
        master = old.redis[0]
        wait_for(lambda: online_replicas(master.port) == 2, "two replicas online")
        _write_data(master.port)
        assert acknowledged(master.port, 2)
        expected = snapshot(master.port, (0, 1))
        taken = time.monotonic()
        assert len(expected) == SESSIONS + REFRESH + USERS + CACHE + 5

        backup = Job(old, "CronJob", f"{FULLNAME}-backup", tmp_path / "backup-job")
        env = backup.env(SENTINEL_PORT=str(old.sentinels[0].port), BACKUP_DIR=str(backups))
        result = backup.run(env)
        assert result.returncode == 0, result.stdout + result.stderr
        line = summary(result.stdout, "backup:")
        print(f"\n{result.stdout.strip()}")
        replica_ports = {str(p.port) for p in old.redis[1:]}
        assert line["status"] == "ok" and line["role"] == "replica", line
        assert line["source"].split(":")[1] in replica_ports, line
        assert int(line["keys"]) == len(expected), line
        assert (backups / line["file"]).stat().st_size == int(line["bytes"])

        # Writes after the backup land in every pod's AOF; the restore must drop them.
        assert cli(master.port, "-n", "0", "SET", "session:after-backup", "x") == "OK"
        assert cli(master.port, "-n", "1", "SET", "cache:after-backup", "x") == "OK"
        assert acknowledged(master.port, 2)
    return expected, taken, line["file"]


def test_backup_then_restore_into_an_ha_topology_with_aof_on(tmp_path: Path) -> None:
    require_binaries()
    backups = tmp_path / "backups"
    backups.mkdir()
    expected, taken, file = _backup_of_a_live_release(tmp_path, backups)

    # The same volumes (each pod's data folder, AOF included) under a release that restores.
    new = LocalTopology(tmp_path / "new", _objects(restore={"fromBackup": file, "id": "r1"}))
    new.build(replicas=3, sentinels=3)
    for i in range(3):
        shutil.copytree(
            tmp_path / f"old/redis-{i}/data", tmp_path / f"new/redis-{i}/data", dirs_exist_ok=True
        )
    assert (tmp_path / "new/redis-0/data/appendonlydir").is_dir()

    restore = Job(new, "Job", f"{FULLNAME}-restore", tmp_path / "restore-job")
    data0 = tmp_path / "new/redis-0/data"
    restore_env = restore.env(
        REDIS_PORT=str(new.redis[0].port),
        SENTINEL_PORT=str(new.sentinels[0].port),
        BACKUP_DIR=str(backups),
        DATA_DIR=str(data0),
    )
    staged = restore.run(restore_env)
    assert staged.returncode == 0, staged.stdout + staged.stderr
    assert "status=staged" in staged.stdout
    again = restore.run(restore_env)
    assert again.returncode == 0 and "status=skipped" in again.stdout, again.stdout

    started = time.monotonic()
    with running(new):
        master = new.redis[0]
        assert info(master.port, "replication")["role"] == "master"
        wait_for(lambda: online_replicas(master.port) == 2, "two replicas resynced from pod 0")
        wait_for(
            lambda: new.agreed_master() == f"127.0.0.1:{master.port}",
            "every Sentinel names pod 0",
        )
        print(f"restored release in sync, Sentinels following: {time.monotonic() - started:.1f}s")
        elapsed = int((time.monotonic() - taken) * 1000)
        for pod in new.redis:
            wait_for(
                lambda p=pod: info(p.port, "replication").get("master_link_status", "up") == "up",
                f"{pod.name} in sync",
            )
            _same_data(snapshot(pod.port, (0, 1)), expected, elapsed)
        assert info(master.port, "persistence")["aof_enabled"] == "1"
        # once per id: the marker stays, the staged file is gone
        assert (data0 / "restore-r1.done").is_file()
        assert not (data0 / "restore-r1.rdb").exists()
        # a restore while the release runs is refused, naming why
        running_env = {**restore_env, "RESTORE_ID": "r2"}
        refused = restore.run(running_env)
        assert refused.returncode == 1, refused.stdout
        assert "reason=data-pod-running" in refused.stdout + refused.stderr
        assert not (data0 / "restore-r2.rdb").exists()


def test_backup_keeps_the_newest_and_restore_refuses_a_corrupt_file(
    topology: LocalTopology, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    backup = Job(topology, "CronJob", f"{FULLNAME}-backup", tmp_path / "backup-job")
    env = backup.env(
        SENTINEL_PORT=str(topology.sentinels[0].port), BACKUP_DIR=str(backups), BACKUP_KEEP="2"
    )
    names = []
    for _ in range(3):
        result = backup.run(env)
        assert result.returncode == 0, result.stdout + result.stderr
        names.append(summary(result.stdout, "backup:")["file"])
        time.sleep(1.1)  # the file names are per second
    assert sorted(p.name for p in backups.glob("backup-*.rdb")) == names[1:]
    assert summary(result.stdout, "backup:")["removed"] == "1"

    local = LocalTopology(
        tmp_path / "render", _objects(restore={"fromBackup": "corrupt.rdb", "id": "c1"})
    )
    restore = Job(local, "Job", f"{FULLNAME}-restore", tmp_path / "restore-job")
    data = tmp_path / "data0"
    data.mkdir()
    env = restore.env(
        REDIS_PORT=str(free_port()),
        SENTINEL_PORT=str(free_port()),
        BACKUP_DIR=str(backups),
        DATA_DIR=str(data),
    )
    good = backups / names[-1]
    corrupt = bytearray(good.read_bytes())
    corrupt[len(corrupt) // 2] ^= 0xFF
    (backups / "corrupt.rdb").write_bytes(bytes(corrupt))
    # with the checksum the backup wrote beside it
    checksum = (backups / f"{names[-1]}.sha256").read_text().replace(names[-1], "corrupt.rdb")
    (backups / "corrupt.rdb.sha256").write_text(checksum)
    refused = restore.run(env)
    assert refused.returncode == 1 and "reason=checksum-mismatch" in refused.stderr, refused
    # without one, redis-check-rdb finds the damage
    (backups / "corrupt.rdb.sha256").unlink()
    refused = restore.run(env)
    assert refused.returncode == 1 and "reason=redis-check-rdb-failed" in refused.stderr, refused
    (backups / "corrupt.rdb").write_bytes(good.read_bytes()[:-20])  # truncated
    refused = restore.run(env)
    assert refused.returncode == 1 and "reason=redis-check-rdb-failed" in refused.stderr, refused
    assert list(data.iterdir()) == [], "nothing staged"
    # the intact file is accepted
    shutil.copy(good, backups / "corrupt.rdb")
    assert restore.run(env).returncode == 0


def _cache_port(topology: LocalTopology, sessions_port: int) -> str:
    """Where the cache's endpoint leads: the cache group's master (production's split layout),
    else the sessions' master."""
    if not topology.cache:
        return str(sessions_port)
    cache_set = topology.sentinels[0].env["CACHE_MASTER_SET"]
    wait_for(lambda: topology.agreed_master_of(cache_set) is not None, "the cache's master")
    agreed = topology.agreed_master_of(cache_set)
    assert agreed is not None
    return agreed.rsplit(":", 1)[1]


def _helm_test(job: Job, topology: LocalTopology, port: int) -> subprocess.CompletedProcess[str]:
    env = job.env(
        REDIS_PORT=str(port),
        CACHE_PORT=_cache_port(topology, port),
        SENTINEL_PORT=str(topology.sentinels[0].port),
    )
    return job.run(env)


def test_helm_test_passes_on_the_release_and_fails_on_a_broken_one(
    topology: LocalTopology, tmp_path: Path
) -> None:
    job = Job(topology, "Pod", f"{FULLNAME}-test", tmp_path / "test-pod")
    master, replica = topology.redis[0], topology.redis[1]
    wait_for(lambda: online_replicas(master.port) == 2, "two replicas online")
    wait_for(lambda: topology.agreed_master() is not None, "Sentinels agree")
    table = (job.scripts / "role-checks").read_text().split("\n")
    checks = [line for line in table if line.strip()]
    result = _helm_test(job, topology, master.port)
    assert result.returncode == 0, result.stdout
    line = summary(result.stdout, "helm-test:")
    # endpoint, Sentinel, replica count, one lag line per replica, every role check
    assert line == {"status": "ok", "passed": str(3 + 2 + len(checks)), "failed": "0"}, line
    for role in ("app", "cache", "cleanup", "monitor", "backup"):
        assert f"ok   {role}: " in result.stdout

    # a role with a wrong password
    (job.auth / "APP_PASSWORD").write_text("not-the-password")
    result = _helm_test(job, topology, master.port)
    assert result.returncode == 1
    assert (
        "FAIL app: EXISTS session:chartgen-helm-test -> error: AUTH failed: WRONGPASS"
        in result.stdout
    )
    (job.auth / "APP_PASSWORD").write_text("app-password-live")

    # a role granted more than the spec says
    assert cli(master.port, "ACL", "SETUSER", "monitor", "+config|get") == "OK"
    try:
        result = _helm_test(job, topology, master.port)
        assert result.returncode == 1
        assert "FAIL monitor: CONFIG GET maxmemory -> ok (expected denied)" in result.stdout
    finally:
        assert cli(master.port, "ACL", "SETUSER", "monitor", "-config|get") == "OK"

    # an endpoint that serves a replica
    result = _helm_test(job, topology, replica.port)
    assert result.returncode == 1
    assert "FAIL endpoint" in result.stdout
    assert ADMIN not in (job.scripts / "role-checks").read_text()


def test_helm_test_and_backup_over_tls(tmp_path: Path) -> None:
    require_binaries()
    local = LocalTopology(tmp_path, helm.render(CHART, "production", extra=FAST_FAILOVER))
    assert local.tls, "production renders with TLS on"
    make_ca(tmp_path)
    issue(local.tls_dir, serial=3003)
    local.build(replicas=3, sentinels=3)
    with running(local):
        master = local.redis[0]
        wait_for(lambda: online_replicas(master.port) == 2, "two replicas online")
        wait_for(lambda: local.agreed_master() is not None, "Sentinels agree")
        job = Job(local, "Pod", f"{FULLNAME}-test", tmp_path / "test-pod")
        env = job.env(
            REDIS_PORT=str(master.port),
            CACHE_PORT=_cache_port(local, master.port),
            SENTINEL_PORT=str(local.sentinels[0].port),
        )
        assert env["TLS_DIR"] == str(local.tls_dir)
        result = job.run(env)
        assert result.returncode == 0, result.stdout
        assert summary(result.stdout, "helm-test:")["status"] == "ok"
        # without TLS the servers answer nothing: every check fails
        plain = job.run({k: v for k, v in env.items() if k != "TLS_DIR"})
        assert plain.returncode == 1 and "FAIL endpoint" in plain.stdout

        backups = tmp_path / "backups"
        backups.mkdir()
        backup = Job(local, "CronJob", f"{FULLNAME}-backup", tmp_path / "backup-job")
        env = backup.env(SENTINEL_PORT=str(local.sentinels[0].port), BACKUP_DIR=str(backups))
        result = backup.run(env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert summary(result.stdout, "backup:")["role"] == "replica"
