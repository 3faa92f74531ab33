"""The build pipeline: load -> validate -> model -> render -> write (or check).

Each stage lives in its own module; this one only wires them together for the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from chartgen.errors import DriftError, Problem
from chartgen.model import Topology, build_model
from chartgen.render.chart import render_chart
from chartgen.spec.validate import validate
from chartgen.writer import compare, write_atomically

DEFAULT_SPEC = Path("values/topology.yaml")
DEFAULT_OUT = Path("generated/helm")


@dataclass(frozen=True)
class BuildContext:
    """Everything one build needs; passed down instead of module-level state."""

    spec: Path
    out_root: Path
    environments_dir: Path | None = None

    def chart_dir(self, name: str) -> Path:
        return self.out_root / name


@dataclass(frozen=True)
class BuildResult:
    chart_dir: Path
    files: dict[str, bytes]
    warnings: tuple[Problem, ...]


def render(ctx: BuildContext) -> BuildResult:
    """Validate the spec and render the chart in memory; nothing is written."""
    spec = validate(ctx.spec, ctx.environments_dir)
    base: Topology = build_model(spec.base)
    environments = {name: build_model(data) for name, data in spec.environments.items()}
    files = render_chart(base, environments, spec.overlay_keys)
    return BuildResult(ctx.chart_dir(base.chart.name), files, spec.warnings)


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
