"""One door out: every command maps its errors to the documented exit codes (README), with a
clear message and no traceback, for bad input, failing tools and chartgen's own bugs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chartgen.errors import ExitCode
from tests.conftest import REPO
from tests.tools import go_tool


def chartgen(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chartgen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_exit_code_table_is_the_documented_one() -> None:
    readme = (REPO / "README.md").read_text()
    for code in ExitCode:
        assert f"| {int(code)} |" in readme, code
    assert len({int(code) for code in ExitCode}) == len(ExitCode)


@pytest.mark.parametrize("command", ["build", "validate"])
def test_a_control_character_in_an_overlay_is_located(project: Path, command: str) -> None:
    overlay = project / "values/environments/production.yaml"
    lines = overlay.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if "tcpKeepalive" in line)
    column = len(lines[index].rstrip("\n")) + 1
    lines[index] = lines[index].rstrip("\n") + " # pasted\u008f\n"
    overlay.write_text("".join(lines))
    args = ["--no-cache", "--env", "production"] if command == "validate" else []
    result = chartgen(project, command, *args)
    output = result.stdout + result.stderr
    assert result.returncode == ExitCode.PROBLEMS, output
    assert (
        f"values/environments/production.yaml:{index + 1}:{column + 9}: "
        "redis.config.tcpKeepalive: invalid YAML: character U+008F is not allowed"
    ) in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            "checks: {severity: [drift]}\n",
            ".chartgen.yaml:1:10: checks.severity: ['drift'] is not of type 'object' [config]",
        ),
        (
            "checks: {disable: drift}\n",
            ".chartgen.yaml:1:10: checks.disable: 'drift' is not of type 'array' [config]",
        ),
        (
            "checks:\n  disable: [drift, nope]\n",
            ".chartgen.yaml:2:20: checks.disable[1]: unknown check 'nope' [config]",
        ),
        (
            "checks:\n  severity: {render: fatal}\n",
            ".chartgen.yaml:2:14: checks.severity.render: 'fatal' is not one of",
        ),
        ("checks: [\n", ".chartgen.yaml:2:1: <root>: invalid YAML"),
        ("- a list\n", ".chartgen.yaml:1:1: <root>: the document must be a mapping [yaml]"),
    ],
)
def test_malformed_settings_file_is_reported_at_its_key(
    project: Path, settings: str, expected: str
) -> None:
    (project / ".chartgen.yaml").write_text(settings)
    result = chartgen(project, "validate", "--no-cache", "--embedded-schemas", "--env", "defaults")
    assert result.returncode == ExitCode.PROBLEMS, result.stdout + result.stderr
    assert expected in result.stdout
    assert "unknown check 'd'" not in result.stdout
    assert "Traceback" not in result.stderr


def validate_with_timeout(project: Path, seconds: str) -> subprocess.CompletedProcess[str]:
    """validate through the real kubeconform with CHARTGEN_TOOL_TIMEOUT set."""
    kubeconform = go_tool("kubeconform")
    timeout = {"CHARTGEN_TOOL_TIMEOUT": seconds}
    return chartgen(project, "validate", "--no-cache", "--kubeconform", kubeconform, env=timeout)


def test_a_tool_that_times_out_is_a_tool_error(project: Path) -> None:
    result = validate_with_timeout(project, "0.001")
    assert result.returncode == ExitCode.TOOL, result.stdout + result.stderr
    assert "kubeconform -strict -output ... did not finish within 0.001 s" in result.stderr
    assert "CHARTGEN_TOOL_TIMEOUT" in result.stderr and "Traceback" not in result.stderr


def test_a_tool_that_is_not_what_it_claims_is_a_tool_error(project: Path) -> None:
    result = chartgen(
        project, "validate", "--no-cache", "--kubeconform", shutil.which("false") or ""
    )
    assert result.returncode == ExitCode.TOOL, result.stdout + result.stderr
    assert "without a JSON report" in result.stderr


def test_a_bad_timeout_setting_is_a_usage_error(project: Path) -> None:
    result = validate_with_timeout(project, "soon")
    assert result.returncode == ExitCode.USAGE
    assert "CHARTGEN_TOOL_TIMEOUT='soon' is not a number of seconds" in result.stderr


@pytest.mark.parametrize("command", ["build", "validate"])
def test_a_bug_in_chartgen_is_an_internal_error_that_says_where_to_report(
    project: Path, tmp_path: Path, command: str
) -> None:
    """A copy of the package with a defect planted where each command passes."""
    package = tmp_path / "pkg" / "chartgen"
    shutil.copytree(REPO / "chartgen", package, ignore=shutil.ignore_patterns("__pycache__"))
    planted = package / "topology" / "model.py"
    text = planted.read_text()
    marker = "    chart, redis, sentinel = "
    planted.write_text(text.replace(marker, '    raise KeyError("planted")\n' + marker, 1))
    env = {"PYTHONPATH": str(package.parent)}
    result = chartgen(project, command, *(["--no-cache"] if command == "validate" else []), env=env)
    assert result.returncode == ExitCode.INTERNAL, result.stdout + result.stderr
    assert "internal error: KeyError: 'planted' at model.py:" in result.stderr
    assert "please report it" in result.stderr and "Traceback" not in result.stderr
    debug = chartgen(project, command, env={**env, "CHARTGEN_DEBUG": "1"})
    assert "Traceback" in debug.stderr


def test_an_unwritable_chart_directory_is_an_io_error(workspace: Path) -> None:
    (workspace / "out").write_text("a file where the chart folder should be\n")
    result = chartgen(workspace, "build", "--out", "out/charts")
    assert result.returncode == ExitCode.IO, result.stderr
    assert "cannot write out/charts/session-database" in result.stderr
