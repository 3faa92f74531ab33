"""The Argo CD objects the build writes beside the chart (generated/k8s/argocd/): one
Application per environment, application.yaml (the guide's entry point) and an ApplicationSet
over the environments. Built as plain data and dumped in a fixed key order: same spec, same
bytes."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from chartgen.topology.argocd import ArgoCD, ArgoSource
from chartgen.topology.model import Topology

API_VERSION = "argoproj.io/v1alpha1"
# The chart's sync waves (annotation argocd.argoproj.io/sync-wave on every object, never on a
# pod template, where a change would restart pods): what pods mount and run as first, then their
# configuration, then the workloads and their Services, disruption budgets and policies, then
# what watches them. Argo CD starts a wave once the previous one is healthy (an ExternalSecret
# once its Secret is synced, a Certificate once issued).
SYNC_WAVES = {"secrets": -1, "config": 0, "workloads": 1, "monitors": 2}
WAVE_OF_KIND = {
    "Secret": "secrets",
    "ExternalSecret": "secrets",
    "Certificate": "secrets",
    "Issuer": "secrets",
    "ServiceAccount": "secrets",
    "Role": "secrets",  # the bundled Prometheus' service discovery, before its pod
    "RoleBinding": "secrets",
    "ConfigMap": "config",
    "PersistentVolumeClaim": "config",  # the backup volume, before the CronJob that mounts it
    "StatefulSet": "workloads",
    "Deployment": "workloads",
    "CronJob": "workloads",
    "Service": "workloads",
    "PodDisruptionBudget": "workloads",
    "HorizontalPodAutoscaler": "workloads",  # Helm and Argo CD apply it after the Deployment
    "NetworkPolicy": "workloads",
    "Ingress": "workloads",
    "ServiceMonitor": "monitors",
    "PodMonitor": "monitors",
    "PrometheusRule": "monitors",
    "AlertmanagerConfig": "monitors",
}
# Pod Security for the namespace Argo CD creates: enforce pinned to the oldest Kubernetes the
# chart supports (an upgrade cannot start refusing its pods), audit and warn at the newest
# profile so new requirements show up before they are enforced.
POD_SECURITY = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "v1.25",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/audit-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/warn-version": "latest",
}
SYNC_OPTIONS = [
    "CreateNamespace=true",
    # Server-side apply for the whole app: no last-applied copy in an annotation (capped at
    # 256 KiB; the script ConfigMap, 17 KB today, grows with every script), fields merged by
    # owner, and the same model ServerSideDiff compares with.
    "ServerSideApply=true",
    # What a new chart version drops is deleted only after everything else synced and is
    # healthy: a renamed Service or policy never disappears before its replacement exists.
    "PruneLast=true",
]
# A diff computed by the API server (dry-run apply) sees the fields it defaults (the
# StatefulSets' volumeClaimTemplates, CRD defaults of the ExternalSecret) as in sync, so no
# ignoreDifferences is needed: nothing in the chart is changed in-cluster by another controller.
COMPARE_OPTIONS = {"argocd.argoproj.io/compare-options": "ServerSideDiff=true"}


def _source(source: ArgoSource, values_file: str, release: str) -> dict[str, Any]:
    out: dict[str, Any] = {"repoURL": source.repo_url, "targetRevision": source.target_revision}
    if source.kind == "git":
        out["path"] = source.path
    elif source.kind == "helm":
        out["chart"] = source.chart
    else:  # oci: Argo CD's native OCI source; a Helm chart artifact is read at its root
        out["path"] = "."
    out["helm"] = {"releaseName": release, "valueFiles": [values_file]}
    return out


def _spec(argo: ArgoCD, server: str, values_file: str, release: str) -> dict[str, Any]:
    return {
        "project": argo.project,
        "source": _source(argo.source, values_file, release),
        "destination": {"server": server, "namespace": argo.destination_namespace},
        "syncPolicy": {
            "automated": {"prune": True, "selfHeal": True},
            "syncOptions": list(SYNC_OPTIONS),
            "managedNamespaceMetadata": {"labels": dict(POD_SECURITY)},
        },
    }


def _labels(release: str, environment: str | None) -> dict[str, str]:
    labels = {"app.kubernetes.io/name": release, "app.kubernetes.io/managed-by": "chartgen"}
    if environment:
        labels["chartgen.io/environment"] = environment
    return labels


def application(argo: ArgoCD, release: str, environment: str, server: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {
            "name": f"{release}-{environment}",
            "namespace": argo.namespace,
            "labels": _labels(release, environment),
            "annotations": dict(COMPARE_OPTIONS),
        },
        "spec": _spec(argo, server, f"values-{environment}.yaml", release),
    }


def application_set(argo: ArgoCD, release: str, servers: Mapping[str, str]) -> dict[str, Any]:
    elements = [{"environment": env, "server": server} for env, server in servers.items()]
    return {
        "apiVersion": API_VERSION,
        "kind": "ApplicationSet",
        "metadata": {
            "name": release,
            "namespace": argo.namespace,
            "labels": _labels(release, None),
        },
        "spec": {
            "goTemplate": True,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"list": {"elements": elements}}],
            "template": {
                "metadata": {
                    "name": f"{release}-{{{{.environment}}}}",
                    "namespace": argo.namespace,
                    "labels": {
                        **_labels(release, None),
                        "chartgen.io/environment": "{{.environment}}",
                    },
                    "annotations": dict(COMPARE_OPTIONS),
                },
                "spec": _spec(argo, "{{.server}}", "values-{{.environment}}.yaml", release),
            },
        },
    }


def dump(obj: dict[str, Any], header: list[str]) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(obj, out)
    return "".join(f"# {line}\n" if line else "#\n" for line in header) + out.getvalue()


# Every file the build writes to generated/k8s/argocd/ says so: a build whose spec has no argocd
# section removes that directory only when each of its files carries this note.
GENERATED_NOTE = "Generated by chartgen from the spec's argocd section"


def render_argocd(base: Topology, environments: Mapping[str, Topology]) -> dict[str, bytes]:
    """Every file of generated/k8s/argocd/, or nothing when the spec has no argocd section."""
    argo = base.argocd
    if argo is None:
        return {}
    release = base.chart.name
    servers = {
        name: (model.argocd or argo).destination_server
        for name, model in sorted(environments.items())
    }
    note = f"{GENERATED_NOTE}; `chartgen build` rewrites it."
    files: dict[str, str] = {}
    for env, server in servers.items():
        files[f"application-{env}.yaml"] = dump(
            application(argo, release, env, server),
            [f"Argo CD Application of the {env} environment.", note],
        )
    files["application.yaml"] = dump(
        application(argo, release, argo.application, servers[argo.application]),
        [
            f"The {argo.application} Application (spec argocd.application): what",
            "`kubectl apply -f k8s/argocd/application.yaml` installs. Every environment at",
            "once: applicationset.yaml.",
            note,
        ],
    )
    files["applicationset.yaml"] = dump(
        application_set(argo, release, servers),
        ["One Application per environment (list generator).", note],
    )
    return {path: files[path].encode("utf-8") for path in sorted(files)}
