"""Argo CD: the objects the build writes to generated/k8s/argocd/ from the spec's argocd section
(git, helm and oci sources), their drift and schema checks, bad sections refused at their key,
and the chart's sync waves over the rendered objects of every environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.engines.manifests import load_objects
from chartgen.pipeline import BuildContext, render
from chartgen.render.argocd import POD_SECURITY, SYNC_WAVES, WAVE_OF_KIND
from chartgen.validate.checks.crd_schema import validator
from tests.conftest import ARGOCD, CHART, ENVIRONMENTS, REPO, install_values
from tests.test_validate import edit, validate

WAVE = "argocd.argoproj.io/sync-wave"


def chartgen(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chartgen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def argo_files(root: Path = ARGOCD) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(root.glob("*.yaml")):
        (body,) = load_objects(path.read_text("utf-8"))
        found[path.name] = body
    return found


def schema_errors(body: dict[str, Any]) -> list[str]:
    found = validator(body["apiVersion"], body["kind"])
    assert found is not None
    return [e.message for e in found.iter_errors(body)]


def test_one_application_per_environment_and_the_guides_entry_point() -> None:
    files = argo_files()
    expected = {f"application-{env}.yaml" for env in ENVIRONMENTS}
    assert set(files) == expected | {"application.yaml", "applicationset.yaml"}
    assert files["application.yaml"] == files["application-production.yaml"]
    for env in ENVIRONMENTS:
        app = files[f"application-{env}.yaml"]
        assert schema_errors(app) == []
        spec = app["spec"]
        assert app["metadata"] == {
            "name": f"session-database-{env}",
            "namespace": "argocd",
            "labels": {
                "app.kubernetes.io/name": "session-database",
                "app.kubernetes.io/managed-by": "chartgen",
                "chartgen.io/environment": env,
            },
            "annotations": {"argocd.argoproj.io/compare-options": "ServerSideDiff=true"},
        }
        assert spec["source"]["path"] == "generated/helm/session-database"
        assert spec["source"]["helm"] == {
            "releaseName": "session-database",
            "valueFiles": [f"values-{env}.yaml"],
        }
        assert (CHART / f"values-{env}.yaml").is_file()
        assert spec["destination"]["namespace"] == "session-database"
        policy = spec["syncPolicy"]
        assert policy["automated"] == {"prune": True, "selfHeal": True}
        assert {"CreateNamespace=true", "ServerSideApply=true"} <= set(policy["syncOptions"])
        assert policy["managedNamespaceMetadata"] == {"labels": POD_SECURITY}
        assert "ignoreDifferences" not in spec
    servers = {
        e: files[f"application-{e}.yaml"]["spec"]["destination"]["server"] for e in ENVIRONMENTS
    }
    assert servers["production"] == "https://kubernetes.default.svc"
    assert len(set(servers.values())) == len(ENVIRONMENTS), "environments would share a namespace"


def test_the_application_set_expands_to_the_applications() -> None:
    """The ApplicationSet's list generator and template give each environment's Application
    (the template's Go placeholders filled in as Argo CD fills them)."""
    files = argo_files()
    appset = files["applicationset.yaml"]
    assert schema_errors(appset) == []
    (generator,) = appset["spec"]["generators"]
    template = json.dumps(appset["spec"]["template"])
    for element in generator["list"]["elements"]:
        filled = template
        for key, value in element.items():
            filled = filled.replace("{{." + key + "}}", value)
        app = files[f"application-{element['environment']}.yaml"]
        assert json.loads(filled) == {"metadata": app["metadata"], "spec": app["spec"]}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "    kind: helm\n    repoURL: https://charts.example.com\n",
            {
                "repoURL": "https://charts.example.com",
                "targetRevision": "0.1.0",
                "chart": "session-database",
            },
        ),
        (
            "    kind: oci\n    repoURL: oci://registry.example.com/charts/session-database\n"
            "    targetRevision: 0.1.0\n",
            {
                "repoURL": "oci://registry.example.com/charts/session-database",
                "targetRevision": "0.1.0",
                "path": ".",
            },
        ),
    ],
    ids=["helm", "oci"],
)
def test_helm_and_oci_sources(workspace: Path, source: str, expected: dict[str, str]) -> None:
    spec = workspace / "values/topology.yaml"
    text = spec.read_text()
    start = text.index("    kind: git\n")
    end = text.index("\n\n", start)  # the end of the argocd section
    spec.write_text(text[:start] + source.rstrip("\n") + text[end:])
    result = render(BuildContext(spec=spec, out_root=workspace / "generated/helm", root=workspace))
    for name, data in result.argocd_files.items():
        (body,) = load_objects(data.decode())
        assert schema_errors(body) == [], name
        if body["kind"] == "Application":
            src = body["spec"]["source"]
            assert {k: v for k, v in src.items() if k != "helm"} == expected, name


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        (
            "    kind: git\n",
            "    kind: oci\n",
            "argocd.source.repoURL",
            "needs an oci:// reference",
        ),
        (
            "    repoURL: https://github.com/example-org/session-database.git\n",
            "    repoURL: oci://registry.example.com/x\n",
            "argocd.source.repoURL",
            "needs source kind oci",
        ),
        (
            "  application: production\n",
            "  application: qa\n",
            "argocd.application",
            "not an environment",
        ),
        ("    kind: git\n", "    kind: svn\n", "argocd.source.kind", "is not one of"),
        (
            "  project: default\n",
            "  project: default\n  prject: x\n",
            "argocd.prject",
            "unknown key",
        ),
    ],
    ids=["oci-without-oci-url", "oci-url-for-git", "unknown-environment", "bad-kind", "typo"],
)
def test_a_bad_argocd_section_is_refused_at_its_key(
    workspace: Path, old: str, new: str, key: str, message: str
) -> None:
    line = edit(workspace / "values/topology.yaml", old, new)
    result = chartgen(workspace, "build")
    assert result.returncode == 1, result.stderr
    (found,) = [row for row in result.stderr.splitlines() if f": {key}: " in row]
    assert found.startswith("values/topology.yaml:"), found
    assert abs(int(found.split(":")[1]) - line) <= 1, (found, line)
    assert message in found and "Traceback" not in result.stderr
    assert not (workspace / "generated").exists()


