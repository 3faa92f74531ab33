"""The pre-commit hooks, run by real `pre-commit` in a temporary git repository that uses this
checkout (as it is now) as its hook repository."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.precommit

# This interpreter's pre-commit and chartgen, not whichever another checkout put on PATH.
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]
CHARTGEN = [sys.executable, "-m", "chartgen"]


def git(cwd: Path, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    if home is not None:
        env["PRE_COMMIT_HOME"] = str(home)
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, env=env, timeout=600
    )


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A snapshot of this working tree as a git repository, so the hooks under test are exactly
    the current code, committed or not."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    target = tmp_path_factory.mktemp("hook-repo")
    for name in listed.splitlines():
        source = REPO / name
        if source.is_file() or source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name, follow_symlinks=False)
    git(target, "init", "-q")
    git(target, "add", "-A")
    assert git(target, "commit", "-qm", "snapshot").returncode == 0
    sha = git(target, "rev-parse", "HEAD").stdout.strip()
    return target, sha


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def consumer(tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path) -> Path:
    """A repository with a spec and its chart, the chartgen hooks installed, one good commit."""
    path, sha = hook_repo
    shutil.copytree(REPO / "values", tmp_path / "values")
    shutil.copytree(REPO / "generated", tmp_path / "generated")
    (tmp_path / ".gitignore").write_text(".chartgen-cache/\n")
    (tmp_path / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {path}\n    rev: {sha}\n    hooks:\n"
        "      - id: chartgen-build-check\n      - id: chartgen-validate\n"
        "        args: [--embedded-schemas]\n      - id: chartgen-shellcheck\n"
    )
    git(tmp_path, "init", "-q")
    env = {**os.environ, "PRE_COMMIT_HOME": str(pre_commit_home)}
    subprocess.run(
        [*PRE_COMMIT, "install"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return tmp_path


def commit(repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    git(repo, "add", "-A")
    return git(repo, "commit", "-m", "change", home=home)


def test_hooks_refuse_bad_commits_and_pass_good_ones(consumer: Path, pre_commit_home: Path) -> None:
    first = commit(consumer, pre_commit_home)
    assert first.returncode == 0, first.stdout + first.stderr
    output = first.stdout + first.stderr
    assert "chartgen build --check" in output and output.count("Passed") == 3

    spec = consumer / "values/topology.yaml"
    good = spec.read_text()
    spec.write_text(good.replace("mode: ha", "mode: cluster"))
    broken = commit(consumer, pre_commit_home)
    assert broken.returncode != 0
    line = good[: good.index("mode: ha")].count("\n") + 1
    assert (
        f"values/topology.yaml:{line}:1: mode: 'cluster' is not one of"
        in broken.stdout + broken.stderr
    )

    spec.write_text(good.replace("sessionTtlSeconds: 3600", "sessionTtlSeconds: 7200"))
    stale = commit(consumer, pre_commit_home)
    assert stale.returncode != 0
    assert "changed: values.yaml" in stale.stdout + stale.stderr
    assert "is not what the spec builds" in stale.stdout + stale.stderr

    subprocess.run([*CHARTGEN, "build"], cwd=consumer, check=True, capture_output=True)
    rebuilt = commit(consumer, pre_commit_home)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "7200" in (consumer / "generated/helm/session-database/values.yaml").read_text()


def test_repository_hook_files_are_valid() -> None:
    for command in (
        [*PRE_COMMIT, "validate-manifest", ".pre-commit-hooks.yaml"],
        [*PRE_COMMIT, "validate-config", ".pre-commit-config.yaml"],
    ):
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def ran(output: str, name: str) -> bool:
    """Whether pre-commit ran the hook `name` (its line ends Passed/Failed, not Skipped)."""
    return re.search(rf"^{re.escape(name)}\.+(Passed|Failed)$", output, re.MULTILINE) is not None


def test_editing_chartgen_yaml_runs_validate(consumer: Path, pre_commit_home: Path) -> None:
    """.chartgen.yaml can switch checks off: a commit of it alone must still be validated."""
    assert commit(consumer, pre_commit_home).returncode == 0
    config = consumer / ".chartgen.yaml"
    config.write_text("checks:\n  disable: [no-such-check]\n")
    refused = commit(consumer, pre_commit_home)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output
    assert ran(output, "chartgen validate") and "no-such-check" in output

    config.write_text("checks:\n  disable: [amtool]\n")
    accepted = commit(consumer, pre_commit_home)
    output = accepted.stdout + accepted.stderr
    assert accepted.returncode == 0, output
    assert ran(output, "chartgen validate")
    assert git(consumer, "status", "--porcelain").stdout == ""


def test_a_schemas_symlink_runs_the_chart_hooks(consumer: Path, pre_commit_home: Path) -> None:
    """pre-commit sees a symlinked `schemas` as one path tagged `symlink`; it must match."""
    assert commit(consumer, pre_commit_home).returncode == 0
    (consumer / "schemas").symlink_to("values", target_is_directory=True)
    result = commit(consumer, pre_commit_home)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert git(consumer, "ls-files", "-s", "schemas").stdout.startswith("120000 ")
    assert ran(output, "chartgen build --check") and ran(output, "chartgen validate")


def test_shellcheck_refuses_a_broken_chart_script(consumer: Path, pre_commit_home: Path) -> None:
    assert commit(consumer, pre_commit_home).returncode == 0
    script = consumer / "generated/helm/session-database/files/lib.sh"
    script.write_text(script.read_text() + 'if [ $1 = "x" ]; then :; fi\n')
    result = commit(consumer, pre_commit_home)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert ran(output, "shellcheck (chart scripts)") and "SC2086" in output


# The repository's own .pre-commit-config.yaml runs ruff, mypy and detect-secrets too, which
# pre-commit would install or look up on PATH; its file selection is checked with pre-commit's
# own classifier over real files (a symlink included) instead.
SELECTIONS = {
    "chartgen-build-check": {
        "schemas",
        "values/topology.yaml",
        "generated/helm/c/values.yaml",
        "generated/helm/c/files/lib.sh",
    },
    "chartgen-validate": {
        "schemas",
        "values/topology.yaml",
        "generated/helm/c/values.yaml",
        "generated/helm/c/files/lib.sh",
        ".chartgen.yaml",
    },
    "shellcheck": {"generated/helm/c/files/lib.sh", "chartgen/templates/chart/files/lib.sh"},
    "chartgen-shellcheck": {"generated/helm/c/files/lib.sh"},
    "detect-secrets": {
        "values/topology.yaml",
        ".chartgen.yaml",
        "chartgen/templates/chart/files/lib.sh",
    },
}
PROBES = (
    "values/topology.yaml",
    "generated/helm/c/values.yaml",
    "generated/helm/c/files/lib.sh",
    "chartgen/templates/chart/files/lib.sh",
    "tests/snapshots/c/values.yaml",
    ".chartgen.yaml",
)


def selected(hook: dict[str, Any]) -> set[str]:
    from pre_commit.commands.run import (  # type: ignore[import-untyped]
        Classifier,
        filter_by_include_exclude,
    )

    classifier = Classifier([*PROBES, "schemas"])
    names = filter_by_include_exclude(classifier.filenames, hook["files"], hook["exclude"])
    return set(classifier.by_types(names, hook["types"], hook["types_or"], hook["exclude_types"]))


def test_hook_files_select_what_they_guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pre_commit.clientlib import load_config, load_manifest  # type: ignore[import-untyped]

    for name in PROBES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x: 1\n")
    (tmp_path / "schemas").symlink_to("values", target_is_directory=True)
    hooks = [*load_config(REPO / ".pre-commit-config.yaml")["repos"][0]["hooks"]]
    hooks += load_manifest(REPO / ".pre-commit-hooks.yaml")
    monkeypatch.chdir(tmp_path)
    checked = 0
    for hook in hooks:
        if hook["id"] in SELECTIONS:
            expected = SELECTIONS[hook["id"]]
            if hook["id"].startswith("chartgen-") and "chartgen/" in hook["files"]:
                # this repository's own build-check and validate also guard the package
                expected = expected | {"chartgen/templates/chart/files/lib.sh"}
            assert selected(hook) == expected, hook["id"]
            checked += 1
    assert checked == 7  # build-check, validate, shellcheck in both files; detect-secrets


def test_secrets_baseline_excludes_what_the_hook_excludes() -> None:
    baseline = json.loads((REPO / ".secrets.baseline").read_text())
    (patterns,) = (
        f["pattern"] for f in baseline["filters_used"] if f["path"].endswith("should_exclude_file")
    )
    assert set(patterns) == {"^tests/snapshots/", "^generated/helm/"}


def test_minimum_pre_commit_version_is_the_tested_one() -> None:
    """Both files name the oldest pre-commit they are tested with: the test extra's floor."""
    from importlib.metadata import version

    from pre_commit.clientlib import load_config, load_manifest

    floor = re.search(r'"pre-commit>=([0-9.]+)"', (REPO / "pyproject.toml").read_text())
    assert floor is not None
    wanted = floor.group(1) + ".0" * (2 - floor.group(1).count("."))
    config = load_config(REPO / ".pre-commit-config.yaml")
    assert config["minimum_pre_commit_version"] == wanted
    manifest = load_manifest(REPO / ".pre-commit-hooks.yaml")
    assert {hook["minimum_pre_commit_version"] for hook in manifest} == {wanted}
    installed = tuple(int(part) for part in version("pre-commit").split(".")[:3])
    assert installed >= tuple(int(part) for part in wanted.split("."))
