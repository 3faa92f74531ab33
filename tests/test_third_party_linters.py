"""checkov and kube-score, the real tools, on every environment's render: zero findings, and
the only waivers are the documented ones (the linters' own annotations, listed in the chart
README's Linters section)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from tests.conftest import CHART, ENVIRONMENTS, REPO, install_values
from tests.tools import go_tool

DIGEST = "sha256:" + "0123456789abcdef" * 4
STATEFULSETS = {"sessions-session-database-redis", "sessions-session-database-sentinel"}
ENDPOINT = "sessions-session-database-endpoint"  # ha mode only
CACHE = "sessions-session-database-cache"  # the cache's own group: production's layout
CRONJOBS = {
    "sessions-session-database-session-cleanup",
    "sessions-session-database-cache-cleanup",
}
# check id -> the workloads checkov may skip it on (chart README, Linters)
# the backup CronJob, the restore Job (rendered with restore values) and the helm test Pod
JOBS = {
    "sessions-session-database-backup",
    "sessions-session-database-restore",
    "sessions-session-database-test",
}
TEST_POD = "sessions-session-database-test"  # runs to completion: no probes
RESTORE = "sessions-session-database-restore"
# the bundled monitoring stack (monitoring.mode bundled: staging)
BUNDLED = {
    "sessions-session-database-prometheus",
    "sessions-session-database-alertmanager",
    "sessions-session-database-grafana",
}
BUNDLED_ENVIRONMENTS = {"staging"}
CHECKOV_WAIVERS = {
    "CKV_K8S_43": {*STATEFULSETS, ENDPOINT, CACHE, *CRONJOBS, *JOBS, *BUNDLED},
    "CKV_K8S_8": {TEST_POD},
    "CKV_K8S_9": {TEST_POD},
}
# kube-score/ignore annotations: one Grafana on its ReadWriteOnce volume (bundled stack).
GRAFANA = "sessions-session-database-grafana"
KUBE_SCORE_WAIVERS: dict[str, set[str]] = {"deployment-replicas": {GRAFANA}}


def checkov() -> str:
    """checkov from its own virtualenv (.ci/run makes .venv-checkov), else from PATH."""
    own = REPO / ".venv-checkov" / "bin" / "checkov"
    found = str(own) if own.is_file() else shutil.which("checkov")
    assert found, (
        "checkov is missing: .ci/run installs it into .venv-checkov "
        "(python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov==3.3.30)"
    )
    return found


def manifests(environment: str, tmp_path: Path, extra: dict[str, Any] | None = None) -> Path:
    """The environment's render as one multi-document file (JSON documents are YAML)."""
    objects = helm.render(CHART, environment, extra=install_values(environment, extra))
    path = tmp_path / f"{environment}.yaml"
    path.write_text("".join(f"---\n{json.dumps(o.body)}\n" for o in objects), "utf-8")
    return path