def test_an_overlay_may_move_its_cluster_but_not_the_source(workspace: Path) -> None:
    overlay = workspace / "values/environments/staging.yaml"
    overlay.write_text(overlay.read_text() + "  project: other\n")
    result = chartgen(workspace, "build")
    assert result.returncode == 1
    assert "argocd.project: structure cannot change per environment" in result.stderr


def test_build_check_and_validate_see_the_argocd_files(project: Path) -> None:
    assert chartgen(project, "build", "--check").returncode == 0
    app = project / "generated/k8s/argocd/application-staging.yaml"
    line = edit(app, "      prune: true\n", "      prune: yes-please\n")
    check = chartgen(project, "build", "--check")
    assert check.returncode == 1
    assert "generated/k8s/argocd is not what the spec builds" in check.stderr
    assert "changed: application-staging.yaml" in check.stderr
    out = validate(project, "--format", "json")
    problems = json.loads(out.stdout)["problems"]
    schema = [p for p in problems if p["check"] == "crd-schema"]
    assert [(p["file"], p["line"]) for p in schema] == [(str(app.relative_to(project)), line)]
    assert "'yes-please' is not of type 'boolean'" in schema[0]["message"]
    drift = [p for p in problems if p["check"] == "drift"]
    assert [p["file"] for p in drift] == ["generated/k8s/argocd/application-staging.yaml"]


