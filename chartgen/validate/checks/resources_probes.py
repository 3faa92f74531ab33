from __future__ import annotations

from collections.abc import Iterator

from chartgen.engines.workloads import pod_spec
from chartgen.errors import Problem
from chartgen.validate.context import ValidateContext

ID = "resources-probes"
SEVERITY = "error"


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """Every long-running container sets CPU and memory requests and limits and has readiness
    and liveness probes (Jobs and run-to-completion Pods need resources only)."""
    for env, obj in ctx.objects():
        found = pod_spec(obj.body)
        if found is None:
            continue
        base, pod = found
        # a Pod that runs to completion (the helm test pod) is batch work too
        batch = obj.kind in ("Job", "CronJob") or (
            obj.kind == "Pod" and pod.get("restartPolicy") in ("Never", "OnFailure")
        )
        for index, container in enumerate(pod.get("containers", [])):
            path = f"{base}.containers.{index}"
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(kind, {}):
                        yield ctx.object_problem(
                            env,
                            obj,
                            f"{path}.resources.{kind}",
                            f"container {container.get('name')} sets no {resource} {kind[:-1]}",
                        )
            if batch:
                continue
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in container:
                    yield ctx.object_problem(
                        env,
                        obj,
                        f"{path}",
                        f"container {container.get('name')} has no {probe}",
                    )
