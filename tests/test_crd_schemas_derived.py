"""schemas/crds/ is exactly what scripts/derive_crd_schemas.py derives from the vendored upstream
CRDs, every file records where it came from, and the crd-schema check loads each one."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from chartgen.validate.checks.crd_schema import served_versions, validator
from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "derive_crd_schemas.py"
SHIPPED = REPO / "chartgen" / "schemas" / "crds"
KINDS = {
    "monitoring.coreos.com": [
        "PrometheusRule",
        "ServiceMonitor",
        "PodMonitor",
        "AlertmanagerConfig",
    ],
    "cert-manager.io": ["Certificate", "Issuer", "ClusterIssuer"],
    "external-secrets.io": ["ExternalSecret", "SecretStore", "ClusterSecretStore"],
    "argoproj.io": ["Application", "ApplicationSet", "AppProject"],
}


def derive(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_shipped_schemas_are_the_derivation(tmp_path: Path) -> None:
    assert derive("--check").returncode == 0
    fresh = tmp_path / "crds"
    assert derive("--out", str(fresh)).returncode == 0
    assert {p.relative_to(fresh): p.read_bytes() for p in fresh.rglob("*") if p.is_file()} == {
        p.relative_to(SHIPPED): p.read_bytes() for p in SHIPPED.rglob("*") if p.is_file()
    }


def test_check_names_a_hand_edited_schema(tmp_path: Path) -> None:
    copy = tmp_path / "crds"
    shutil.copytree(SHIPPED, copy)
    edited = copy / "cert-manager.io" / "certificate_v1.json"
    edited.write_text(edited.read_text().replace('"additionalProperties": false', "{}", 1))
    (copy / "stray.json").write_text("{}")
    result = derive("--check", "--out", str(copy))
    assert result.returncode == 1
    assert "certificate_v1.json: differs" in result.stderr
    assert "stray.json: differs" in result.stderr


def test_every_kind_and_served_version_with_provenance() -> None:
    for group, kinds in KINDS.items():
        for kind in kinds:
            versions = served_versions(group, kind)
            assert versions, (group, kind)
            for version in versions:
                assert validator(f"{group}/{version}", kind) is not None
                path = SHIPPED / group / f"{kind.lower()}_{version}.json"
                provenance = json.loads(path.read_text())["x-provenance"]
                source = REPO / provenance["vendored"]
                assert hashlib.sha256(source.read_bytes()).hexdigest() == provenance["sha256"]
                assert len(provenance["commit"]) == 40 and provenance["tag"]
                assert provenance["upstreamPath"].endswith(source.name)
    assert served_versions("external-secrets.io", "ExternalSecret") == ["v1"]


def test_an_unserved_version_is_a_finding_naming_the_served_one(tmp_path: Path) -> None:
    """A chart edited to emit the guide's external-secrets.io/v1beta1 is reported by crd-schema
    at the apiVersion line, naming the version upstream serves."""
    from chartgen.engines.tools import Tools
    from chartgen.validate.checks import crd_schema
    from chartgen.validate.context import ValidateContext
    from tests.conftest import CHART

    chart = tmp_path / "generated/helm/session-database"
    shutil.copytree(CHART, chart)
    shutil.copytree(REPO / "values", tmp_path / "values")
    template = chart / "templates/externalsecret.yaml"
    template.write_text(
        template.read_text().replace("{{ $external.apiVersion }}", "external-secrets.io/v1beta1")
    )
    ctx = ValidateContext(
        spec=tmp_path / "values/topology.yaml",
        chart_root=chart.parent,
        environments=("production",),
        kube_versions=("1.25.0",),
        tools=Tools(),
        root=tmp_path,
    )
    (problem,) = list(crd_schema.check(ctx))
    assert "external-secrets.io/v1beta1 ExternalSecret is not served" in problem.message
    assert "served: external-secrets.io/v1" in problem.message
    assert problem.location.file.endswith("templates/externalsecret.yaml")
