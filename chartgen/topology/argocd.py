"""The spec's `argocd` section: its typed model and the rules the schema cannot express."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chartgen.topology.constraints import spec_default
from chartgen.topology.load import KeyPath

Finding = tuple[KeyPath, str]


@dataclass(frozen=True)
class ArgoSource:
    kind: str  # git | helm | oci
    repo_url: str
    target_revision: str
    path: str  # git only
    chart: str  # helm only


@dataclass(frozen=True)
class ArgoCD:
    namespace: str
    project: str
    application: str
    destination_server: str
    destination_namespace: str
    source: ArgoSource


def argocd_model(spec: dict[str, Any]) -> ArgoCD | None:
    """The section with its defaults resolved; None when the spec has none."""
    raw = spec.get("argocd")
    if raw is None:
        return None
    source, destination = raw["source"], raw.get("destination", {})

    def setting(node: dict[str, Any], path: tuple[str, ...]) -> str:
        return str(node.get(path[-1], spec_default(("argocd", *path))))

    kind = source["kind"]
    versioned = kind in ("helm", "oci")
    return ArgoCD(
        namespace=setting(raw, ("namespace",)),
        project=setting(raw, ("project",)),
        application=setting(raw, ("application",)),
        destination_server=setting(destination, ("destination", "server")),
        destination_namespace=setting(destination, ("destination", "namespace")),
        source=ArgoSource(
            kind=kind,
            repo_url=source["repoURL"],
            target_revision=str(
                source.get("targetRevision", spec["chart"]["version"] if versioned else "HEAD")
            ),
            path=setting(source, ("source", "path")) if kind == "git" else "",
            chart=str(source.get("chart", spec["chart"]["name"])) if kind == "helm" else "",
        ),
    )


def argocd_source(spec: dict[str, Any]) -> Iterator[Finding]:
    """The Argo CD source names what its kind needs: an oci:// reference for oci and no other
    kind, a chart path only for git, a chart name only for helm, and the environment of
    application.yaml is one of the spec's environments."""
    raw = spec.get("argocd")
    if raw is None:
        return
    source = raw["source"]
    kind, url = source["kind"], source["repoURL"]
    where: KeyPath = ("argocd", "source")
    if kind == "oci" and not url.startswith("oci://"):
        yield (*where, "repoURL"), f"an oci source needs an oci:// reference, not {url!r}"
    if kind != "oci" and url.startswith("oci://"):
        yield (*where, "repoURL"), f"an oci:// reference needs source kind oci, not {kind}"
    if kind == "helm" and not url.startswith(("https://", "http://")):
        yield (*where, "repoURL"), f"a Helm repository is an http(s) URL, not {url!r}"
    if "path" in source and kind != "git":
        yield (*where, "path"), f"path is for a git source; a {kind} source names the chart"
    if "chart" in source and kind != "helm":
        yield (*where, "chart"), f"chart is for a helm source; a {kind} source does not use it"
    application = raw.get("application", spec_default(("argocd", "application")))
    if application not in spec["environments"]:
        known = ", ".join(spec["environments"])
        yield ("argocd", "application"), f"{application!r} is not an environment ({known})"
