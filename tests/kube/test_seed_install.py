"""The deployment guide's Option 1 commands, verbatim, with the Helm v3 CLI against a real API
server, in a namespace that enforces Pod Security "restricted": every object accepted without a
warning, the Pods the StatefulSet controller creates admitted; then an upgrade and a rollback."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from chartgen.engines.kube_api import KubeClient
from tests.kube.cluster import (
    GENERATED,
    RESTRICTED,
    admitted_pods,
    dry_run_warnings,
    empty_namespace,
    helm,
    release_objects,
    restricted_namespace,
)
from tests.kube.controlplane import ControlPlane

NAMESPACE = "session-database"
RELEASE = "session-database"
CHART_PATH = GENERATED / "helm" / "session-database"

# The guide's commands (deployment-guide.md, Option 1), as a shell would split them.
GUIDE_DEVELOPMENT = """helm install session-database ./helm/session-database \
  --namespace session-database \
  --create-namespace \
  --set redis.auth.password=your-redis-password \
  --set redis.auth.sentinel.password=your-sentinel-password"""
GUIDE_PRODUCTION = """helm install session-database ./helm/session-database \
  --namespace session-database \
  --create-namespace \
  --values ./helm/session-database/values-production.yaml \
  --set redis.auth.password=your-redis-password \
  --set redis.auth.sentinel.password=your-sentinel-password"""
# Not in the guide: staging in the production command's form (its Secret exists beforehand).
STAGING = GUIDE_PRODUCTION.replace("values-production", "values-staging")


@pytest.fixture
def namespace(kube: ControlPlane) -> Iterator[str]:
    """The guide's namespace, created beforehand with the Pod Security labels (helm's
    --create-namespace then finds it and keeps it), removed with everything in it afterwards."""
    restricted_namespace(kube.client(), NAMESPACE)
    yield NAMESPACE
    empty_namespace(kube, NAMESPACE)


def run_guide(plane: ControlPlane, command: str) -> str:
    """Run a guide command from generated/ and return what helm printed on stderr."""
    argv = shlex.split(command)
    assert argv[0] == "helm"
    return helm(plane, *argv[1:]).stderr


def assert_accepted(plane: ControlPlane, namespace: str, stderr: str) -> list[str]:
    """No API warning on helm's stderr nor from a server-side dry-run of every stored object,
    and each StatefulSet's Pods admitted; returns the Pods."""
    assert stderr.strip() == "", f"helm printed warnings:\n{stderr}"
    client = plane.client()
    labels = client.request("GET", f"/api/v1/namespaces/{namespace}").body["metadata"]["labels"]
    assert RESTRICTED.items() <= labels.items(), "helm's --create-namespace dropped the labels"
    objects = release_objects(plane, RELEASE, namespace)
    assert objects, "the release has no objects"
    assert dry_run_warnings(client, objects, namespace) == []
    pods: list[str] = []
    for obj in objects:
        if obj["kind"] == "StatefulSet":
            pods += admitted_pods(client, namespace, obj)
    return pods


def live_statefulset(client: KubeClient, name: str) -> dict[str, object]:
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}}
    return client.get(sts, NAMESPACE)


