from __future__ import annotations

from collections.abc import Iterator

from chartgen.checks.base import ValidateContext
from chartgen.errors import ChartgenError, Location, Problem, SpecError


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """The committed chart is byte for byte what the spec builds (run `chartgen build`)."""
    from chartgen.model import build_model
    from chartgen.render.chart import render_chart
    from chartgen.writer import compare

    spec = ctx.validated
    if isinstance(spec, SpecError):
        return  # the spec check reports why nothing can be built
    try:
        base = build_model(spec.base)
        envs = {name: build_model(data) for name, data in spec.environments.items()}
        drift = compare(render_chart(base, envs, spec.overlay_keys), ctx.chart_dir)
    except ChartgenError as error:
        yield Problem(ctx.chart_location("Chart.yaml"), "", str(error), "drift")
        return
    for path in drift.changed:
        yield Problem(ctx.chart_location(path), path, "differs from what the spec builds", "drift")
    for path in drift.missing:
        yield Problem(
            Location(str(ctx.chart_location(path).file), 1, 1),
            path,
            "missing: the spec builds this file",
            "drift",
        )
    for path in drift.extra:
        yield Problem(ctx.chart_location(path), path, "not produced by the spec", "drift")
