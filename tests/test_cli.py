"""The CLI as users call it: a real subprocess, real files, real exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chartgen import __version__
from tests.conftest import CHART, REPO

CHARTGEN = [sys.executable, "-m", "chartgen"]


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHARTGEN, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"chartgen, version {__version__}"


@pytest.mark.parametrize("command", [[], ["build"]])
def test_every_help_shows_an_example(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout
    assert "chartgen build" in result.stdout


def test_committed_chart_is_what_the_spec_builds() -> None:
    result = run("build", "--check")
    assert result.returncode == 0, result.stderr
    assert "is up to date" in result.stdout


def test_build_writes_the_chart(workspace: Path) -> None:
    result = run("build", "--out", "out", cwd=workspace)
    assert result.returncode == 0, result.stderr
    written = workspace / "out" / "session-database"
    for name in (
        "Chart.yaml",
        "values.yaml",
        "values-production.yaml",
        "values.schema.json",
        "templates/_helpers.tpl",
        "templates/NOTES.txt",
        ".helmignore",
        "README.md",
    ):
        assert (written / name).read_bytes() == (CHART / name).read_bytes(), name


def test_check_lists_changed_missing_and_extra_files(workspace: Path) -> None:
    assert run("build", "--out", "out", cwd=workspace).returncode == 0
    chart = workspace / "out" / "session-database"
    (chart / "values.yaml").write_text("edited: by hand\n")
    (chart / "README.md").unlink()
    (chart / "templates" / "stale.yaml").write_text("kind: ConfigMap\n")
    before = {p: p.read_bytes() for p in chart.rglob("*") if p.is_file()}

    result = run("build", "--out", "out", "--check", cwd=workspace)

    assert result.returncode == 1
    assert "changed: values.yaml" in result.stderr
    assert "missing: README.md" in result.stderr
    assert "not produced by the spec: templates/stale.yaml" in result.stderr
    assert {p: p.read_bytes() for p in chart.rglob("*") if p.is_file()} == before


def test_normal_build_removes_files_the_spec_no_longer_produces(workspace: Path) -> None:
    assert run("build", "--out", "out", cwd=workspace).returncode == 0
    stale = workspace / "out" / "session-database" / "templates" / "stale.yaml"
    stale.write_text("kind: ConfigMap\n")
    assert run("build", "--out", "out", cwd=workspace).returncode == 0
    assert not stale.exists()


def test_missing_spec_is_a_usage_error(workspace: Path) -> None:
    result = run("build", "--spec", "nope.yaml", cwd=workspace)
    assert result.returncode == 2
    assert "nope.yaml: spec file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_option_is_a_usage_error() -> None:
    result = run("build", "--bogus")
    assert result.returncode == 2
    assert "No such option" in result.stderr


def test_warnings_do_not_fail_the_build(workspace: Path) -> None:
    # the seed's allkeys-lru beside the sessions: a warning, not an error
    overlay = workspace / "values/environments/production.yaml"
    text = overlay.read_text().replace("    group: separate", "    group: shared")
    line = text[: text.index("maxmemoryPolicy: noeviction")].count("\n") + 1
    overlay.write_text(text.replace("maxmemoryPolicy: noeviction", "maxmemoryPolicy: allkeys-lru"))
    result = run("build", "--out", "out", cwd=workspace)
    assert result.returncode == 0
    assert (
        f"values/environments/production.yaml:{line}:5: redis.config.maxmemoryPolicy: warning: "
        "allkeys-lru"
    ) in result.stderr
