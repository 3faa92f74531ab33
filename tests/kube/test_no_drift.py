"""No drift after sync: every environment applied to a real API server as Argo CD applies it
(server-side, field manager argocd-controller), then compared the way Argo CD compares it. An
object that differs from its prediction stays OutOfSync forever."""

from __future__ import annotations

from typing import Any

import pytest

from chartgen.engines import helm
from tests.conftest import CHART, ENVIRONMENTS, install_values
from tests.kube.cluster import restricted_namespace
from tests.kube.controlplane import ControlPlane
from tests.kube.drift import manifest_differences, quantity, server_side_diff, sync

RELEASE = "session-database"


def rendered(environment: str, namespace: str) -> list[dict[str, Any]]:
    """The environment's objects as Argo CD's helm template gives them, read as Kubernetes
    reads YAML (chartgen.engines.manifests), sent as JSON."""
    objects = helm.render(
        CHART, environment, release=RELEASE, namespace=namespace, extra=install_values(environment)
    )
    return [o.body for o in objects]


@pytest.fixture
def synced(kube: ControlPlane, request: pytest.FixtureRequest) -> tuple[str, list[Any]]:
    environment = str(request.param)
    namespace = f"drift-{environment}"
    restricted_namespace(kube.client(), namespace)
    objects = rendered(environment, namespace)
    # (a sync again restores whatever an earlier test changed; the namespace is left as it is:
    # the control plane ends with the session)
    sync(kube.client(), objects, namespace)
    return namespace, objects


@pytest.mark.parametrize("synced", ENVIRONMENTS, indirect=True)
def test_no_drift_after_sync(kube: ControlPlane, synced: tuple[str, list[Any]]) -> None:
    namespace, objects = synced
    client = kube.client()
    found = {}
    for obj in objects:
        server, manifest = server_side_diff(client, obj, namespace)
        if server or manifest:
            found[f"{obj['kind']}/{obj['metadata']['name']}"] = server + manifest
    assert found == {}


@pytest.mark.parametrize("synced", ["development"], indirect=True)
def test_an_object_changed_in_the_cluster_is_drift(
    kube: ControlPlane, synced: tuple[str, list[Any]]
) -> None:
    """Seeded breakage: someone edits a synced object in place (kubectl edit): both
    comparisons name the changed field."""
    namespace, objects = synced
    client = kube.client()
    settings = next(
        o for o in objects if o["kind"] == "ConfigMap" and "settings" in o["metadata"]["name"]
    )
    key = sorted(settings["data"])[0]
    client.request(
        "PATCH",
        client.path_of(settings, namespace),
        {"data": {key: "edited in the cluster"}},
        params={"fieldManager": "kubectl-edit"},
        content_type="application/merge-patch+json",
    )
    server, manifest = server_side_diff(client, settings, namespace)
    assert any(d.startswith(f".data.{key}: predicted") for d in server), server
    assert any(d.startswith(f".data.{key}: manifest") for d in manifest), manifest


def test_the_client_side_comparison_normalises_as_the_server_does() -> None:
    live = {"resources": {"limits": {"memory": "1Gi", "cpu": "1500m"}}, "port": 6379}
    same = {"resources": {"limits": {"memory": "1024Mi", "cpu": "1.5"}}, "port": "6379"}
    assert manifest_differences(same, live) == []
    other = {"resources": {"limits": {"memory": "1G"}}, "port": 6380}
    assert manifest_differences(other, live) == [
        ".resources.limits.memory: manifest '1G', live '1Gi'",
        ".port: manifest 6380, live 6379",
    ]
    assert quantity("4gb") is None
    # a zero the server does not store (omitempty) is no drift; any other value is
    assert manifest_differences({"initialDelaySeconds": 0, "optional": False}, {}) == [
        ".optional: missing in the live object"
    ]
