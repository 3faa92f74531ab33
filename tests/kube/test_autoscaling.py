"""The endpoint's HorizontalPodAutoscaler on a real control plane (kube-apiserver and
kube-controller-manager v1.37; no kubelet, no metrics server): the Helm v3 CLI installs and
upgrades it without a warning, the real HPA controller keeps the Deployment within
minReplicas..maxReplicas without metrics and scales on nothing else, and the documented
hand-over of spec.replicas keeps a server-side applied Deployment from falling to 1 pod.

Not proven here: scaling on CPU or memory use (that needs a metrics server and running pods)."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chartgen.engines import helm as helm_engine
from chartgen.engines.kube_api import KubeClient
from tests.conftest import CHART
from tests.kube.cluster import (
    dry_run_warnings,
    empty_namespace,
    helm,
    release_objects,
    restricted_namespace,
)
from tests.kube.controlplane import ControlPlane

RELEASE = "session-database"
ENDPOINT = f"{RELEASE}-endpoint"
PASSWORDS = ("redis.auth.password=p1", "redis.auth.sentinel.password=p2")


@pytest.fixture
def namespace(kube: ControlPlane) -> Iterator[str]:
    name = "autoscaling"
    restricted_namespace(kube.client(), name)
    yield name
    empty_namespace(kube, name)


def _deployment(client: KubeClient, namespace: str, name: str = ENDPOINT) -> dict[str, Any]:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
    return client.request("GET", path).body


def _hpa(client: KubeClient, namespace: str) -> dict[str, Any]:
    path = f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{ENDPOINT}"
    return client.request("GET", path).body


def _conditions(hpa: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        c["type"]: (c["status"], c["reason"]) for c in hpa.get("status", {}).get("conditions", [])
    }


def _wait(what: str, probe: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _replica_history(client: KubeClient, namespace: str, since: str) -> list[int | None]:
    """spec.replicas of every change of the endpoint Deployment after resourceVersion `since`,
    replayed from the API server's watch cache (each write is one event)."""
    params = urllib.parse.urlencode(
        {
            "watch": "1",
            "resourceVersion": since,
            "fieldSelector": f"metadata.name={ENDPOINT}",
            "timeoutSeconds": "2",
        }
    )
    url = f"{client.connection.server}/apis/apps/v1/namespaces/{namespace}/deployments?{params}"
    request = urllib.request.Request(url)
    if client.connection.token:
        request.add_header("Authorization", f"Bearer {client.connection.token}")
    history: list[int | None] = []
    context = client.connection.ssl_context()
    with urllib.request.urlopen(request, timeout=30, context=context) as stream:
        for line in stream:
            event = json.loads(line)
            if event["type"] in ("ADDED", "MODIFIED"):
                replicas = event["object"]["spec"].get("replicas")
                if not history or history[-1] != replicas:
                    history.append(replicas)
    return history


def test_helm_upgrade_to_the_autoscaler_and_the_controller_without_metrics(
    kube: ControlPlane, namespace: str
) -> None:
    client = kube.client()
    values = ("--values", "./helm/session-database/values-production.yaml")
    sets = [arg for pair in PASSWORDS for arg in ("--set", pair)]
    install = helm(
        kube,
        "install",
        RELEASE,
        "./helm/session-database",
        "--namespace",
        namespace,
        *values,
        *sets,
        "--set",
        "endpoint.autoscaling.enabled=false",
    )
    assert install.stderr.strip() == ""
    fixed = _deployment(client, namespace)
    assert fixed["spec"]["replicas"] == 2
    before = fixed["metadata"]["resourceVersion"]

    upgrade = helm(
        kube,
        "upgrade",
        RELEASE,
        "./helm/session-database",
        "--namespace",
        namespace,
        "--reuse-values",
        "--set",
        "endpoint.autoscaling.enabled=true",
    )
    assert upgrade.stderr.strip() == "", upgrade.stderr
    stored = release_objects(kube, RELEASE, namespace)
    (hpa_manifest,) = [o for o in stored if o["kind"] == "HorizontalPodAutoscaler"]
    assert hpa_manifest["apiVersion"] == "autoscaling/v2"
    assert dry_run_warnings(client, stored, namespace) == []

    # the real HPA controller: the count restored to minReplicas without any metric, and the
    # missing metrics reported rather than guessed
    def settled() -> bool:
        conditions = _conditions(_hpa(client, namespace))
        return (
            _deployment(client, namespace)["spec"].get("replicas") == 2
            and conditions.get("ScalingActive", ("", ""))[0] == "False"
        )

    _wait("the HPA controller to act", settled)
    hpa = _hpa(client, namespace)
    conditions = _conditions(hpa)
    assert conditions["AbleToScale"][0] == "True", conditions
    assert conditions["ScalingActive"] == ("False", "FailedGetResourceMetric"), conditions
    assert hpa["status"]["desiredReplicas"] == 2
    # Helm's three-way merge dropped the field (1, the default) before the controller raised
    # it: the one-time dip the chart README describes (a leading 2: the Deployment controller's
    # status writes after the install, before the upgrade)
    assert _replica_history(client, namespace, before) in ([1, 2], [2, 1, 2])

    # above maxReplicas the controller scales down to it, still without metrics
    scale = f"/apis/apps/v1/namespaces/{namespace}/deployments/{ENDPOINT}/scale"
    client.request(
        "PATCH",
        scale,
        {"spec": {"replicas": 9}},
        content_type="application/merge-patch+json",
    )
    _wait("the cap at maxReplicas", lambda: _deployment(client, namespace)["spec"]["replicas"] == 6)
    # and within the bounds it changes nothing: no metric, no scaling (two controller syncs)
    client.request(
        "PATCH", scale, {"spec": {"replicas": 4}}, content_type="application/merge-patch+json"
    )
    time.sleep(35)
    assert _deployment(client, namespace)["spec"]["replicas"] == 4
    assert _conditions(_hpa(client, namespace))["ScalingActive"][0] == "False"


def _endpoint_deployment(enabled: bool, namespace: str) -> dict[str, Any]:
    objects = helm_engine.render(
        CHART,
        "production",
        extra={"endpoint": {"autoscaling": {"enabled": enabled}}},
    )
    (deployment,) = [o.body for o in objects if o.kind == "Deployment"]
    deployment["metadata"]["namespace"] = namespace
    return deployment


@pytest.mark.parametrize("handover", [False, True], ids=["no-handover", "handover"])
def test_server_side_apply_hands_replicas_over(
    kube: ControlPlane, namespace: str, handover: bool
) -> None:
    """Argo CD (server-side apply as argocd-controller) switching the Deployment to the
    autoscaler: without the README's hand-over the count falls to 1, with it the count stays."""
    client = kube.client()
    fixed = _endpoint_deployment(False, namespace)
    name = fixed["metadata"]["name"]
    client.apply(fixed, namespace=namespace, field_manager="argocd-controller")
    assert _deployment(client, namespace, name)["spec"]["replicas"] == 2
    if handover:
        only_replicas = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {"replicas": 2},
        }
        client.apply(only_replicas, namespace=namespace, field_manager="handover-to-hpa")
    scaled = _endpoint_deployment(True, namespace)
    assert "replicas" not in scaled["spec"]
    client.apply(scaled, namespace=namespace, field_manager="argocd-controller")
    assert _deployment(client, namespace, name)["spec"]["replicas"] == (2 if handover else 1)
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
    client.request("DELETE", path)