def test_sync_waves_order_every_environment() -> None:
    """Secrets, certificates, ExternalSecret and ServiceAccounts, then ConfigMaps, then the
    workloads with their Services, PDBs and NetworkPolicies, then monitors; never on a pod
    template (a changed annotation there restarts the pods)."""
    order = ["secrets", "config", "workloads", "monitors"]
    assert [SYNC_WAVES[w] for w in order] == sorted(SYNC_WAVES.values())
    seen: set[str] = set()
    for env in (None, *ENVIRONMENTS):
        for obj in helm.render(CHART, env, extra=install_values(env)):
            annotations = obj.body["metadata"].get("annotations") or {}
            if "helm.sh/hook" in annotations:  # Argo CD runs Helm hooks as its own hooks
                assert WAVE not in annotations, (obj.kind, obj.name)
                continue
            assert obj.kind in WAVE_OF_KIND, f"{obj.kind} has no sync wave (render/argocd.py)"
            assert annotations.get(WAVE) == str(SYNC_WAVES[WAVE_OF_KIND[obj.kind]]), (
                env,
                obj.kind,
                obj.name,
            )
            template = obj.body.get("spec", {}).get("template", {}).get("metadata", {})
            assert WAVE not in (template.get("annotations") or {}), (obj.kind, obj.name)
            seen.add(obj.kind)
    assert {"Secret", "ExternalSecret", "Certificate", "ServiceAccount", "ConfigMap"} <= seen
    assert {"StatefulSet", "Service", "PodDisruptionBudget", "NetworkPolicy"} <= seen


def test_the_committed_argocd_files_are_the_build() -> None:
    result = render(
        BuildContext(spec=REPO / "values/topology.yaml", out_root=REPO / "generated/helm")
    )
    assert {p: d for p, d in result.argocd_files.items()} == {
        p.name: p.read_bytes() for p in sorted(ARGOCD.iterdir())
    }


def drop_argocd_section(project: Path) -> None:
    """The spec and its overlays without their top-level argocd blocks."""
    for path in [project / "values/topology.yaml", *(project / "values/environments").glob("*")]:
        kept, inside = [], False
        for line in path.read_text().splitlines(keepends=True):
            if line.startswith("argocd:"):
                inside = True
            elif inside and line.strip() and not line[0].isspace():
                inside = False
            if not inside:
                kept.append(line)
        path.write_text("".join(kept))


def test_a_spec_without_argocd_retires_the_earlier_builds_files(project: Path) -> None:
    drop_argocd_section(project)
    argocd = project / "generated/k8s/argocd"
    check = chartgen(project, "build", "--check")
    assert check.returncode == 1, check.stderr
    assert "generated/k8s/argocd is not what the spec builds" in check.stderr
    assert "not produced by the spec: application.yaml" in check.stderr
    drift = [
        p["file"]
        for p in json.loads(validate(project, "--format", "json").stdout)["problems"]
        if p["check"] == "drift" and p["file"].startswith("generated/k8s/")
    ]
    assert sorted(drift) == sorted(f"generated/k8s/argocd/{p.name}" for p in argocd.iterdir())
    built = chartgen(project, "build")
    assert built.returncode == 0, built.stderr
    assert "generated/k8s/argocd: removed (the spec has no argocd section)" in built.stdout
    assert not argocd.exists()
    assert not list(argocd.parent.glob(".argocd.chartgen-*"))
    assert chartgen(project, "build", "--check").returncode == 0


def test_a_file_a_person_wrote_keeps_the_argocd_folder(project: Path) -> None:
    drop_argocd_section(project)
    argocd = project / "generated/k8s/argocd"
    mine = argocd / "my-project.yaml"
    mine.write_text("apiVersion: argoproj.io/v1alpha1\nkind: AppProject\n")
    before = {p.name: p.read_bytes() for p in argocd.iterdir()}
    built = chartgen(project, "build")
    assert built.returncode == 0, built.stderr
    assert "removed" not in built.stdout
    assert {p.name: p.read_bytes() for p in argocd.iterdir()} == before
    assert chartgen(project, "build", "--check").returncode == 0
