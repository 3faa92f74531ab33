from __future__ import annotations

import re
from collections.abc import Iterator

from chartgen.errors import Location, Problem
from chartgen.topology.load import SourceDoc, load_yaml
from chartgen.validate.context import DEFAULTS, ValidateContext

ID = "render"
SEVERITY = "error"

# One violation of values.schema.json as Helm reports it: "- at '/redis/persistence': ..."
_VIOLATION = re.compile(r"^- at '(?P<path>[^']*)': (?P<message>.+)$", re.MULTILINE)
_EXTRA = re.compile(r"additional properties? '([^']+)'")


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """Every environment renders with the real Helm engine (embedded v4, or the v3 CLI given
    with --helm), values.schema.json included; a value the schema refuses is reported at its
    key in the values file."""
    for env, result in ctx.renders.items():
        if not isinstance(result, str):
            continue
        values = "values.yaml" if env == DEFAULTS else f"values-{env}.yaml"
        violations = list(_VIOLATION.finditer(result))
        if not violations:
            yield ctx.problem(ctx.chart_location(values), f"[{env}]", result)
            continue
        doc = load_yaml(ctx.chart_dir / values, str(ctx.chart_location(values).file))
        for violation in violations:
            path: tuple[str | int, ...] = tuple(
                int(part) if part.isdigit() else part
                for part in violation.group("path").split("/")
                if part
            )
            extra = _EXTRA.search(violation.group("message"))
            if extra:
                path = (*path, extra.group(1))
            where = _locate(doc, path, ctx.chart_location(values))
            key = ".".join(str(p) for p in path)
            message = f"values.schema.json: {violation.group('message')}"
            yield ctx.problem(where, f"[{env}] {key}" if key else f"[{env}]", message)


def _locate(doc: SourceDoc | Problem, path: tuple[str | int, ...], fallback: Location) -> Location:
    """The key in the environment's values file, else the file itself (a default broke)."""
    if isinstance(doc, Problem) or path not in doc.locations:
        return fallback
    return doc.locations[path]
