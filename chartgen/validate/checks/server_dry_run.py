from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from chartgen.engines.helm import RenderedObject
from chartgen.engines.kube_api import Cluster, KubeAPIError
from chartgen.engines.workloads import pod_spec, pod_template
from chartgen.errors import Problem, ToolError
from chartgen.validate.context import ValidateContext

ID = "server-dry-run"
SEVERITY = "error"

# A path in a server-side apply error: `.spec.containers[name="redis"].ports[...].containerPort`
_PATH_IN_MESSAGE = re.compile(r"(?:^|: )((?:\.[A-Za-z0-9_-]+(?:\[[^\]]*\])*)+): ")
_SELECTOR = re.compile(r"\[[^\]]*\]")


def field_path(raw: str) -> str:
    """The locator's dotted path of a field the server names (`a.b[0].c`, `.a[name="x"].c`):
    list selectors dropped, as the locator follows keys only."""
    return _SELECTOR.sub("", raw).strip(".")


def _readable(message: str) -> str:
    """A cause without the dump of a large rejected value (a whole volumeClaimTemplates list
    before `: field is immutable`)."""
    if message.startswith("Invalid value: ") and len(message) > 200:
        detail = message.rsplit(": ", 1)[-1]
        return f"Invalid value (not shown: {len(message)} characters): {detail}"
    return message


def _target(body: dict[str, Any], cluster: Cluster, namespaced: bool) -> dict[str, Any]:
    target = copy.deepcopy(body)
    if namespaced:
        target.setdefault("metadata", {})["namespace"] = cluster.namespace
    return target


def _rejection(
    ctx: ValidateContext, env: str, obj: RenderedObject, err: KubeAPIError
) -> Iterator[Problem]:
    """One finding per field the server names (422 causes), else one for the whole answer."""
    causes = [c for c in err.causes if c.get("message")]
    for cause in causes:
        # no field named (an admission policy, a webhook): the object's metadata
        path = field_path(str(cause.get("field", ""))) or "metadata"
        message = _readable(str(cause["message"]))
        yield ctx.object_problem(env, obj, path, f"the cluster refuses it: {message}")
    if not causes:
        found = _PATH_IN_MESSAGE.search(err.message)
        # no field named (an admission policy, a webhook): the object's metadata
        path = field_path(found.group(1)) if found else "metadata"
        yield ctx.object_problem(env, obj, path, f"the cluster refuses it: {err.message}")


def _pod_of(body: dict[str, Any], namespace: str) -> dict[str, Any] | None:
    """The Pod the workload's controller would create, for Pod Security enforcement (which
    judges Pods only). It runs as the namespace's default ServiceAccount: the chart's own does
    not exist, a dry-run stores nothing, and a Pod naming a missing one is refused."""
    template = pod_template(body)
    if template is None:
        return None
    spec = copy.deepcopy(template.get("spec", {}))
    spec.pop("serviceAccountName", None)
    spec.pop("serviceAccount", None)
    name = str(body.get("metadata", {}).get("name", "workload"))
    for claim in body.get("spec", {}).get("volumeClaimTemplates", []) or []:
        claim_name = claim.get("metadata", {}).get("name", "")
        volume = {"persistentVolumeClaim": {"claimName": f"{claim_name}-{name}-0"}}
        spec.setdefault("volumes", []).append({"name": claim_name, **volume})
    metadata = {
        # a live Pod of the same name (the release already runs there) is never touched
        "generateName": f"{name}-",
        "namespace": namespace,
        "labels": template.get("metadata", {}).get("labels", {}),
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _judge(
    ctx: ValidateContext, cluster: Cluster, env: str, obj: RenderedObject, unserved: set[str]
) -> Iterator[Problem]:
    client = cluster.client
    api_version, kind = str(obj.body.get("apiVersion")), obj.kind
    try:
        resource = client.resource(api_version, kind)
    except KubeAPIError as err:
        if err.status == 0:
            raise ToolError(f"lost the cluster of {cluster.name}: {err.message}") from None
        if err.status == 404:
            if f"{api_version}/{kind}" not in unserved:
                unserved.add(f"{api_version}/{kind}")
                yield ctx.object_problem(
                    env,
                    obj,
                    "apiVersion",
                    f"{cluster.name} does not serve {kind} {api_version}: install the CRDs of "
                    "its operator (or pick a version the cluster serves)",
                )
            return
        raise ToolError(f"discovery of {api_version} on {cluster.name}: {err.message}") from None
    body = obj.body
    if kind == "Pod":
        # a bare Pod (the helm test pod) names the chart's ServiceAccount, which a dry-run
        # never creates: judged under the namespace's default one, as workloads' Pods are
        body = copy.deepcopy(body)
        body.get("spec", {}).pop("serviceAccountName", None)
        body.get("spec", {}).pop("serviceAccount", None)
    try:
        answer = client.apply(_target(body, cluster, resource.namespaced), dry_run=True)
    except KubeAPIError as err:
        if err.status == 0:
            raise ToolError(f"lost the cluster of {cluster.name}: {err.message}") from None
        yield from _rejection(ctx, env, obj, err)
        return
    found = pod_spec(obj.body)
    base = found[0] if found else ""
    for warning in answer.warnings:
        yield ctx.object_problem(
            env, obj, base if "PodSecurity" in warning else "", warning, "warning"
        )
    pod = _pod_of(obj.body, cluster.namespace)
    if pod is None:
        return
    try:
        client.create_dry_run(pod)
    except KubeAPIError as err:
        if err.status == 0:
            raise ToolError(f"lost the cluster of {cluster.name}: {err.message}") from None
        message = f"its Pods would be refused: {err.message}"
        yield ctx.object_problem(env, obj, base, f"the cluster refuses it: {message}")


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """Runs only with `--server`: a server-side apply dry-run of every environment's objects
    against the cluster of the kubeconfig, in `--server-namespace` (default `default`, which
    must exist: its Pod Security labels apply). Each object the cluster refuses (schemas,
    admission policies, CRDs not installed) is an error at its template line, each API
    warning a warning; workload pod templates are also dry-run as the Pod their controller
    would create (under the namespace's default ServiceAccount), as Pod Security enforces on
    Pods. Never cached: the cluster's state is not part of the verdict cache's key."""
    cluster = ctx.cluster
    if cluster is None:
        return
    unserved: set[str] = set()
    for env, obj in ctx.objects():
        yield from _judge(ctx, cluster, env, obj, unserved)
