"""Every extension point at once, and the OpenShift mode, installed with the Helm v3 CLI into a
real API server's namespace that enforces Pod Security "restricted": every object accepted
without a warning and the Pods the StatefulSet controller creates admitted, carrying what the
values asked for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kube.cluster import empty_namespace, helm, restricted_namespace
from tests.kube.controlplane import ControlPlane
from tests.kube.test_seed_install import CHART_PATH, NAMESPACE, RELEASE, assert_accepted
from tests.test_extension_points import EVERYTHING

PASSWORDS = ["--set", "redis.auth.password=p1", "--set", "redis.auth.sentinel.password=p2"]


@pytest.fixture
def namespace(kube: ControlPlane) -> Iterator[str]:
    restricted_namespace(kube.client(), NAMESPACE)
    # the extensions name this PriorityClass; the Priority admission plugin refuses pods whose
    # class does not exist
    kube.client().apply(
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": "session-critical"},
            "value": 1000,
        }
    )
    yield NAMESPACE
    empty_namespace(kube, NAMESPACE)


def _pod(kube: ControlPlane, name: str) -> dict[str, Any]:
    pod: dict[str, Any] = (
        kube.client().request("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}").body
    )
    return pod


@pytest.mark.parametrize("openshift", [False, True], ids=["default", "openshift"])
def test_extensions_are_admitted_under_restricted(
    kube: ControlPlane, namespace: str, tmp_path: Path, openshift: bool
) -> None:
    values = tmp_path / "extensions.json"
    values.write_text(json.dumps({**EVERYTHING, "securityContext": {"openshift": openshift}}))
    installed = helm(
        kube,
        "install",
        RELEASE,
        str(CHART_PATH),
        "--namespace",
        namespace,
        "--values",
        str(CHART_PATH / "values-production.yaml"),
        "--values",
        str(values),
        *PASSWORDS,
    )
    pods = assert_accepted(kube, namespace, installed.stderr)
    for component in ("redis", "sentinel"):
        name = f"{RELEASE}-{component}-0"
        assert name in pods
        pod = _pod(kube, name)
        assert pod["metadata"]["labels"]["team"] == "sessions"
        spec = pod["spec"]
        assert [c["name"] for c in spec["containers"]] == [component, "metrics", "shipper"]
        assert [c["name"] for c in spec["initContainers"]] == ["warm-up"]
        assert spec["priorityClassName"] == "session-critical"
        assert spec["priority"] == 1000
        context = spec["securityContext"]
        assert ("runAsUser" in context) is not openshift, context
        assert context["runAsNonRoot"] is True
