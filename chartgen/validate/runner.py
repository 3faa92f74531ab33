"""`chartgen validate`: run every enabled check, collect all problems, cache the verdict."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from chartgen.engines.kube_schema import DEFAULT_VERSIONS
from chartgen.engines.tools import Tools
from chartgen.errors import Problem, UsageError
from chartgen.validate import cache
from chartgen.validate.config import config_path
from chartgen.validate.reporters import CheckSummary


@dataclass(frozen=True)
class ServerOptions:
    """`--server`: judge against the cluster of a kubeconfig, in an existing namespace."""

    kubeconfig: Path | None = None
    context: str | None = None
    namespace: str = "default"


@dataclass(frozen=True)
class ValidateOptions:
    spec: Path
    chart_root: Path
    environments: tuple[str, ...] | None = None
    kube_versions: tuple[str, ...] = DEFAULT_VERSIONS
    strict: bool = False
    config: Path | None = None
    tools: Tools = field(default_factory=Tools)
    cache_dir: Path | None = Path(".chartgen-cache")
    root: Path = field(default_factory=Path.cwd)
    server: ServerOptions | None = None


@dataclass(frozen=True)
class Outcome:
    problems: tuple[Problem, ...]
    checks: tuple[CheckSummary, ...]
    cached: bool = False

    def failed(self, strict: bool) -> bool:
        failing = ("error", "warning") if strict else ("error",)
        return any(p.severity in failing for p in self.problems)


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


def _check_versions(versions: tuple[str, ...]) -> None:
    from chartgen.engines.kube_schema import resolve_version, shipped_versions

    shipped = shipped_versions()
    unsupported = [v for v in versions if resolve_version(v) not in shipped]
    if unsupported:
        raise UsageError(
            f"no Kubernetes schemas for {', '.join(unsupported)} "
            f"(shipped: {shipped[0]} to {shipped[-1]}, or 'latest')"
        )


def stamp(problem: Problem, check_id: str, level: str, overridden: bool) -> Problem:
    """The check's id (and sub-rule) and the configured severity on a finding."""
    rule = check_id if problem.rule in ("", check_id) else f"{check_id}/{problem.rule}"
    severity = level if overridden or problem.severity == "error" else problem.severity
    return replace(problem, rule=rule, severity=severity)


def run_checks(options: ValidateOptions) -> Outcome:
    """Every enabled check over the spec and chart; all problems, in check order."""
    from chartgen.validate.checks import CHECK_IDS, CHECKS, server_dry_run
    from chartgen.validate.config import load_check_config
    from chartgen.validate.context import DEFAULTS, ValidateContext

    config = load_check_config(options.spec, options.config, CHECK_IDS, options.root)
    _check_versions(options.kube_versions)
    cluster = None
    disabled = set(config.disabled)
    if options.server is None:
        disabled.add(server_dry_run.ID)  # only `--server` enables it
    elif server_dry_run.ID not in disabled:
        from chartgen.engines.kube_api import connect

        server = options.server
        cluster = connect(server.kubeconfig, server.context, server.namespace)
    ctx = ValidateContext(
        spec=options.spec,
        chart_root=options.chart_root,
        environments=options.environments,
        kube_versions=options.kube_versions,
        tools=options.tools,
        root=options.root,
        cluster=cluster,
    )
    unknown = [
        e
        for e in ctx.environment_names
        if e != DEFAULTS and not (ctx.chart_dir / f"values-{e}.yaml").is_file()
    ]
    if unknown:
        raise UsageError(
            f"unknown environment(s): {', '.join(unknown)} "
            f"(the chart has no values-<name>.yaml for them)"
        )
    problems: list[Problem] = list(config.problems)
    summaries = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        ctx.start_background_work(pool, lint="helm-lint" not in disabled)
        for check in CHECKS:
            if check.id in disabled:
                continue
            level = config.severity.get(check.id, check.severity)
            summaries.append(CheckSummary(check.id, level, check.doc))
            overridden = check.id in config.severity
            problems += [stamp(p, check.id, level, overridden) for p in check.run(ctx)]
    return Outcome(tuple(dict.fromkeys(problems)), tuple(summaries))


def validate_tree(options: ValidateOptions) -> Outcome:
    """run_checks, answered from the cache when nothing it depends on changed. A run against a
    cluster is never cached: the cluster's state is not part of the key."""
    if options.cache_dir is None or options.server is not None:
        return run_checks(options)
    from chartgen.topology.load import chart_name_of

    key = cache.cache_key(
        spec=options.spec,
        chart_dir=options.chart_root / chart_name_of(options.spec),
        config=config_path(options.config),
        settings={
            "spec": str(options.spec),
            "chart_root": str(options.chart_root),
            "environments": options.environments,
            "kube_versions": options.kube_versions,
            "strict": options.strict,
            "root": str(options.root),  # findings' file names are relative to it
        },
        tools=dict(vars(options.tools)),
        cache_dir=options.cache_dir,
    )
    path = options.cache_dir / "validate" / f"{key}.json"
    cached = cache.load(path) if path.is_file() else None
    if cached is not None:
        return Outcome(*cached, cached=True)
    outcome = run_checks(options)
    cache.store(path, outcome.problems, outcome.checks)
    return outcome
