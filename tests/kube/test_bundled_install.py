"""The bundled monitoring stack (staging: monitoring.mode bundled) installed with the Helm v3
CLI on a real API server, in a namespace that enforces Pod Security "restricted": every object
accepted without a warning, the Pods of Prometheus, Alertmanager and Grafana admitted, the
seed's Service names, and Prometheus' RBAC limited to reading its targets in the namespace."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from chartgen.engines.kube_api import KubeClient
from tests.kube.cluster import (
    admitted_pods,
    dry_run_warnings,
    empty_namespace,
    failed_creates,
    helm,
    release_objects,
    restricted_namespace,
)
from tests.kube.controlplane import ControlPlane

NAMESPACE = "session-database"
RELEASE = "session-database"  # the guide's release: the seed's Service names
INSTALL = [
    "install",
    RELEASE,
    "./helm/session-database",
    "--namespace",
    NAMESPACE,
    "--values",
    "./helm/session-database/values-staging.yaml",
    "--set",
    "redis.auth.password=your-redis-password",
    "--set",
    "redis.auth.sentinel.password=your-sentinel-password",
]
PROMETHEUS_SA = f"system:serviceaccount:{NAMESPACE}:{RELEASE}-prometheus"


@pytest.fixture
def installed(kube: ControlPlane) -> Iterator[list[dict[str, Any]]]:
    restricted_namespace(kube.client(), NAMESPACE)
    done = helm(kube, *INSTALL)
    assert done.stderr.strip() == "", f"helm printed warnings:\n{done.stderr}"
    yield release_objects(kube, RELEASE, NAMESPACE)
    empty_namespace(kube, NAMESPACE)


def deployment_pods(client: KubeClient, deployment: dict[str, Any]) -> list[str]:
    """The Pods the Deployment's ReplicaSet creates (admitted by Pod Security), by name."""
    selector = deployment["spec"]["selector"]["matchLabels"]
    query = ",".join(f"{k}={v}" for k, v in selector.items())
    deadline = time.monotonic() + 30
    while True:
        sets = client.request(
            "GET",
            f"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets",
            params={"labelSelector": query},
        ).body["items"]
        for replica_set in sets:
            refused = failed_creates(client, NAMESPACE, replica_set["metadata"]["uid"])
            assert not refused, f"{deployment['metadata']['name']}: pods refused: {refused}"
        pods = client.request(
            "GET", f"/api/v1/namespaces/{NAMESPACE}/pods", params={"labelSelector": query}
        ).body["items"]
        if pods:
            return [p["metadata"]["name"] for p in pods]
        assert time.monotonic() < deadline, f"no pod of {deployment['metadata']['name']}"
        time.sleep(0.2)


def can(client: KubeClient, verb: str, resource: str, namespace: str, group: str = "") -> bool:
    """The API server's own RBAC verdict for Prometheus' ServiceAccount."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": PROMETHEUS_SA,
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{NAMESPACE}"],
            "resourceAttributes": {
                "namespace": namespace,
                "verb": verb,
                "group": group,
                "resource": resource,
            },
        },
    }
    answer = client.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
    return bool(answer.body["status"].get("allowed"))


def test_bundled_stack_is_admitted_with_the_seeds_service_names(
    kube: ControlPlane, installed: list[dict[str, Any]]
) -> None:
    client = kube.client()
    assert dry_run_warnings(client, installed, NAMESPACE) == []
    names = {(o["kind"], o["metadata"]["name"]) for o in installed}
    # the guide's `kubectl port-forward svc/<name> -n session-database <port>` targets
    services = {
        o["metadata"]["name"]: o["spec"]["ports"][0]["port"]
        for o in installed
        if o["kind"] == "Service"
    }
    assert services["prometheus-service"] == 9090
    assert services["alertmanager-service"] == 9093
    assert services["grafana-service"] == 3000
    assert {("Ingress", f"{RELEASE}-grafana"), ("Ingress", f"{RELEASE}-monitoring-ui")} <= names
    pods: list[str] = []
    for obj in installed:
        if obj["kind"] == "StatefulSet":
            pods += admitted_pods(client, NAMESPACE, obj)
        elif obj["kind"] == "Deployment":
            pods += deployment_pods(client, obj)
    assert {f"{RELEASE}-prometheus-0", f"{RELEASE}-alertmanager-0"} <= set(pods), pods
    assert any(p.startswith(f"{RELEASE}-grafana-") for p in pods), pods
    # Grafana's admin password: a Secret key, never admin
    (grafana,) = [
        o for o in installed if o["kind"] == "Deployment" and "grafana" in o["metadata"]["name"]
    ]
    volumes = {v["name"]: v for v in grafana["spec"]["template"]["spec"]["volumes"]}
    secret = client.request(
        "GET", f"/api/v1/namespaces/{NAMESPACE}/secrets/{volumes['admin']['secret']['secretName']}"
    ).body
    assert "GRAFANA_ADMIN_PASSWORD" in secret["data"]


def test_prometheus_may_read_its_targets_in_the_namespace_only(
    kube: ControlPlane, installed: list[dict[str, Any]]
) -> None:
    client = kube.client()
    kinds = {o["kind"] for o in installed}
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
    for verb in ("get", "list", "watch"):
        assert can(client, verb, "endpointslices", NAMESPACE, "discovery.k8s.io")
        assert can(client, verb, "services", NAMESPACE)
        assert can(client, verb, "pods", NAMESPACE)
    # nothing elsewhere, nothing secret, no writes
    assert not can(client, "list", "endpointslices", "kube-system", "discovery.k8s.io")
    assert not can(client, "list", "pods", "default")
    assert not can(client, "get", "secrets", NAMESPACE)
    assert not can(client, "delete", "pods", NAMESPACE)
    assert not can(client, "create", "pods", NAMESPACE)
