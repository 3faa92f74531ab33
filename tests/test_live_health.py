"""session-health-check.sh and the backup job's record on the production topology as rendered
(3 session pods, the cache's own 2 pods, 3 Sentinels, TLS on), real redis-server and
redis-sentinel on 127.0.0.1.

The health check runs as the workstation mode runs it: `kubectl exec -i <sentinel pod> -- env
<settings ConfigMap> sh -s < script`, i.e. the generated script on stdin of a shell with a
Sentinel pod's env (its Secret mount, CA, peers and data pod addresses) plus the rendered
settings ConfigMap's data; on the host's sh and on BusyBox's (the Alpine image's)."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chartgen.engines import helm
from tests.conftest import CHART, FAST_FAILOVER, REPO, install_values
from tests.live.jobs import busybox_folder, run_job
from tests.live.operations import FULLNAME, Job, summary
from tests.live.prometheus import Processes, scrape, start_exporters
from tests.live.tls import issue, make_ca
from tests.live.topology import (
    REDIS_SET,
    LocalTopology,
    cli,
    info,
    live_password,
    online_replicas,
    require_binaries,
    running,
    wait_for,
)

pytestmark = pytest.mark.live

SCRIPT = REPO / "generated/scripts/jobHelpers/session-health-check.sh"


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTopology]:
    require_binaries()
    root = tmp_path_factory.mktemp("health")
    local = LocalTopology(root, helm.render(CHART, "production", extra=FAST_FAILOVER))
    assert local.tls, "production renders with TLS on"
    make_ca(root)
    issue(local.tls_dir, serial=3001)
    local.build(replicas=3, sentinels=3)
    with running(local):
        wait_for(lambda: online_replicas(local.redis[0].port) == 2, "two replicas online", 60)
        cache_set = local.sentinels[0].env["CACHE_MASTER_SET"]
        wait_for(lambda: local.agreed_master_of(cache_set) is not None, "the cache's master", 60)
        sets = (local.sentinels[0].env["MASTER_SET"], cache_set)
        wait_for(
            lambda: all(
                cli(s.port, "SENTINEL", "CKQUORUM", name).startswith("OK")
                for s in local.sentinels
                for name in sets
            ),
            "the Sentinels to know each other",
            60,
        )
        yield local


# what the workstation mode passes from the settings ConfigMap (the script's filter)
PASSED = re.compile(
    r"(HEALTH_[A-Z_]+|SESSION_DB|CACHE_DB|CLEANUP_INTERVAL_SECONDS|CACHE_CLEANUP_INTERVAL_SECONDS)"
)


def settings(local: LocalTopology) -> dict[str, str]:
    data: dict[str, str] = local._object("ConfigMap", f"{FULLNAME}-settings")["data"]
    return {key: value for key, value in data.items() if PASSED.fullmatch(key)}


def health(
    local: LocalTopology, *args: str, busybox: bool = False, **extra: str
) -> subprocess.CompletedProcess[str]:
    """The check as `kubectl exec -i` runs it in the first live Sentinel's container."""
    pod = next(p for p in local.sentinels if p.process is not None)
    env = {**pod.env, **settings(local), **extra}
    shell = ["sh"]
    if busybox:
        folder = busybox_folder(local.root)
        env["PATH"] = f"{folder}:{env['PATH']}"
        shell = [str(folder / "sh")]
    started = time.monotonic()
    with open(SCRIPT, "rb") as script:
        result = subprocess.run(
            [*shell, "-s", "--", *args],
            stdin=script,
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
    out = result.stdout.decode() + result.stderr.decode()
    took = time.monotonic() - started
    print(f"\n$ session-health-check.sh {' '.join(args)}  ({took:.1f} s)\n{out}")
    return subprocess.CompletedProcess(result.args, result.returncode, out, "")


def line(output: str, start: str) -> str:
    found = [x for x in output.splitlines() if start in x]
    assert found, f"no line with {start!r} in:\n{output}"
    return found[0]


def baseline(local: LocalTopology) -> None:
    """Both cleanup jobs and a backup recorded their runs: what a healthy release has."""
    run_cleanups(local)
    if cli(master_port(local), "-n", "0", "GET", "backup:result:last_success") == "":
        volume = local.root / "backups-baseline"
        volume.mkdir(exist_ok=True)
        assert run_backup(local, volume)["status"] == "ok"


def run_cleanups(local: LocalTopology) -> None:
    sentinel = local.sentinels[0].port
    for job in ("session-cleanup", "cache-cleanup"):
        run = run_job(local, job, local.redis[0].port, sentinel, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr


def run_backup(local: LocalTopology, folder: Path, busybox: bool = False) -> dict[str, str]:
    job = Job(local, "CronJob", f"{FULLNAME}-backup", local.root / "backup-job")
    env = job.env(SENTINEL_PORT=str(local.sentinels[0].port), BACKUP_DIR=str(folder))
    if busybox:
        bb = busybox_folder(local.root)
        env["PATH"] = f"{bb}:{env['PATH']}"
        job.container["command"] = [str(bb / "sh"), *job.container["command"][1:]]
    result = job.run(env)
    print(result.stdout + result.stderr)
    outcome = summary(result.stdout, "backup:")
    outcome["returncode"] = str(result.returncode)
    outcome["stderr"] = result.stderr
    return outcome


def result_keys(port: int, prefix: str, fields: tuple[str, ...]) -> dict[str, str]:
    return {f: cli(port, "-n", "0", "GET", f"{prefix}:{f}") for f in fields}


def refused(port: int, user: str) -> set[str]:
    """The objects of the ACL LOG entries of `user` (redis-cli's flat --raw listing)."""
    lines = cli(port, "--raw", "ACL", "LOG").splitlines()
    found, entry = set(), {}
    for key, value in zip(lines[::2], lines[1::2], strict=False):
        entry[key] = value
        if key == "client-info":
            if entry.get("username") == user:
                found.add(entry["object"])
            entry = {}
    return found


def master_port(local: LocalTopology) -> int:
    agreed = local.agreed_master()
    assert agreed, "the Sentinels agree on a master"
    return int(agreed.rsplit(":", 1)[1])


FIELDS = ("last_run", "last_success", "bytes", "duration_seconds", "failures")


def test_the_script_is_the_charts(release: LocalTopology) -> None:
    """The guide's path is the chart's files/session-health-check.sh, executable."""
    chart_copy = CHART / "files/session-health-check.sh"
    assert SCRIPT.read_bytes() == chart_copy.read_bytes()
    assert SCRIPT.stat().st_mode & 0o111, "the guide runs it by its path"


def test_backup_records_its_runs_where_the_exporter_reads_them(release: LocalTopology) -> None:
    master = master_port(release)
    backups = release.root / "backups"
    backups.mkdir()
    before = int(time.time())
    ok = run_backup(release, backups, busybox=True)
    assert ok["returncode"] == "0" and ok["status"] == "ok", ok
    assert "not recorded" not in ok["stderr"]
    record = result_keys(master, "backup:result", FIELDS)
    assert before <= int(record["last_success"]) == int(record["last_run"]) <= time.time()
    assert record["bytes"] == ok["bytes"] and int(record["bytes"]) > 0
    assert record["failures"] == "0" and 0 <= int(record["duration_seconds"]) <= 60

    # a failed run (the volume is gone): the failure counted, the last success kept
    failed = run_backup(release, release.root / "no-such-volume")
    assert failed["returncode"] == "1" and failed["status"] == "failed", failed
    after = result_keys(master, "backup:result", FIELDS)
    assert after["failures"] == "1" and after["last_success"] == record["last_success"]
    assert after["bytes"] == "0"
    # the backup user's rights sufficed: nothing refused but redis-cli's own help lookup
    # (COMMAND DOCS, sent when it reads commands from stdin); and they give it no reads
    assert refused(master, "backup") <= {"command", "command|docs"}
    reply = subprocess.run(
        ["redis-cli", "--tls", "--cacert", str(release.tls_dir / "ca.crt"), "--user", "backup",
         "-p", str(master), "GET", "backup:result:last_success"],
        capture_output=True, text=True, timeout=10, check=False,
        env={"PATH": "/usr/bin:/bin", "REDISCLI_AUTH": live_password("BACKUP_PASSWORD")},
    )  # fmt: skip
    assert reply.stdout.startswith("NOPERM"), reply.stdout + reply.stderr

    # the real exporter, as rendered for the master's pod, publishes the record
    procs = Processes(release.root)
    try:
        [target] = start_exporters(
            release,
            procs,
            "session-db",
            [(REDIS_SET, [pod for pod in release.redis if pod.port == master])],
        )
        published: dict[str, float] = {}

        def scraped() -> bool:
            try:
                lines = scrape(target.port)
            except OSError:
                return False
            for field in FIELDS:
                wanted = f'redis_key_value{{db="db0",key="backup:result:{field}"}}'
                for sample in lines:
                    if sample.startswith(wanted):
                        published[field] = float(sample.split()[-1])
            return len(published) == len(FIELDS)

        wait_for(scraped, "the exporter publishing backup:result:*")
        assert published == {field: float(value) for field, value in after.items()}
    finally:
        procs.stop()

    # succeed again: failures back to 0 for the health check below
    again = run_backup(release, backups)
    assert again["status"] == "ok", again
    assert cli(master, "-n", "0", "GET", "backup:result:failures") == "0"


def test_health_check_ok_then_stale_results(release: LocalTopology) -> None:
    master = master_port(release)
    for key in ("cleanup:result:sessions:last_success", "backup:result:last_success"):
        cli(master, "-n", "0", "DEL", key)
    fresh = health(release)
    # no run recorded yet (a new release): a warning, not a failure
    assert fresh.returncode == 1, fresh.stdout
    assert "WARN cleanup sessions: no successful run recorded" in fresh.stdout
    assert "WARN backup: no successful run recorded" in fresh.stdout

    baseline(release)
    for busybox in (False, True):
        healthy = health(release, busybox=busybox)
        assert healthy.returncode == 0, healthy.stdout
        assert "status=ok" in line(healthy.stdout, "session-health-check:")
        assert "2/2 replicas online" in healthy.stdout
        assert "1/1 replicas online" in healthy.stdout  # the cache's own group
        env = release.sentinels[0].env
        sets = f"{env['MASTER_SET']} {env['CACHE_MASTER_SET']}"
        assert healthy.stdout.count(f"quorum reachable for {sets}") == 3, "both sets, 3 Sentinels"
        assert "live" not in healthy.stdout, "no password printed"
        assert len(healthy.stdout.splitlines()) <= 24, "one screen"

    # a stale cleanup record: warning past two intervals, critical past cleanupMaxAgeSeconds
    interval = int(settings(release)["CLEANUP_INTERVAL_SECONDS"])
    stale = str(int(time.time()) - 2 * interval - 120)
    cli(master, "-n", "0", "SET", "cleanup:result:sessions:last_success", stale)
    warned = health(release)
    assert warned.returncode == 1 and "WARN cleanup sessions: last success" in warned.stdout
    older = str(int(time.time()) - 4000)
    cli(master, "-n", "0", "SET", "cleanup:result:sessions:last_success", older)
    assert health(release).returncode == 2
    run_cleanups(release)

    # a stale backup: warning past backupMaxAgeSeconds, critical past backupCriticalAgeSeconds
    limits = settings(release)
    old = int(time.time()) - int(limits["HEALTH_BACKUP_MAX_AGE_SECONDS"]) - 60
    cli(master, "-n", "0", "SET", "backup:result:last_success", str(old))
    warned = health(release)
    assert warned.returncode == 1 and "WARN backup: last success" in warned.stdout
    oldest = int(time.time()) - int(limits["HEALTH_BACKUP_CRITICAL_AGE_SECONDS"]) - 60
    cli(master, "-n", "0", "SET", "backup:result:last_success", str(oldest))
    assert "CRIT backup" in health(release).stdout
    cli(master, "-n", "0", "SET", "backup:result:last_success", str(int(time.time())))
    assert health(release).returncode == 0


def test_health_check_memory_headroom(release: LocalTopology) -> None:
    baseline(release)
    master = master_port(release)
    # memory headroom: a replica's maxmemory set so that it uses about 90 % of it
    replica = next(p for p in release.redis if p.port != master)
    cli(master, "-n", "0", "SETRANGE", "session:padding", "4000000", "x")  # 4 MB
    wait_for(lambda: cli(replica.port, "-n", "0", "EXISTS", "session:padding") == "1", "padding")
    used = int(info(replica.port, "memory")["used_memory"])
    original = cli(replica.port, "CONFIG", "GET", "maxmemory").splitlines()[1]
    cli(replica.port, "CONFIG", "SET", "maxmemory", str(used * 100 // 90))
    try:
        tight = health(release)
        assert tight.returncode == 1, tight.stdout
        assert "of maxmemory (warning from 85%)" in line(tight.stdout, f":{replica.port}")
        # the thresholds are options
        strict = health(release, "--memory-warning", "50", "--memory-critical", "80")
        assert strict.returncode == 2
        assert "(critical from 80%)" in line(strict.stdout, f":{replica.port}")
    finally:
        cli(replica.port, "CONFIG", "SET", "maxmemory", original)
        cli(master, "-n", "0", "DEL", "session:padding")
    assert health(release).returncode == 0


def test_health_check_critical_without_a_replica_or_quorum(release: LocalTopology) -> None:
    baseline(release)
    assert health(release).returncode == 0
    master = master_port(release)
    # one Sentinel down: the others still have the quorum; a warning
    release.sentinels[2].kill()
    one = health(release)
    assert one.returncode == 1, one.stdout
    assert "WARN sentinel" in one.stdout and "CRIT" not in one.stdout

    # a replica down: critical
    replica = next(p for p in release.redis if p.port != master)
    replica.kill()
    down = health(release)
    assert down.returncode == 2, down.stdout
    assert "1/2 replicas online" in down.stdout
    assert f"CRIT sessions 127.0.0.1:{replica.port}: no answer" in down.stdout

    # two of three Sentinels down: no failover possible
    release.sentinels[1].kill()
    lost = health(release)
    assert lost.returncode == 2, lost.stdout
    assert "CRIT sentinels: 1 of 3 answer, a failover needs 2" in lost.stdout


def test_health_check_on_a_standalone_release(tmp_path: Path) -> None:
    """development (standalone): the check runs in the data pod (no Sentinel to exec into)."""
    require_binaries()
    objects = helm.render(CHART, "development", extra=install_values("development"))
    local = LocalTopology(tmp_path, objects)
    local.build(replicas=1, sentinels=0)
    local.start_redis(0)
    try:
        pod = local.redis[0]
        for cleanup in ("session-cleanup", "cache-cleanup"):
            assert run_job(local, cleanup, pod.port, timeout=120).returncode == 0
        backups = tmp_path / "backups"
        backups.mkdir()
        backup = Job(local, "CronJob", f"{FULLNAME}-backup", tmp_path / "backup-job")
        ran = backup.run(backup.env(REDIS_PORT=str(pod.port), BACKUP_DIR=str(backups)))
        assert ran.returncode == 0, ran.stdout + ran.stderr
        env = {**pod.env, **settings(local)}
        with open(SCRIPT, "rb") as script:
            result = subprocess.run(
                ["sh", "-s"], stdin=script, env=env, capture_output=True, timeout=60, check=False
            )
        out = result.stdout.decode()
        print(out)
        assert result.returncode == 0, out + result.stderr.decode()
        assert f"OK   redis 127.0.0.1:{pod.port}: master, 0/0 replicas online" in out
        assert "sentinel" not in out
        assert "OK   backup: last success" in out
    finally:
        local.stop()
