"""What the tests on the local control plane ask of it: restricted namespaces, the Helm v3 CLI
pointed at it, the Pods the StatefulSet controller creates, and warnings from a dry-run."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from chartgen.engines.kube_api import KubeClient
from chartgen.engines.manifests import load_objects
from tests.kube.controlplane import REPO, ControlPlane

HELM = Path.home() / "go" / "bin" / "helm"
GENERATED = REPO / "generated"
RESTRICTED = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")
}


def helm_binary() -> str:
    assert HELM.is_file(), f"{HELM} missing: `go install` of the Helm v3 CLI (see .ci/run)"
    return str(HELM)


def restricted_namespace(client: KubeClient, name: str) -> None:
    """The namespace, labelled Pod Security "restricted" for enforce, audit and warn."""
    client.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}}
    )


def empty_namespace(plane: ControlPlane, namespace: str, timeout: float = 60) -> None:
    """Uninstall every release of the namespace and wait until its Pods and claims are gone:
    much faster than deleting the namespace, whose controller walks every served resource."""
    client = plane.client()
    for release in helm(plane, "list", "--short", "--namespace", namespace).stdout.split():
        helm(plane, "uninstall", release, "--namespace", namespace, "--wait")
    claims = f"/api/v1/namespaces/{namespace}/persistentvolumeclaims"
    client.request("DELETE", claims)
    deadline = time.monotonic() + timeout
    while True:
        left = [
            item["metadata"]["name"]
            for kind in ("pods", "persistentvolumeclaims")
            for item in client.request("GET", f"/api/v1/namespaces/{namespace}/{kind}").body[
                "items"
            ]
        ]
        if not left:
            return
        assert time.monotonic() < deadline, f"{namespace} still holds {left}"
        time.sleep(0.2)


def helm(
    plane: ControlPlane, *args: str, cwd: Path = GENERATED
) -> subprocess.CompletedProcess[str]:
    """The Helm v3 CLI against the control plane; exit code checked, output returned."""
    done = subprocess.run(
        [helm_binary(), *args],
        cwd=cwd,
        env=plane.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"helm {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    return done


def release_objects(plane: ControlPlane, release: str, namespace: str) -> list[dict[str, Any]]:
    """The release's manifest as the server stores it, read as Kubernetes reads YAML."""
    manifest = helm(plane, "get", "manifest", release, "--namespace", namespace).stdout
    return load_objects(manifest)


def dry_run_warnings(
    client: KubeClient, objects: list[dict[str, Any]], namespace: str
) -> list[str]:
    """Every Warning header a server-side apply dry-run of the objects returns."""
    found = []
    for obj in objects:
        for warning in client.apply(obj, namespace=namespace, dry_run=True).warnings:
            found.append(f"{obj['kind']}/{obj['metadata']['name']}: {warning}")
    return found


def expected_pods(statefulset: dict[str, Any]) -> list[str]:
    """The Pods the StatefulSet controller creates with no kubelet to make any Ready: all of
    them under Parallel management, only ordinal 0 under OrderedReady."""
    name = statefulset["metadata"]["name"]
    spec = statefulset["spec"]
    replicas = int(spec.get("replicas", 1))
    parallel = spec.get("podManagementPolicy") == "Parallel"
    return [f"{name}-{i}" for i in range(replicas if parallel else min(replicas, 1))]


def failed_creates(client: KubeClient, namespace: str, uid: str) -> list[str]:
    events = client.request("GET", f"/api/v1/namespaces/{namespace}/events").body
    return [
        str(e.get("message"))
        for e in events.get("items", [])
        if e.get("reason") == "FailedCreate" and e.get("involvedObject", {}).get("uid") == uid
    ]


def admitted_pods(client: KubeClient, namespace: str, statefulset: dict[str, Any]) -> list[str]:
    """Wait until the StatefulSet's expected Pods exist (each admitted by the namespace's Pod
    Security level) and return their names; fail with the controller's FailedCreate events."""
    live = client.get(statefulset, namespace)
    uid = live["metadata"]["uid"]
    wanted = expected_pods(live)
    deadline = time.monotonic() + 30
    while True:
        pods = client.request("GET", f"/api/v1/namespaces/{namespace}/pods").body["items"]
        owned = {
            p["metadata"]["name"]
            for p in pods
            if any(o.get("uid") == uid for o in p["metadata"].get("ownerReferences", []))
        }
        refused = failed_creates(client, namespace, uid)
        assert not refused, f"{live['metadata']['name']}: pods refused: {refused}"
        if set(wanted) <= owned:
            return sorted(owned)
        assert time.monotonic() < deadline, f"{wanted} not created (have {sorted(owned)})"
        time.sleep(0.2)
