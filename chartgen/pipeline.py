"""The build pipeline, stage by stage:

    topology (load, schema, rules, model) -> render in memory -> write atomically (or compare)

Each stage lives in its own package or module; this one only wires them together for the CLI and
for the `drift` check, which renders exactly as `chartgen build` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chartgen.errors import DriftError, Problem
from chartgen.render.argocd import GENERATED_NOTE, render_argocd
from chartgen.render.chart import ChartSources, render_chart
from chartgen.render.monitoring import monitoring_files
from chartgen.topology.model import build_model
from chartgen.topology.resolve import ValidatedSpec, resolve
from chartgen.writer import compare, generated_tree, remove_atomically, write_trees_atomically


@dataclass(frozen=True)
class BuildContext:
    """Everything one build needs; passed down instead of module-level state."""

    spec: Path
    out_root: Path
    environments_dir: Path | None = None
    root: Path = field(default_factory=Path.cwd)  # file names in messages are relative to it
    argocd_out: Path | None = None

    @property
    def overlays_dir(self) -> Path:
        return self.environments_dir or self.spec.parent / "environments"

    @property
    def argocd_dir(self) -> Path:
        """The Argo CD objects: <out>/../k8s/argocd (generated/k8s/argocd by default)."""
        return self.argocd_out or self.out_root.parent / "k8s" / "argocd"

    @property
    def monitoring_dir(self) -> Path:
        """Rules and promtool tests per environment: <out>/../monitoring."""
        return self.out_root.parent / "monitoring"

    @property
    def scripts_dir(self) -> Path:
        """Scripts an operator runs from generated/ (the guide's ./scripts/jobHelpers/...):
        <out>/../scripts."""
        return self.out_root.parent / "scripts"


@dataclass(frozen=True)
class BuildResult:
    chart_dir: Path
    files: dict[str, bytes]
    warnings: tuple[Problem, ...]
    argocd_dir: Path | None = None  # None: the spec has no argocd section
    argocd_files: dict[str, bytes] = field(default_factory=dict)
    monitoring_dir: Path | None = None
    monitoring_files: dict[str, bytes] = field(default_factory=dict)
    scripts_dir: Path | None = None
    scripts_files: dict[str, bytes] = field(default_factory=dict)
    # Argo CD objects of an earlier build whose spec had an argocd section, now gone: removed
    retired_dirs: tuple[Path, ...] = ()

    def trees(self) -> dict[Path, dict[str, bytes]]:
        """Every output directory with its files."""
        trees = {self.chart_dir: self.files}
        if self.argocd_dir is not None:
            trees[self.argocd_dir] = self.argocd_files
        if self.monitoring_dir is not None:
            trees[self.monitoring_dir] = self.monitoring_files
        if self.scripts_dir is not None:
            trees[self.scripts_dir] = self.scripts_files
        return trees


def _source_name(path: Path, root: Path) -> str:
    """How the values files' headers name a source: relative to the working directory as the
    user named it, or, outside it, by its last two path parts, never by a machine's absolute
    path."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(*resolved.parts[-2:]).as_posix()


def render_validated(ctx: BuildContext, spec: ValidatedSpec) -> dict[str, bytes]:
    """Model and render a validated spec: every file of the chart, in memory."""
    base = build_model(spec.base)
    environments = {name: build_model(data) for name, data in spec.environments.items()}
    sources = ChartSources(
        spec=_source_name(ctx.spec, ctx.root), overlays=_source_name(ctx.overlays_dir, ctx.root)
    )
    return render_chart(base, environments, spec.overlay_keys, sources)


def render_argocd_validated(spec: ValidatedSpec) -> dict[str, bytes]:
    """The Argo CD objects of a validated spec, in memory (empty without an argocd section)."""
    base = build_model(spec.base)
    environments = {name: build_model(data) for name, data in spec.environments.items()}
    return render_argocd(base, environments)


def render_monitoring_validated(spec: ValidatedSpec) -> dict[str, bytes]:
    """Each environment's rule groups and promtool tests, in memory."""
    return monitoring_files({name: build_model(data) for name, data in spec.environments.items()})


def render(ctx: BuildContext) -> BuildResult:
    """Validate the spec and render the chart in memory; nothing is written."""
    spec = resolve(ctx.spec, ctx.environments_dir, ctx.root)
    files = render_validated(ctx, spec)
    chart_dir = ctx.out_root / str(spec.base["chart"]["name"])
    argocd = render_argocd_validated(spec)
    argocd_dir = ctx.argocd_dir if argocd else None
    monitoring = render_monitoring_validated(spec)
    return BuildResult(
        chart_dir,
        files,
        spec.warnings,
        argocd_dir,
        argocd,
        ctx.monitoring_dir,
        monitoring,
        ctx.scripts_dir,
        operator_scripts(files),
        retired_argocd(ctx.argocd_dir) if not argocd else (),
    )


def retired_argocd(argocd_dir: Path) -> tuple[Path, ...]:
    """The Argo CD directory when only an earlier build's files are in it."""
    return (argocd_dir,) if generated_tree(argocd_dir, GENERATED_NOTE) else ()


# The chart's scripts an operator runs from a checkout (the same bytes as in the chart's files/,
# so `helm pull --untar` users have them too), by their path under generated/scripts.
OPERATOR_SCRIPTS = {"jobHelpers/session-health-check.sh": "files/session-health-check.sh"}


def operator_scripts(chart_files: dict[str, bytes]) -> dict[str, bytes]:
    return {target: chart_files[source] for target, source in OPERATOR_SCRIPTS.items()}


def build(ctx: BuildContext, *, check: bool = False) -> BuildResult:
    """Render everything in memory, then write the chart and the Argo CD objects atomically;
    with `check`, compare and raise DriftError instead."""
    result = render(ctx)
    if check:
        drifts = []
        expected = {**result.trees(), **{d: {} for d in result.retired_dirs}}
        for out_dir, files in expected.items():
            drift = compare(files, out_dir)
            if not drift.clean:
                drifts.append(DriftError(str(out_dir), drift.changed, drift.missing, drift.extra))
        if drifts:
            raise DriftError.of(drifts)
    else:
        scripts = [result.scripts_dir] if result.scripts_dir is not None else []
        write_trees_atomically(result.trees(), executable=scripts)
        for retired in result.retired_dirs:
            remove_atomically(retired)
    return result
