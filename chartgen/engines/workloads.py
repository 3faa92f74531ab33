"""Where Kubernetes workloads keep their pods: shared by every check that reads pod specs."""

from __future__ import annotations

from typing import Any

WORKLOADS = {"StatefulSet", "Deployment", "DaemonSet", "ReplicaSet", "Job"}


def pod_spec(body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The pod template of a workload (CronJobs included) and its path."""
    kind = body.get("kind")
    spec = body.get("spec", {})
    if kind == "CronJob":
        return "spec.jobTemplate.spec.template.spec", spec["jobTemplate"]["spec"]["template"][
            "spec"
        ]
    if kind in WORKLOADS:
        return "spec.template.spec", spec["template"]["spec"]
    if kind == "Pod":
        return "spec", spec
    return None


def pod_template(body: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template (metadata and spec) of a workload, CronJobs included; None otherwise."""
    if pod_spec(body) is None or body.get("kind") == "Pod":
        return None
    spec = body["spec"]
    template: dict[str, Any] = (
        spec["jobTemplate"]["spec"]["template"] if body["kind"] == "CronJob" else spec["template"]
    )
    return template
