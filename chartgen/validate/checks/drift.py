"""The committed chart is byte for byte what the spec builds (run `chartgen build`)."""

from __future__ import annotations

from collections.abc import Iterator

from chartgen.errors import ChartgenError, Problem, SpecError
from chartgen.validate.context import ValidateContext

ID = "drift"
SEVERITY = "error"


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """The committed chart is byte for byte what the spec builds (run `chartgen build`)."""
    from chartgen.pipeline import BuildContext, render_validated
    from chartgen.writer import compare

    spec = ctx.validated
    if isinstance(spec, SpecError):
        return  # the spec check reports why nothing can be built
    try:
        files = render_validated(BuildContext(ctx.spec, ctx.chart_root, root=ctx.root), spec)
        drift = compare(files, ctx.chart_dir)
    except ChartgenError as error:
        yield ctx.problem(ctx.chart_location("Chart.yaml"), "", str(error))
        return
    for path in drift.changed:
        yield ctx.problem(ctx.chart_location(path), path, "differs from what the spec builds")
    for path in drift.missing:
        yield ctx.problem(ctx.chart_location(path), path, "missing: the spec builds this file")
    for path in drift.extra:
        yield ctx.problem(ctx.chart_location(path), path, "not produced by the spec")
