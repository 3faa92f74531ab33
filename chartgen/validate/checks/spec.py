from __future__ import annotations

from collections.abc import Iterator

from chartgen.errors import Problem, SpecError
from chartgen.validate.context import ValidateContext

ID = "spec"
SEVERITY = "error"


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """The topology spec and its overlays pass the JSON schema and every semantic rule
    (quorum, ports, DB indexes, maxmemory, eviction policy, environments...)."""
    result = ctx.validated
    yield from result.problems if isinstance(result, SpecError) else result.warnings
