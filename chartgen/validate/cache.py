"""The verdict cache of `chartgen validate`: an unchanged tree is answered from
`.chartgen-cache/` without importing Helm or any validator.

The key covers everything that can change a verdict: the spec and its overlays, the committed
chart, the settings file, every file of the chartgen package (code, templates, schemas: an edited
check or template, or a reinstall under the same version, changes the key), the versions of the
engines it imports, the options, and the identity of each external tool. Nothing that the cache
itself writes is part of it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from chartgen import __version__
from chartgen.errors import Problem
from chartgen.validate.reporters import CheckSummary

ENGINES = ("helm-python-sdk", "kubernetes-validate", "jsonschema", "ruamel.yaml", "jinja2")
PACKAGE = Path(__file__).resolve().parent.parent  # the chartgen package


def _files(root: Path, skip: Path | None) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        return []
    found = []
    for path in root.rglob("*"):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        if skip is not None and path.resolve().is_relative_to(skip):
            continue
        found.append(path)
    return sorted(found)


def _hash_tree(digest: Any, label: str, root: Path, skip: Path | None) -> None:
    digest.update(f"<{label}>\0".encode())
    for path in _files(root, skip):
        relative = path.relative_to(root).as_posix() if root.is_dir() else path.name
        digest.update(f"{relative}\0{path.stat().st_size}\0".encode())
        digest.update(path.read_bytes())


def cache_key(
    *,
    spec: Path,
    chart_dir: Path,
    config: Path | None,
    settings: dict[str, Any],
    tools: dict[str, str | None],
    cache_dir: Path,
) -> str:
    from importlib.metadata import PackageNotFoundError, version

    engines: dict[str, str | None] = {}
    for name in ENGINES:
        try:
            engines[name] = version(name)
        except PackageNotFoundError:
            engines[name] = None
    identities = {}
    for name, binary in sorted(tools.items()):
        if binary:
            stat = os.stat(binary)
            identities[name] = [str(Path(binary).resolve()), stat.st_size, stat.st_mtime_ns]
    digest = hashlib.sha256()
    header = {"chartgen": __version__, "engines": engines, "tools": identities, **settings}
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    skip = cache_dir.resolve()
    _hash_tree(digest, "spec", spec, skip)
    _hash_tree(digest, "overlays", spec.parent / "environments", skip)
    _hash_tree(digest, "chart", chart_dir, skip)
    # the Argo CD objects beside the chart (drift and crd-schema read them)
    _hash_tree(digest, "argocd", chart_dir.parent.parent / "k8s" / "argocd", skip)
    # the rules and promtool tests beside the chart (drift reads them)
    _hash_tree(digest, "monitoring", chart_dir.parent.parent / "monitoring", skip)
    if config is not None:
        _hash_tree(digest, "config", config, skip)
    _hash_tree(digest, "package", PACKAGE, skip)
    return digest.hexdigest()


def load(path: Path) -> tuple[tuple[Problem, ...], tuple[CheckSummary, ...]] | None:
    """A stored verdict, or None when absent or unreadable."""
    try:
        data = json.loads(path.read_text("utf-8"))
        problems = tuple(Problem.from_record(p) for p in data["problems"])
        checks = tuple(CheckSummary(**c) for c in data["checks"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return problems, checks


def store(path: Path, problems: tuple[Problem, ...], checks: tuple[CheckSummary, ...]) -> None:
    """Write a verdict atomically; a cache that cannot be written is skipped, not an error."""
    record = {
        "problems": [p.as_record() for p in problems],
        "checks": [vars(c) for c in checks],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(f".{os.getpid()}.tmp")
        staging.write_text(json.dumps(record), "utf-8")
        os.replace(staging, path)
    except OSError:
        return
