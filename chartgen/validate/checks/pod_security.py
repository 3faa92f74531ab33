from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chartgen.engines.workloads import pod_spec
from chartgen.errors import Problem
from chartgen.validate.context import ValidateContext

ID = "pod-security"
SEVERITY = "error"

ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def restricted_violations(pod: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Pod Security Standard "restricted" (v1.25+) rules, as (relative path, message)."""
    pod_ctx = pod.get("securityContext", {})
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            yield flag, f"{flag} is not allowed"
    for index, volume in enumerate(pod.get("volumes", [])):
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            yield f"volumes.{index}", f"volume type {sorted(kinds)} is not allowed"
    containers = [("containers", c) for c in pod.get("containers", [])]
    containers += [("initContainers", c) for c in pod.get("initContainers", [])]
    for position, (field, container) in enumerate(containers):
        path = f"{field}.{position if field == 'containers' else position - len(pod['containers'])}"
        ctx = container.get("securityContext", {})
        if ctx.get("allowPrivilegeEscalation") is not False:
            yield f"{path}.securityContext.allowPrivilegeEscalation", "must be false"
        if ctx.get("privileged"):
            yield f"{path}.securityContext.privileged", "privileged containers are not allowed"
        if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
            yield f"{path}.securityContext.capabilities.drop", "must drop ALL capabilities"
        added = set(ctx.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}
        if added:
            yield f"{path}.securityContext.capabilities.add", f"{sorted(added)} not allowed"
        if not (ctx.get("runAsNonRoot") or pod_ctx.get("runAsNonRoot")):
            yield f"{path}.securityContext.runAsNonRoot", "must be true (pod or container)"
        if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
            yield f"{path}.securityContext.runAsUser", "must not be 0"
        seccomp = ctx.get("seccompProfile", pod_ctx.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            yield (
                f"{path}.securityContext.seccompProfile.type",
                "must be RuntimeDefault or Localhost",
            )
        for port_index, port in enumerate(container.get("ports", [])):
            if port.get("hostPort"):
                yield f"{path}.ports.{port_index}.hostPort", "host ports are not allowed"


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """Every pod template meets Pod Security "restricted": non-root, seccomp RuntimeDefault,
    no privilege escalation, ALL capabilities dropped, no host namespaces, ports or paths."""
    for env, obj in ctx.objects():
        found = pod_spec(obj.body)
        if found is None:
            continue
        base, pod = found
        for path, message in restricted_violations(pod):
            yield ctx.object_problem(env, obj, f"{base}.{path}", message)
