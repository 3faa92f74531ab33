"""`chartgen validate`: run every enabled check, collect all problems, cache the verdict.

The cache key covers everything a verdict depends on (spec files, chart files, chartgen's own
schemas, chartgen and engine versions, options and external tools), so an unchanged tree
answers from the cache without importing Helm or any validator.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chartgen import __version__
from chartgen.errors import ChartgenError, Location, Problem
from chartgen.reporters import CheckSummary
from chartgen.tools import Tools

LEVELS = ("error", "warning", "info")
CONFIG_FILE = Path(".chartgen.yaml")


@dataclass(frozen=True)
class ValidateOptions:
    spec: Path
    chart_root: Path
    environments: tuple[str, ...] | None = None
    kube_versions: tuple[str, ...] = ("1.25.0", "latest")
    strict: bool = False
    config: Path | None = None
    tools: Tools = field(default_factory=Tools)
    cache_dir: Path | None = Path(".chartgen-cache")


@dataclass(frozen=True)
class Outcome:
    problems: tuple[Problem, ...]
    checks: tuple[CheckSummary, ...]
    cached: bool = False

    def failed(self, strict: bool) -> bool:
        failing = ("error", "warning") if strict else ("error",)
        return any(p.severity in failing for p in self.problems)


@dataclass(frozen=True)
class CheckConfig:
    disabled: frozenset[str]
    severity: dict[str, str]
    problems: tuple[Problem, ...]


def detect_tools(
    helm: str | None = None, kubeconform: str | None = None, embedded_schemas: bool = False
) -> Tools:
    """External programs: the ones named, else those on PATH (never the Helm CLI unasked)."""
    return Tools(
        helm=helm,
        kubeconform=None if embedded_schemas else (kubeconform or shutil.which("kubeconform")),
        promtool=shutil.which("promtool"),
        amtool=shutil.which("amtool"),
    )


def _read_config(path: Path, section_path: tuple[str, ...]) -> tuple[Any, Any]:
    """The `checks` mapping of a YAML file and the located document (None when absent)."""
    from chartgen.spec.loader import load_yaml

    doc = load_yaml(path, str(path))
    if isinstance(doc, Problem):
        raise ChartgenError(doc.format())
    node: Any = doc.data
    for part in section_path:
        node = node.get(part) if isinstance(node, dict) else None
    return node, doc


def load_check_config(options: ValidateOptions, known: Iterable[str]) -> CheckConfig:
    """Disable/severity settings from the spec's `checks:` and from .chartgen.yaml (which wins)."""
    known = set(known)
    disabled: set[str] = set()
    severity: dict[str, str] = {}
    problems: list[Problem] = []
    sources = [options.spec] if options.spec.is_file() else []
    config = options.config or (CONFIG_FILE if CONFIG_FILE.is_file() else None)
    if config is not None:
        if not config.is_file():
            raise ChartgenError(f"{config}: config file not found")
        sources.append(config)
    for source in sources:
        section, doc = _read_config(source, ("checks",))
        if not isinstance(section, dict):
            continue
        for index, check_id in enumerate(section.get("disable") or []):
            if check_id not in known:
                problems.append(
                    Problem(
                        doc.locate(("checks", "disable", index)),
                        f"checks.disable[{index}]",
                        f"unknown check '{check_id}'",
                        "config",
                    )
                )
            disabled.add(str(check_id))
        for check_id, level in (section.get("severity") or {}).items():
            where = doc.locate(("checks", "severity", check_id))
            if check_id not in known:
                problems.append(
                    Problem(
                        where,
                        f"checks.severity.{check_id}",
                        f"unknown check '{check_id}'",
                        "config",
                    )
                )
            elif level not in LEVELS:
                problems.append(
                    Problem(
                        where,
                        f"checks.severity.{check_id}",
                        f"severity must be one of {', '.join(LEVELS)}",
                        "config",
                    )
                )
            else:
                severity[check_id] = level
    return CheckConfig(frozenset(disabled), severity, tuple(problems))


def _hash_tree(digest: Any, root: Path) -> None:
    if root.is_file():
        paths = [root]
    elif root.is_dir():
        paths = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    else:
        paths = []
    digest.update(f"<{root}>".encode())
    for path in paths:
        digest.update(f"{path}\0".encode())
        digest.update(path.read_bytes())


