"""The committed chart is byte for byte what the spec builds (run `chartgen build`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from chartgen.errors import ChartgenError, Location, Problem, SpecError
from chartgen.topology.load import display_path
from chartgen.validate.context import ValidateContext

ID = "drift"
SEVERITY = "error"


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """The committed chart, Argo CD objects (generated/k8s/argocd/), rule tests
    (generated/monitoring/) and operator scripts (generated/scripts/) are byte for byte what
    the spec builds (run `chartgen build`)."""
    from chartgen.pipeline import (
        BuildContext,
        operator_scripts,
        render_argocd_validated,
        render_monitoring_validated,
        render_validated,
        retired_argocd,
    )
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
    yield from _tree(ctx, render_monitoring_validated(spec), ctx.monitoring_dir)
    yield from _tree(ctx, operator_scripts(files), ctx.scripts_dir)
    argocd = render_argocd_validated(spec)
    if argocd or retired_argocd(ctx.argocd_dir):  # an earlier build's, to be removed
        yield from _tree(ctx, argocd, ctx.argocd_dir)


def _tree(ctx: ValidateContext, files: dict[str, bytes], out_dir: Path) -> Iterator[Problem]:
    from chartgen.writer import compare

    try:
        drift = compare(files, out_dir)
    except ChartgenError as error:
        yield ctx.problem(Location(display_path(out_dir, ctx.root), 1, 1), "", str(error))
        return
    for label, paths in (
        ("differs from what the spec builds", drift.changed),
        ("missing: the spec builds this file", drift.missing),
        ("not produced by the spec", drift.extra),
    ):
        for path in paths:
            where = Location(display_path(out_dir / path, ctx.root), 1, 1)
            yield ctx.problem(where, path, label)
