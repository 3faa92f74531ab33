"""The registry of validation checks, in the order they run.

Each check is a small module with one `check(ctx)` function whose docstring is what
`chartgen validate --list-checks` shows. To add one, write the module and list it here.
"""

from __future__ import annotations

from chartgen.checks import (
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
    spec,
)
from chartgen.checks.base import Check

CHECKS: tuple[Check, ...] = (
    Check("spec", "error", spec.check),
    Check("drift", "error", drift.check),
    Check("helm-lint", "error", helm_lint.check),
    Check("render", "error", render.check),
    Check("kube-schema", "error", kube_schema.check),
    Check("crd-schema", "error", crd_schema.check),
    Check("pod-security", "error", pod_security.check),
    Check("resources-probes", "error", resources_probes.check),
    Check("image-pinned", "error", image_pinned.check),
    Check("secret-material", "error", secret_material.check),
    Check("network-policy", "error", network_policy.check),
    Check("network-flows", "error", network_flows.check),
    Check("promtool", "error", promtool.check),
    Check("amtool", "error", amtool.check),
)

CHECK_IDS = tuple(check.id for check in CHECKS)
