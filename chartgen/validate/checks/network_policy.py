from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chartgen.engines.workloads import pod_template
from chartgen.errors import Problem
from chartgen.validate.context import ValidateContext

ID = "network-policy"
SEVERITY = "error"


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items()) and not selector.get(
        "matchExpressions"
    )


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """Each environment renders a default-deny NetworkPolicy (ingress and egress) that selects
    every pod of the release, and every pod is also selected by a policy that opens its flows."""
    for env, result in ctx.renders.items():
        if isinstance(result, str):
            continue
        policies = [o for o in result if o.kind == "NetworkPolicy"]
        deny = [
            p
            for p in policies
            if {"Ingress", "Egress"} <= set(p.body["spec"].get("policyTypes", []))
            and not p.body["spec"].get("ingress")
            and not p.body["spec"].get("egress")
        ]
        for obj in result:
            template = pod_template(obj.body)
            if template is None:
                continue
            labels = template.get("metadata", {}).get("labels", {})
            if not any(_selects(p.body["spec"]["podSelector"], labels) for p in deny):
                yield ctx.object_problem(
                    env,
                    obj,
                    "",
                    "no default-deny NetworkPolicy (Ingress and Egress) selects these pods",
                )
            opening = [
                p
                for p in policies
                if p not in deny and _selects(p.body["spec"]["podSelector"], labels)
            ]
            if deny and not opening:
                yield ctx.object_problem(
                    env,
                    obj,
                    "",
                    "default deny selects these pods but no NetworkPolicy opens their flows",
                )
