from __future__ import annotations

from collections.abc import Iterator

from chartgen.errors import Problem
from chartgen.validate.context import ValidateContext

ID = "helm-lint"
SEVERITY = "error"

_SEVERITY = {1: "info", 2: "warning", 3: "error"}


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """`helm lint --strict` of the chart with each environment's values finds nothing."""
    for env in ctx.environment_names:
        report = ctx.lint_report(env)
        for message in report["messages"]:
            severity = _SEVERITY.get(message["severity"], "error")
            if severity == "info":
                continue  # e.g. "icon is recommended": advice, not a defect
            path = str(message.get("path") or "Chart.yaml")
            location = ctx.chart_location(path)
            yield ctx.problem(location, f"[{env}]", str(message["error"]), severity)
        for error in report["errors"]:
            yield ctx.problem(ctx.chart_location("Chart.yaml"), f"[{env}]", str(error))
