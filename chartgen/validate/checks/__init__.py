"""The registry of validation checks, built from the check modules, in the order they run.

Each check is a small module that describes itself, as yamllint rules do: `ID`, the default
`SEVERITY`, and a `check(ctx)` function whose docstring is what `chartgen validate --list-checks`
shows. Findings carry no id of their own: the runner stamps the check's id (and a check may
name a sub-rule, reported as `<id>/<rule>`). To add a check, write the module and list it here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType

from chartgen.errors import Problem
from chartgen.validate.checks import (
    acl,
    amtool,
    crd_schema,
    drift,
    helm_lint,
    image_pinned,
    kube_schema,
    network_flows,
    network_policy,
    pod_security,
    promtool,
    render,
    resources_probes,
    secret_material,
    server_dry_run,
    spec,
)
from chartgen.validate.context import ValidateContext

LEVELS = ("error", "warning", "info")


@dataclass(frozen=True)
class Check:
    """A validation check: an id, a default severity, a doc, and a function yielding problems."""

    id: str
    severity: str
    doc: str
    run: Callable[[ValidateContext], Iterable[Problem]]

    @classmethod
    def from_module(cls, module: ModuleType) -> Check:
        severity = module.SEVERITY
        if severity not in LEVELS:
            raise ValueError(f"{module.__name__}: SEVERITY {severity!r} is not one of {LEVELS}")
        doc = " ".join((module.check.__doc__ or "").split())
        return cls(module.ID, severity, doc, module.check)


MODULES: tuple[ModuleType, ...] = (
    spec,
    drift,
    helm_lint,
    render,
    kube_schema,
    crd_schema,
    pod_security,
    resources_probes,
    image_pinned,
    secret_material,
    acl,
    network_policy,
    network_flows,
    promtool,
    amtool,
    server_dry_run,
)

CHECKS: tuple[Check, ...] = tuple(Check.from_module(module) for module in MODULES)
CHECK_IDS = tuple(check.id for check in CHECKS)
