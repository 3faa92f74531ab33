"""Helpers of the publish and render-as-Argo-CD tests: chartgen as a subprocess, a Helm v3 CLI
with its own homes, renders of the git path to compare against, a repository's consistency."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from chartgen.engines import helm
from tests.conftest import CHART, install_values

RELEASE, NAMESPACE, KUBE_VERSION = "sessions", "session-db", "1.25.0"


def chartgen(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`chartgen ARGS` as users run it, in `cwd` (a copy of the project)."""
    return subprocess.run(
        [sys.executable, "-m", "chartgen", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def helm_env(home: Path) -> dict[str, str]:
    """A Helm v3 CLI that reads and writes only under `home` (repositories, cache, logins)."""
    return {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "HELM_REGISTRY_CONFIG": str(home / "config" / "registry.json"),
        "HELM_REPOSITORY_CONFIG": str(home / "config" / "repositories.yaml"),
        "HELM_REPOSITORY_CACHE": str(home / "cache" / "repository"),
    }


def run_helm(
    binary: str, *args: str, home: Path, stdin: str | None = None, cwd: Path | None = None
) -> str:
    result = subprocess.run(
        [binary, *args],
        env=helm_env(home),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )
    assert result.returncode == 0, f"helm {' '.join(args)}: {result.stderr}"
    return result.stdout


def values_args(tmp: Path, environment: str) -> list[str]:
    """The environment's values file of the git path, then the guide's install passwords."""
    tmp.mkdir(parents=True, exist_ok=True)
    extra = tmp / f"install-{environment}.json"
    extra.write_text(json.dumps(install_values(environment)), "utf-8")
    return ["--values", str(CHART / f"values-{environment}.yaml"), "--values", str(extra)]


def template(binary: str, chart_ref: str, environment: str, home: Path, *extra: str) -> str:
    return run_helm(
        binary,
        "template",
        RELEASE,
        chart_ref,
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        *values_args(home, environment),
        *extra,
        home=home,
    )


def git_path_render(binary: str, environment: str, home: Path) -> str:
    """What the chart committed at generated/helm/session-database renders."""
    text = template(binary, str(CHART), environment, home)
    assert text.count("\nkind: ") >= 8, text[:500]
    return text


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_consistent(repo_dir: Path) -> dict[str, Any]:
    """The index reads as Helm reads it and names only archives present with its digests."""
    import helm_python

    index: dict[str, Any] = helm_python.values_from_yaml((repo_dir / "index.yaml").read_text())
    for versions in index["entries"].values():
        for entry in versions:
            archive = repo_dir / str(entry["urls"][0]).rsplit("/", 1)[-1]
            assert archive.is_file(), f"index names {archive.name}, which is missing"
            assert sha256(archive) == entry["digest"], f"{archive.name}: digest differs"
    return index


def indexed_versions(repo_dir: Path) -> dict[str, str]:
    """version -> digest of every indexed session-database archive."""
    index = assert_consistent(repo_dir)
    return {str(e["version"]): str(e["digest"]) for e in index["entries"]["session-database"]}


def embedded_render(environment: str) -> list[helm.RenderedObject]:
    return helm.render(CHART, environment, extra=install_values(environment))