def sentinel_memory_limit(client: KubeClient) -> str:
    live = live_statefulset(client, f"{RELEASE}-sentinel")
    containers = live["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    return str(containers[0]["resources"]["limits"]["memory"])


def test_guide_development_install_upgrade_rollback(kube: ControlPlane, namespace: str) -> None:
    pods = assert_accepted(kube, namespace, run_guide(kube, GUIDE_DEVELOPMENT))
    assert f"{RELEASE}-redis-0" in pods and f"{RELEASE}-sentinel-0" in pods
    client = kube.client()
    before = sentinel_memory_limit(client)
    changed = "300Mi"
    assert before != changed
    upgrade = helm(
        kube,
        "upgrade",
        RELEASE,
        "./helm/session-database",
        "--namespace",
        NAMESPACE,
        "--reuse-values",
        "--set",
        f"sentinel.resources.limits.memory={changed}",
    )
    assert_accepted(kube, namespace, upgrade.stderr)
    assert sentinel_memory_limit(client) == changed
    rollback = helm(kube, "rollback", RELEASE, "1", "--namespace", NAMESPACE)
    assert_accepted(kube, namespace, rollback.stderr)
    assert sentinel_memory_limit(client) == before
    history = helm(kube, "history", RELEASE, "--namespace", NAMESPACE).stdout
    assert "Rollback to 1" in history, history


@pytest.mark.parametrize("command", [GUIDE_PRODUCTION, STAGING], ids=["production", "staging"])
def test_guide_install_of_an_environment(kube: ControlPlane, namespace: str, command: str) -> None:
    pods = assert_accepted(kube, namespace, run_guide(kube, command))
    assert f"{RELEASE}-redis-0" in pods and f"{RELEASE}-sentinel-0" in pods
    objects = release_objects(kube, RELEASE, namespace)
    kinds = {o["kind"] for o in objects}
    # TLS through cert-manager: its CRDs are served by the cluster
    assert {"Certificate", "Issuer"} <= kinds
    if command == GUIDE_PRODUCTION:
        # production runs the service cache on a Redis group of its own: its pods admitted
        assert {f"{RELEASE}-cache-0", f"{RELEASE}-cache-1"} <= set(pods), pods
        names = {(o["kind"], o["metadata"]["name"]) for o in objects}
        assert ("Service", f"{RELEASE}-cache-service") in names
        assert ("PodDisruptionBudget", f"{RELEASE}-cache") in names


def test_production_without_passwords_takes_them_from_an_external_secret(
    kube: ControlPlane, namespace: str
) -> None:
    """The guide's production command minus the two --set: the chart's own production source
    (External Secrets Operator), accepted by the upstream ESO CRD."""
    command = GUIDE_PRODUCTION.split("--set", maxsplit=1)[0]
    assert "--set" not in command
    assert_accepted(kube, namespace, run_guide(kube, command))
    kinds = {o["kind"] for o in release_objects(kube, RELEASE, namespace)}
    assert "ExternalSecret" in kinds and "Secret" not in kinds


def test_the_assertions_catch_warnings_and_refused_pods(kube: ControlPlane, tmp_path: Path) -> None:
    """Seeded breakage: an unknown field (a warning) and a privileged pod template (the
    namespace warns at the StatefulSet, and the controller's Pod is refused)."""
    chart = tmp_path / "broken"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: broken\nversion: 0.1.0\n")
    (chart / "templates" / "objects.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken}\nbogus: 1\n---\n"
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: broken}\nspec:\n"
        "  serviceName: broken\n  selector: {matchLabels: {app: broken}}\n  template:\n"
        "    metadata: {labels: {app: broken}}\n    spec:\n      containers:\n"
        "        - {name: c, image: 'redis:7.0.15-alpine', securityContext: {privileged: true}}\n"
    )
    namespace = "seeded-breakage"
    client = kube.client()
    restricted_namespace(client, namespace)
    try:
        installed = helm(kube, "install", "broken", str(chart), "--namespace", namespace)
        stderr = installed.stderr.replace('\\"', '"')  # klog quotes the warning text
        assert 'unknown field "bogus"' in stderr, stderr
        assert 'violate PodSecurity "restricted' in stderr, stderr
        objects = release_objects(kube, "broken", namespace)
        sts = next(o for o in objects if o["kind"] == "StatefulSet")
        # (server-side apply refuses the unknown field outright: it is no warning there)
        warnings = dry_run_warnings(client, [sts], namespace)
        assert any('would violate PodSecurity "restricted' in w for w in warnings), warnings
        with pytest.raises(AssertionError, match='violates PodSecurity "restricted'):
            admitted_pods(client, namespace, sts)
    finally:
        empty_namespace(kube, namespace)
