"""Render as Argo CD renders: its repo-server's exact `helm template` invocation, with the Helm
v3 CLIs Argo CD 3.1-3.4 bundle (3.18 and 3.19), gives the manifests the embedded Helm v4 engine
gives, for every environment.

Argo CD's invocation, read in argoproj/argo-cd util/helm/cmd.go, func (c *Cmd) template:
  helm template <chartPath> --name-template <release> --namespace <ns> --kube-version <v>
       [--set/--set-string/--set-file ...] --values <each valueFiles> [--values <values/
       valuesObject as a temp file>] --api-versions <each> --include-crds
run in the repository checkout (cmd.Dir = WorkDir, chartPath relative to it), with
XDG_CACHE_HOME, XDG_CONFIG_HOME, XDG_DATA_HOME and HELM_CONFIG_HOME pointed at a temp dir
(func (c Cmd) run). --include-crds is passed unless the Application sets skipCrds.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.engines.manifests import documents, load_objects
from tests.conftest import CHART, ENVIRONMENTS, REPO, install_values
from tests.tools import go_tool

# The deployment guide's release and namespace; a target cluster of Kubernetes 1.33 with the
# CRDs the chart's optional objects need (what Argo CD's cluster cache reports as API versions).
RELEASE = NAMESPACE = "session-database"
KUBE_VERSION = "v1.33.0"
API_VERSIONS = (
    "v1",
    "apps/v1",
    "apps/v1/StatefulSet",
    "batch/v1",
    "batch/v1/CronJob",
    "policy/v1",
    "policy/v1/PodDisruptionBudget",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1/NetworkPolicy",
    "rbac.authorization.k8s.io/v1",
    "autoscaling/v2",
    "monitoring.coreos.com/v1",
    "monitoring.coreos.com/v1/PrometheusRule",
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PodMonitor",
    "cert-manager.io/v1",
    "cert-manager.io/v1/Certificate",
    "cert-manager.io/v1/Issuer",
    "external-secrets.io/v1",
    "external-secrets.io/v1/ExternalSecret",
    "external-secrets.io/v1/SecretStore",
    "argoproj.io/v1alpha1",
)


def helm_318() -> str:
    """Helm 3.18 (Argo CD 3.1-3.2), installed by .ci/run beside 3.19 in its own GOBIN."""
    binary = os.environ.get("CHARTGEN_HELM_318") or str(
        Path.home() / "go" / "helm-3.18" / "bin" / "helm"
    )
    assert Path(binary).is_file(), (
        "Helm 3.18 is missing: .ci/run installs it with `GOBIN=$HOME/go/helm-3.18/bin go install "
        "helm.sh/helm/v3/cmd/helm@v3.18.6` (or set CHARTGEN_HELM_318)"
    )
    return binary


def helm_319() -> str:
    """Helm 3.19 (Argo CD 3.3-3.4), the Helm v3 CLI of every parity test."""
    return go_tool("helm")


CLIS: dict[str, Callable[[], str]] = {"3.18": helm_318, "3.19": helm_319}


def argocd_template(binary: str, environment: str, home: Path) -> str:
    """Argo CD's repo-server command line for this chart and environment, run as it runs it."""
    chart_path = CHART.relative_to(REPO).as_posix()
    extra = home / "values.json"  # the Application's spec.source.helm.valuesObject
    extra.write_text(json.dumps(install_values(environment)), "utf-8")
    args = [binary, "template", chart_path, "--name-template", RELEASE]
    args += ["--namespace", NAMESPACE, "--kube-version", KUBE_VERSION]
    args += ["--values", str(REPO / chart_path / f"values-{environment}.yaml")]
    args += ["--values", str(extra)]
    for api_version in API_VERSIONS:
        args += ["--api-versions", api_version]
    args.append("--include-crds")
    env = {
        **os.environ,
        "XDG_CACHE_HOME": f"{home}/cache",
        "XDG_CONFIG_HOME": f"{home}/config",
        "XDG_DATA_HOME": f"{home}/data",
        "HELM_CONFIG_HOME": f"{home}/config",
    }
    result = subprocess.run(
        args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def by_template(text: str) -> dict[str, list[dict[str, Any]]]:
    """The CLI's documents, read as Kubernetes reads them, grouped by their # Source template
    in the order Helm wrote them."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for _, chunk in documents(text):
        source = next(
            (line.split(": ", 1)[1] for line in chunk.splitlines() if line.startswith("# Source:")),
            None,
        )
        assert source is not None, chunk[:200]
        grouped.setdefault(source.split("/", 1)[1], []).extend(load_objects(chunk))
    return grouped


def embedded_by_template(environment: str) -> dict[str, list[dict[str, Any]]]:
    objects = helm.render(
        CHART, environment, release=RELEASE, namespace=NAMESPACE, extra=install_values(environment)
    )
    grouped: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        grouped.setdefault(obj.template, []).append(obj.body)
    return grouped


def canonical(grouped: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    return {
        t: sorted(json.dumps(b, sort_keys=True) for b in bodies) for t, bodies in grouped.items()
    }


def test_the_comparison_is_not_blind_to_capabilities() -> None:
    """The embedded engine takes no --kube-version/--api-versions: the comparison holds because
    no template reads .Capabilities and the chart ships no crds/ (what --include-crds adds)."""
    for path in CHART.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".tpl", ".txt"):
            assert "Capabilities" not in path.read_text("utf-8"), path
    assert not (CHART / "crds").exists()


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_argocd_invocation_renders_the_same_with_helm_318_319_and_v4(
    environment: str, tmp_path: Path
) -> None:
    rendered = {}
    for version, locate in CLIS.items():
        binary = locate()
        reported = subprocess.run(
            [binary, "version", "--short"], capture_output=True, text=True, check=True
        ).stdout
        assert reported.startswith(f"v{version}"), reported
        home = tmp_path / version
        home.mkdir()
        rendered[version] = argocd_template(binary, environment, home)
    assert rendered["3.18"] == rendered["3.19"]  # byte for byte
    # Helm's CLI orders documents by kind for install (Issuer before Certificate inside one
    # template); the engine keeps template order. Same documents per template, whatever order.
    cli = by_template(rendered["3.19"])
    embedded = embedded_by_template(environment)
    assert canonical(cli) == canonical(embedded)
    kinds = {body["kind"] for bodies in cli.values() for body in bodies}
    assert {"StatefulSet", "Service", "ConfigMap", "NetworkPolicy"} <= kinds
