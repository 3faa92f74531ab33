"""The spec's monitoring section: an environment overrides thresholds and receivers, the chart's
values and the generated rules and promtool tests follow (and still pass with the real
promtool); bad monitoring settings are reported at file:line:column with exit code 1."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ruamel.yaml import YAML

from chartgen.monitoring import dashboards
from tests.test_cli import run

PROD = "values/environments/production.yaml"
OVERLAY = """
monitoring:
  selectorLabels: {release: prom-stack}
  alerts:
    memoryCriticalPercent: 90
    cleanupMaxAgeSeconds: 7200
  alertmanager:
    receivers:
      critical: {webhookUrls: ["https://pager.example/hook"]}
"""


def test_an_environment_overrides_thresholds_and_the_generated_tests_follow(
    workspace: Path,
) -> None:
    with open(workspace / PROD, "a", encoding="utf-8") as handle:
        handle.write(OVERLAY)
    built = run("build", "--out", "generated/helm", cwd=workspace)
    assert built.returncode == 0, built.stderr
    # per environment: rules, their unit tests and the dashboards
    files = 3 * (2 + len(dashboards.TITLES))
    assert f"generated/monitoring: {files} files written" in built.stdout
    values = YAML(typ="safe").load(
        workspace / "generated/helm/session-database/values-production.yaml"
    )
    assert values["monitoring"]["alerts"] == {
        "memoryCriticalPercent": 90,
        "cleanupMaxAgeSeconds": 7200,
    }
    assert values["monitoring"]["selectorLabels"] == {"release": "prom-stack"}
    receivers = values["monitoring"]["alertmanager"]["receivers"]
    assert receivers == {"critical": {"webhookUrls": ["https://pager.example/hook"]}}
    folder = workspace / "generated/monitoring/production"
    rules = (folder / "rules.yaml").read_text()
    assert "* 100 > 90\n" in rules and "* 100 > 95\n" not in rules
    assert "> 7200\n" in rules
    staging = (workspace / "generated/monitoring/staging/rules.yaml").read_text()
    assert "* 100 > 95\n" in staging
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: install Debian's prometheus (.ci/run does)"
    tested = subprocess.run(
        [promtool, "test", "rules", "rules.test.yaml"],
        cwd=folder, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_bad_monitoring_settings_are_reported_at_their_key(workspace: Path) -> None:
    with open(workspace / PROD, "a", encoding="utf-8") as handle:
        handle.write("monitoring:\n  mode: prometheus\n  alerts:\n    memoryWarningPercent: 120\n")
    before = sorted(p.name for p in (workspace / "values").rglob("*"))
    built = run("build", "--out", "generated/helm", cwd=workspace)
    assert built.returncode == 1
    assert "Traceback" not in built.stderr
    lines = (workspace / PROD).read_text().splitlines()
    mode_line = lines.index("  mode: prometheus") + 1
    warn_line = lines.index("    memoryWarningPercent: 120") + 1
    assert f"{PROD}:{mode_line}:3: monitoring.mode:" in built.stderr, built.stderr
    assert f"{PROD}:{warn_line}:5: monitoring.alerts.memoryWarningPercent:" in built.stderr
    assert not (workspace / "generated").exists()
    assert sorted(p.name for p in (workspace / "values").rglob("*")) == before