def cache_key(options: ValidateOptions) -> str:
    from importlib.metadata import version

    digest = hashlib.sha256()
    tools = {}
    for name, binary in vars(options.tools).items():
        if binary:
            stat = os.stat(binary)
            tools[name] = [binary, stat.st_size, stat.st_mtime_ns]
    settings = {
        "chartgen": __version__,
        "engines": [version("helm-python-sdk"), version("kubernetes-validate")],
        "spec": str(options.spec),
        "chart_root": str(options.chart_root),
        "environments": options.environments,
        "kube_versions": options.kube_versions,
        "strict": options.strict,
        "config": str(options.config),
        "tools": tools,
    }
    digest.update(json.dumps(settings, sort_keys=True).encode())
    _hash_tree(digest, options.spec.parent)
    _hash_tree(digest, options.chart_root)
    _hash_tree(digest, options.config or CONFIG_FILE)
    _hash_tree(digest, Path(__file__).parent / "schemas")
    return digest.hexdigest()


def _problem_to_json(p: Problem) -> dict[str, Any]:
    return {
        "file": p.location.file,
        "line": p.location.line,
        "column": p.location.column,
        "key": p.key,
        "message": p.message,
        "rule": p.rule,
        "severity": p.severity,
    }


def _load_cached(path: Path) -> Outcome | None:
    try:
        data = json.loads(path.read_text("utf-8"))
        problems = tuple(
            Problem(
                Location(p["file"], p["line"], p["column"]),
                p["key"],
                p["message"],
                p["rule"],
                p["severity"],
            )
            for p in data["problems"]
        )
        checks = tuple(CheckSummary(**c) for c in data["checks"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Outcome(problems, checks, cached=True)


def _store(path: Path, outcome: Outcome) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(f".{os.getpid()}.tmp")
    staging.write_text(
        json.dumps(
            {
                "problems": [_problem_to_json(p) for p in outcome.problems],
                "checks": [vars(c) for c in outcome.checks],
            }
        ),
        "utf-8",
    )
    os.replace(staging, path)


def run_checks(options: ValidateOptions) -> Outcome:
    """Every enabled check over the spec and chart; all problems, in check order."""
    from chartgen.checks import CHECK_IDS, CHECKS
    from chartgen.checks.base import ValidateContext
    from chartgen.kube import resolve_version, shipped_versions

    config = load_check_config(options, CHECK_IDS)
    shipped = shipped_versions()
    unsupported = [v for v in options.kube_versions if resolve_version(v) not in shipped]
    if unsupported:
        raise ChartgenError(
            f"no Kubernetes schemas for {', '.join(unsupported)} "
            f"(shipped: {shipped[0]} to {shipped[-1]}, or 'latest')"
        )
    ctx = ValidateContext(
        spec=options.spec,
        chart_root=options.chart_root,
        environments=options.environments,
        kube_versions=options.kube_versions,
        tools=options.tools,
    )
    unknown = [
        e
        for e in ctx.environment_names
        if e != "defaults" and not (ctx.chart_dir / f"values-{e}.yaml").is_file()
    ]
    if unknown:
        raise ChartgenError(
            f"unknown environment(s): {', '.join(unknown)} "
            f"(the chart has no values-<name>.yaml for them)"
        )
    problems: list[Problem] = list(config.problems)
    summaries = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        ctx.start_background_work(pool, lint="helm-lint" not in config.disabled)
        for check in CHECKS:
            if check.id in config.disabled:
                continue
            level = config.severity.get(check.id, check.severity)
            summaries.append(CheckSummary(check.id, level, check.doc))
            for problem in check.run(ctx):
                rule = check.id if problem.rule == check.id else f"{check.id}/{problem.rule}"
                severity = level if problem.severity == "error" else problem.severity
                if check.id in config.severity:
                    severity = level
                problems.append(replace(problem, rule=rule, severity=severity))
    return Outcome(tuple(dict.fromkeys(problems)), tuple(summaries))


def validate_tree(options: ValidateOptions) -> Outcome:
    """run_checks, answered from the cache when nothing it depends on changed."""
    if options.cache_dir is None:
        return run_checks(options)
    path = options.cache_dir / "validate" / f"{cache_key(options)}.json"
    cached = _load_cached(path) if path.is_file() else None
    if cached is not None:
        return cached
    outcome = run_checks(options)
    _store(path, outcome)
    return outcome
