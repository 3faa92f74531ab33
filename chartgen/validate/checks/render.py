from __future__ import annotations

from collections.abc import Iterator

from chartgen.errors import Problem
from chartgen.validate.context import DEFAULTS, ValidateContext

ID = "render"
SEVERITY = "error"


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """Every environment renders with the real Helm engine (embedded v4, or the v3 CLI given
    with --helm), values.schema.json included."""
    for env, result in ctx.renders.items():
        if isinstance(result, str):
            values = "values.yaml" if env == DEFAULTS else f"values-{env}.yaml"
            yield ctx.problem(ctx.chart_location(values), f"[{env}]", result)
