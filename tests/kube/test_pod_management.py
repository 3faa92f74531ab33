"""The StatefulSet controller of a real control plane (no kubelet: Pods never run, as when pod 0's
zone is down and it stays Pending): every data pod is still created, so the others can serve."""

from __future__ import annotations

import time

from chartgen.engines import helm
from chartgen.engines.kube_api import KubeClient
from tests.conftest import CHART
from tests.kube.controlplane import ControlPlane


def _pods(client: KubeClient, namespace: str, component: str) -> list[str]:
    listing = client.request(
        "GET",
        f"/api/v1/namespaces/{namespace}/pods",
        params={"labelSelector": f"app.kubernetes.io/component={component}"},
    ).body
    return sorted(p["metadata"]["name"] for p in listing.get("items", []))


def test_data_pods_are_created_while_pod_0_never_becomes_ready(kube: ControlPlane) -> None:
    namespace = "pod-management"
    client = kube.client()
    client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    objects = helm.render(CHART, "production", extra={"tls": {"enabled": False}})
    # everything the chart makes (the Pods need their ServiceAccount), but the Sentinels
    for obj in objects:
        if obj.kind == "StatefulSet" and not obj.name.endswith("-redis"):
            continue
        obj.body["metadata"]["namespace"] = namespace
        client.apply(obj.body)
    (statefulset,) = [
        o.body for o in objects if o.kind == "StatefulSet" and o.name.endswith("-redis")
    ]
    assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
    name = statefulset["metadata"]["name"]
    expected = [f"{name}-{i}" for i in range(statefulset["spec"]["replicas"])]
    deadline = time.monotonic() + 30
    while _pods(client, namespace, "redis") != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    # pod 0 is Pending for good (nothing runs it), yet pods 1 and 2 exist
    assert _pods(client, namespace, "redis") == expected
    pod0 = client.request("GET", f"/api/v1/namespaces/{namespace}/pods/{name}-0").body
    assert pod0["status"].get("phase") == "Pending"
    # OrderedReady, for contrast: only pod 0 is created while it is not Ready
    ordered = {**statefulset, "metadata": {**statefulset["metadata"], "name": "ordered"}}
    ordered["spec"] = {**statefulset["spec"], "podManagementPolicy": "OrderedReady"}
    client.apply(ordered)
    time.sleep(5)
    listing = client.request("GET", f"/api/v1/namespaces/{namespace}/pods").body
    ordered_pods = [
        p["metadata"]["name"]
        for p in listing["items"]
        if p["metadata"]["name"].startswith("ordered-")
    ]
    assert ordered_pods == ["ordered-0"]
