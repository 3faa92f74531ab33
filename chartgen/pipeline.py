"""The build pipeline, stage by stage:

    topology (load, schema, rules, model) -> render in memory -> write atomically (or compare)

Each stage lives in its own package or module; this one only wires them together for the CLI and
for the `drift` check, which renders exactly as `chartgen build` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chartgen.errors import DriftError, Problem
from chartgen.render.chart import ChartSources, render_chart
from chartgen.topology.model import build_model
from chartgen.topology.resolve import ValidatedSpec, resolve
from chartgen.writer import compare, write_atomically


@dataclass(frozen=True)
class BuildContext:
    """Everything one build needs; passed down instead of module-level state."""

    spec: Path
    out_root: Path
    environments_dir: Path | None = None
    root: Path = field(default_factory=Path.cwd)  # file names in messages are relative to it

    @property
    def overlays_dir(self) -> Path:
        return self.environments_dir or self.spec.parent / "environments"


@dataclass(frozen=True)
class BuildResult:
    chart_dir: Path
    files: dict[str, bytes]
    warnings: tuple[Problem, ...]


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


def render(ctx: BuildContext) -> BuildResult:
    """Validate the spec and render the chart in memory; nothing is written."""
    spec = resolve(ctx.spec, ctx.environments_dir, ctx.root)
    files = render_validated(ctx, spec)
    chart_dir = ctx.out_root / str(spec.base["chart"]["name"])
    return BuildResult(chart_dir, files, spec.warnings)


def build(ctx: BuildContext, *, check: bool = False) -> BuildResult:
    """Render, then write atomically; with `check`, compare and raise DriftError instead."""
    result = render(ctx)
    if check:
        drift = compare(result.files, result.chart_dir)
        if not drift.clean:
            raise DriftError(str(result.chart_dir), drift.changed, drift.missing, drift.extra)
    else:
        write_atomically(result.files, result.chart_dir)
    return result
