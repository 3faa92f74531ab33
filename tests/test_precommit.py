"""The pre-commit hooks, run by real `pre-commit` in a temporary git repository that uses this
checkout (as it is now) as its hook repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.precommit


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
        "        args: [--embedded-schemas]\n"
    )
    git(tmp_path, "init", "-q")
    env = {**os.environ, "PRE_COMMIT_HOME": str(pre_commit_home)}
    subprocess.run(
        ["pre-commit", "install"],
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
    assert "chartgen build --check" in output and output.count("Passed") == 2

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

    subprocess.run(["chartgen", "build"], cwd=consumer, check=True, capture_output=True)
    rebuilt = commit(consumer, pre_commit_home)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "7200" in (consumer / "generated/helm/session-database/values.yaml").read_text()


def test_repository_hook_files_are_valid() -> None:
    for command in (
        ["pre-commit", "validate-manifest", ".pre-commit-hooks.yaml"],
        ["pre-commit", "validate-config", ".pre-commit-config.yaml"],
    ):
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