def checkov_report(path: Path) -> dict[str, Any]:
    result = subprocess.run(
        # --skip-download: the built-in checks only, nothing fetched
        [checkov(), "-f", str(path), "--framework", "kubernetes", "-o", "json", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def kube_score_report(path: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [go_tool("kube-score"), "score", "-o", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report: list[dict[str, Any]] = json.loads(result.stdout)
    return report


def _resource_name(resource: str) -> str:
    return resource.rsplit(".", 1)[-1]  # StatefulSet.<namespace>.<name>


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_checkov_finds_nothing_unwaived(environment: str, tmp_path: Path) -> None:
    report = checkov_report(manifests(environment, tmp_path))
    results = report["results"]
    failed = [(c["check_id"], c["resource"]) for c in results["failed_checks"]]
    assert failed == [], failed
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 50, report["summary"]  # it did read the objects
    skipped = {(c["check_id"], _resource_name(c["resource"])) for c in results["skipped_checks"]}
    expected = {
        (check, name)
        for check, names in CHECKOV_WAIVERS.items()
        for name in names
        # development is standalone: no Sentinels, no HAProxy; no restore Job unless asked;
        # only production runs the cache on a group of its own
        if name != RESTORE
        and (
            name.endswith("-redis")
            or name in CRONJOBS
            or name in JOBS
            or environment != "development"
        )
        and (name != CACHE or environment == "production")
        and (name not in BUNDLED or environment in BUNDLED_ENVIRONMENTS)
    }
    assert skipped == expected


def test_checkov_needs_no_waiver_once_a_digest_is_pinned(tmp_path: Path) -> None:
    # a placeholder digest: the real one of the image is not known here (no registry access)
    pinned = {
        "image": {"digest": DIGEST},
        "endpoint": {"image": {"digest": DIGEST}},
        "monitoring": {"exporter": {"image": {"digest": DIGEST}}},
    }
    report = checkov_report(manifests("production", tmp_path, pinned))
    assert report["results"]["failed_checks"] == []
    skipped = {
        (c["check_id"], _resource_name(c["resource"])) for c in report["results"]["skipped_checks"]
    }
    # not a digest waiver: the helm test Pod's probes (the exporter's password is a mounted
    # file since its wrapper follows rotation: no secrets-as-env waiver)
    assert skipped == {("CKV_K8S_8", TEST_POD), ("CKV_K8S_9", TEST_POD)}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_kube_score_finds_nothing_unwaived(environment: str, tmp_path: Path) -> None:
    report = kube_score_report(manifests(environment, tmp_path))
    names = {o["object_name"] for o in report}
    assert any(n.endswith("-redis") for n in names), names  # it did read the objects
    findings, waived = [], set()
    for scored in report:
        for check in scored["checks"]:
            test = check["check"]["id"]
            if check["skipped"]:
                # optional tests are off unless enabled, some do not apply (one replica: no
                # PDB needed); a test the object ignores by annotation is a waiver
                ignored = any("is ignored" in c["summary"] for c in check["comments"] or ())
                if ignored and not check["check"]["optional"]:
                    waived.add((test, scored["object_name"].rsplit("/", 1)[-1]))
            elif check["grade"] < 10:
                findings.append((scored["object_name"], test, check["comments"]))
    assert findings == []
    assert waived == {
        (t, n)
        for t, objects in KUBE_SCORE_WAIVERS.items()
        for n in objects
        if n != GRAFANA or environment in BUNDLED_ENVIRONMENTS
    }, waived


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_waivers_sit_on_the_statefulsets_not_the_pods(environment: str) -> None:
    # a waiver on the pod template would roll the pods when it changes
    for o in helm.render(CHART, environment, extra=install_values(environment)):
        spec = o.body.get("spec", {})
        template = spec.get("jobTemplate", {}).get("spec", spec).get("template", {})
        pod_annotations = template.get("metadata", {}).get("annotations", {})
        assert not [k for k in pod_annotations if k.startswith(("checkov.io", "kube-score"))]
        annotations = dict(o.body["metadata"].get("annotations", {}))
        if o.name == GRAFANA and o.kind == "Deployment":
            assert annotations.pop("kube-score/ignore") == "deployment-replicas"
        if o.name in BUNDLED and o.kind in ("StatefulSet", "Deployment"):
            component = o.name.rsplit("-", 1)[-1]
            assert annotations["checkov.io/skip1"] == (
                "CKV_K8S_43=no digest known at build time; "
                f"set monitoring.bundled.{component}.image.digest"
            )
        elif o.kind == "StatefulSet":
            assert annotations["checkov.io/skip1"] == (
                "CKV_K8S_43=no digest known at build time; set image.digest"
            )
        elif o.kind == "Deployment":
            assert annotations["checkov.io/skip1"] == (
                "CKV_K8S_43=no digest known at build time; set endpoint.image.digest"
            )
        elif o.kind == "CronJob" or (
            o.kind in ("Job", "Pod") and o.name in JOBS
        ):  # Jobs never roll
            assert annotations["checkov.io/skip1"] == (
                "CKV_K8S_43=no digest known at build time; set image.digest"
            )
        else:
            assert not [k for k in annotations if k.startswith(("checkov.io", "kube-score"))]


def test_the_chart_readme_gives_each_waiver_a_reason() -> None:
    readme = (CHART / "README.md").read_text("utf-8")
    linters = readme.split("## Linters", 1)[1].split("\n## ", 1)[0]
    for check in (*CHECKOV_WAIVERS, *KUBE_SCORE_WAIVERS):
        row = next((line for line in linters.splitlines() if f"`{check}`" in line), "")
        assert row.count("|") >= 5 and row.rstrip(" |").split("|")[-1].strip(), check
