"""session-health-check.sh on a workstation: how it finds the pod, the settings it passes and
the exit statuses it documents; and the settings ConfigMap's thresholds it reads.

A kubelet does not run here, so `kubectl exec` cannot; a stand-in `kubectl` on PATH answers the
three reads the script makes (pods, the settings ConfigMap's name and data) as a cluster would
and, for `exec`, records what would run in the container and feeds the script on stdin to a
shell with that environment. The checks themselves run on real servers in
tests/test_live_health.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from chartgen.engines import helm
from tests.conftest import CHART, REPO, install_values

SCRIPT = REPO / "generated/scripts/jobHelpers/session-health-check.sh"

# Answers as `kubectl -n NS get ...` prints them; exec runs "$@" after `--` with stdin.
KUBECTL = r"""#!/bin/sh
echo "$*" >> "$CALLS"
case "$*" in
  *"get pods -l app.kubernetes.io/instance=rel,app.kubernetes.io/component=sentinel"*)
    printf '%s' "${SENTINEL_PODS:-}" ;;
  *"get pods -l app.kubernetes.io/instance=rel,app.kubernetes.io/component=redis"*)
    printf '%s' "${REDIS_PODS:-}" ;;
  *"get configmap -l app.kubernetes.io/instance=rel -o name"*)
    printf 'configmap/rel-session-database-redis\nconfigmap/rel-session-database-settings\n' ;;
  *"get configmap/rel-session-database-settings -o go-template"*)
    printf 'CACHE_DB=1\nHEALTH_MEMORY_WARNING_PERCENT=85\nODD=has space\n'
    printf 'REDIS_PORT=6379\nSESSION_DB=0\n' ;;
  *" exec -i "*)
    while [ "$1" != "--" ]; do shift; done
    shift
    # what the container would run: env K=V ... sh -s (the script on stdin)
    AUTH_DIR="$FAKE_AUTH" "$@"
    exit $? ;;
  *) echo "unexpected kubectl $*" >&2; exit 9 ;;
esac
"""


def _run(tmp_path: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(KUBECTL)
    kubectl.chmod(0o755)
    calls = tmp_path / "calls"
    auth = tmp_path / "auth"
    auth.mkdir(exist_ok=True)
    path = f"{bin_dir}:{os.environ['PATH']}"
    result = subprocess.run(
        [str(SCRIPT), "-r", "rel", "-n", "ns", *args],
        env={"PATH": path, "CALLS": str(calls), "FAKE_AUTH": str(auth), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, calls.read_text() if calls.exists() else ""


def test_it_runs_itself_in_a_sentinel_pod_with_the_settings(tmp_path: Path) -> None:
    # the container's Secret mount, as the stand-in's exec sets AUTH_DIR
    (tmp_path / "auth").mkdir()
    (tmp_path / "auth/MONITOR_PASSWORD").write_text("s3cret-health-pw\n")
    result, calls = _run(
        tmp_path, "--memory-warning", "70", SENTINEL_PODS="rel-sentinel-1 rel-sentinel-0"
    )
    lines = calls.splitlines()
    assert lines[0].startswith("-n ns get pods -l app.kubernetes.io/instance=rel,")
    assert "--field-selector=status.phase=Running" in lines[0]
    exec_line = next(x for x in lines if " exec -i " in x)
    assert exec_line.startswith("-n ns exec -i rel-sentinel-1 -c sentinel -- env ")
    # the settings the check reads as KEY=value words, nothing else; the option passed on
    assert "CACHE_DB=1" in exec_line and "SESSION_DB=0" in exec_line and "ODD" not in exec_line
    assert "REDIS_PORT" not in exec_line, "the pod's own env is never overridden"
    assert exec_line.endswith("HEALTH_MEMORY_WARNING_PERCENT=70 sh -s")
    # in the "pod": no Sentinel peers, no data pod at 127.0.0.1:6379 -> critical, exit 2
    assert result.returncode == 2, result.stdout + result.stderr
    assert "CRIT redis 127.0.0.1:6379: no answer" in result.stdout
    assert "session-health-check: status=critical" in result.stdout
    assert "s3cret" not in result.stdout + result.stderr


def test_standalone_runs_in_the_data_pod(tmp_path: Path) -> None:
    (tmp_path / "auth").mkdir()
    (tmp_path / "auth/MONITOR_PASSWORD").write_text("pw\n")
    _, calls = _run(tmp_path, REDIS_PODS="rel-redis-0")
    assert " exec -i rel-redis-0 -c redis -- env " in calls


def test_exit_statuses_when_it_cannot_run(tmp_path: Path) -> None:
    no_pod, _ = _run(tmp_path)
    assert no_pod.returncode == 2
    assert "no running Sentinel or data pod of release rel in namespace ns" in no_pod.stderr
    unknown, _ = _run(tmp_path, "--bogus")
    assert unknown.returncode == 3 and "unknown option --bogus" in unknown.stderr
    not_a_number, _ = _run(tmp_path, "--memory-warning", "lots")
    assert not_a_number.returncode == 3 and "not a number: lots" in not_a_number.stderr
    # no kubectl on PATH: a PATH with only the shell tools the script uses
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("sh", "sed", "cat"):
        found = shutil.which(name)
        assert found, f"{name} is missing"
        (tools / name).symlink_to(found)
    result = subprocess.run(
        [str(tools / "sh"), str(SCRIPT)],
        env={"PATH": str(tools)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 3 and "kubectl not found" in result.stderr


def _settings(env: str, **extra: Any) -> dict[str, str]:
    objects = helm.render(CHART, env, extra=install_values(env, extra))
    found = [o.body for o in objects if o.kind == "ConfigMap" and o.name.endswith("-settings")]
    assert len(found) == 1
    data: dict[str, str] = found[0]["data"]
    return data


def test_settings_carry_the_alerts_thresholds() -> None:
    production = _settings("production")
    assert production["HEALTH_MEMORY_WARNING_PERCENT"] == "85"
    assert production["HEALTH_BACKUP_MAX_AGE_SECONDS"] == "25200"
    assert production["HEALTH_BACKUP_CRITICAL_AGE_SECONDS"] == "90000"
    tuned = _settings(
        "production",
        monitoring={"alerts": {"cleanupMaxAgeSeconds": 7200}},
        backup={"enabled": False},
    )
    assert tuned["HEALTH_CLEANUP_MAX_AGE_SECONDS"] == "7200"
    assert tuned["HEALTH_BACKUP_MAX_AGE_SECONDS"] == "0", "no backups: nothing to check"
