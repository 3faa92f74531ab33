from __future__ import annotations

from collections.abc import Iterator

from chartgen.engines.helm import RenderedObject
from chartgen.engines.netpol import Policy, matches_selector
from chartgen.engines.workloads import pod_template
from chartgen.errors import Problem
from chartgen.validate.context import ValidateContext

ID = "network-policy"
SEVERITY = "error"


def _policy(obj: RenderedObject) -> Policy:
    return Policy(obj.name, obj.namespace or "default", obj.body["spec"])


def _denies_all(policy: Policy) -> bool:
    """Isolates its pods both ways and opens nothing."""
    return (
        {"Ingress", "Egress"} <= policy.types()
        and not policy.spec.get("ingress")
        and not policy.spec.get("egress")
    )


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """Each environment renders a default-deny NetworkPolicy (ingress and egress) that selects
    every pod of the release, and every pod is also selected by a policy that opens its flows
    (selectors evaluated by the networking.k8s.io/v1 rules, matchExpressions included)."""
    for env, result in ctx.renders.items():
        if isinstance(result, str):
            continue
        policies = [_policy(o) for o in result if o.kind == "NetworkPolicy"]
        deny = [p for p in policies if _denies_all(p)]
        opening = [p for p in policies if not _denies_all(p)]
        for obj in result:
            template = pod_template(obj.body)
            if template is None:
                continue
            labels = template.get("metadata", {}).get("labels", {})
            if not any(matches_selector(p.spec.get("podSelector") or {}, labels) for p in deny):
                yield ctx.object_problem(
                    env,
                    obj,
                    "",
                    "no default-deny NetworkPolicy (Ingress and Egress) selects these pods",
                )
            elif not any(
                matches_selector(p.spec.get("podSelector") or {}, labels) for p in opening
            ):
                yield ctx.object_problem(
                    env,
                    obj,
                    "",
                    "default deny selects these pods but no NetworkPolicy opens their flows",
                )
