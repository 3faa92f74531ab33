"""`chartgen validate` on the committed chart (green) and on seeded breakages (red, located)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from chartgen.validate.checks import CHECK_IDS, server_dry_run
from tests.conftest import REPO

TEMPLATES = "generated/helm/session-database/templates"
# Every check but the one only `--server` runs (tests/kube/test_validate_server.py)
OFFLINE_CHECKS = [c for c in CHECK_IDS if c != server_dry_run.ID]


def validate(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chartgen", "validate", "--no-cache", "--embedded-schemas", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def edit(path: Path, old: str, new: str) -> int:
    """Replace `old` once; return the 1-based line where the new text starts."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1))
    return line


def test_committed_chart_is_green() -> None:
    result = validate(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stdout
    assert f"from {len(OFFLINE_CHECKS)} checks" in result.stdout


def test_strict_fails_on_a_warning(project: Path) -> None:
    # production back on one group with the seed's allkeys-lru beside the sessions: a warning
    overlay = project / "values/environments/production.yaml"
    edit(overlay, "    group: separate", "    group: shared")
    line = edit(overlay, "maxmemoryPolicy: noeviction", "maxmemoryPolicy: allkeys-lru")
    build = [sys.executable, "-m", "chartgen", "build"]
    built = subprocess.run(build, cwd=project, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr  # a warning does not stop the build
    assert validate(project).returncode == 0
    result = validate(project, "--strict")
    assert result.returncode == 1
    assert (
        f"values/environments/production.yaml:{line}:5: redis.config.maxmemoryPolicy: warning:"
        in result.stdout
    )


def test_list_checks_documents_every_check() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chartgen", "validate", "--list-checks"],
        capture_output=True,
        text=True,
        check=True,
    )
    for check_id in CHECK_IDS:
        line = next(ln for ln in result.stdout.splitlines() if ln.startswith(check_id + " "))
        assert len(line.split(None, 2)[2]) > 30, line


def test_seeded_breakages_are_reported_at_their_source(project: Path) -> None:
    templates = project / TEMPLATES
    statefulset = templates / "redis/statefulset.yaml"
    escalation = (
        edit(
            statefulset,
            "          securityContext:\n",
            "          securityContext:\n            privileged: true\n",
        )
        + 1
    )
    replicas = edit(
        statefulset,
        "replicas: {{ int $g.replicas }}",
        'replicas: "{{ $g.replicas }}"',
    )
    edit(statefulset, "          readinessProbe:", "          readinessCheck:")
    containers = edit(statefulset, "      containers:\n", "      containers:\n")
    image = edit(
        templates / "sentinel/statefulset.yaml",
        'image: {{ include "session-database.image" . | quote }}',
        'image: "{{ .Values.image.repository }}"',
    )
    secret = (
        edit(
            templates / "redis/configmap.yaml",
            "    protected-mode no\n",
            "    protected-mode no\n    requirepass s3cr3t-in-a-configmap\n",
        )
        + 1
    )
    (templates / "networkpolicy.yaml").unlink()
    spec_text = (project / "values/topology.yaml").read_text()
    spec_line = spec_text[: spec_text.index("redis:\n  replicas")].count("\n") + 2
    values_line = edit(
        project / "generated/helm/session-database/values-staging.yaml",
        'size: "4Gi"',
        'size: "4Gi"\n    bogus: 1',
    )

    result = validate(project, "--format", "text")

    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    chart = "generated/helm/session-database"
    expected = [
        f"{TEMPLATES}/redis/statefulset.yaml:{escalation}:13: [production] StatefulSet/"
        "sessions-session-database-redis.spec.template.spec.containers.0.securityContext."
        "privileged: privileged containers are not allowed [pod-security]",
        f"{TEMPLATES}/redis/statefulset.yaml:{replicas}:3: [production] StatefulSet/"
        "sessions-session-database-redis.spec.replicas: Kubernetes 1.25.0: '3' is not of type "
        f"'integer', 'null' (set by values/topology.yaml:{spec_line}:3 redis.replicas) "
        "[kube-schema]",
        f"{TEMPLATES}/redis/statefulset.yaml:{containers}:7: [production] StatefulSet/"
        "sessions-session-database-redis.spec.template.spec.containers.0: container redis has "
        "no readinessProbe [resources-probes]",
        f"{TEMPLATES}/sentinel/statefulset.yaml:{image}:11: [production] StatefulSet/"
        "sessions-session-database-sentinel.spec.template.spec.containers.0.image: image "
        "'redis' is not pinned to a version",
        f"{TEMPLATES}/redis/configmap.yaml:{secret}:5: [production] ConfigMap/"
        "sessions-session-database-redis.data.redis.conf: a password in clear text in a "
        "ConfigMap (requirepass) [secret-material]",
        "no default-deny NetworkPolicy (Ingress and Egress) selects these pods [network-policy]",
        f"{chart}/templates/networkpolicy.yaml:1:1: templates/networkpolicy.yaml: missing",
        f"{chart}/templates/redis/statefulset.yaml:1:1: templates/redis/statefulset.yaml: "
        "differs from what the spec builds [drift]",
    ]
    for line in expected:
        assert line in out, f"missing:\n{line}\n--- got:\n{out}"
    assert (
        f"{chart}/values-staging.yaml:{values_line + 1}:5: [staging] redis.persistence.bogus: "
        "values.schema.json: additional properties 'bogus' not allowed [render]"
    ) in out


def test_spec_problem_and_config(project: Path) -> None:
    spec = project / "values/topology.yaml"
    line = edit(spec, "mode: ha", "mode: ha\nchecks:\n  disable: [drift, nope]")
    result = validate(project)
    assert result.returncode == 1
    assert (
        f"values/topology.yaml:{line + 2}:20: checks.disable[1]: unknown check 'nope' "
        "[config]" in result.stdout
    )
    assert "[drift]" not in result.stdout

    (project / ".chartgen.yaml").write_text("checks:\n  severity:\n    spec: info\n")
    edit(spec, "  disable: [drift, nope]", "  disable: [drift]")
    edit(spec, "maxmemory: 768mb", "maxmemory: 9gb")
    result = validate(project)
    assert result.returncode == 0, result.stdout
    assert (
        "redis.config.maxmemory: info: 9gb is not below the memory limit 2Gi "
        "[spec/maxmemory-limit]" in result.stdout
    )


def test_kubernetes_versions_are_chosen_and_checked(project: Path) -> None:
    edit(
        project / TEMPLATES / "redis/statefulset.yaml",
        "replicas: {{ int $g.replicas }}",
        'replicas: "{{ $g.replicas }}"',
    )
    chosen = validate(project, "--env", "production", "--kube-version", "1.30", "--format", "json")
    assert chosen.returncode == 1, chosen.stdout + chosen.stderr
    messages = [p["message"] for p in json.loads(chosen.stdout)["problems"]]
    schema = [m for m in messages if m.startswith("Kubernetes ")]
    assert schema and all(m.startswith("Kubernetes 1.30.0: ") for m in schema), schema
    default = validate(project, "--env", "production", "--format", "json")
    versions = {
        p["message"].split(":")[0]
        for p in json.loads(default.stdout)["problems"]
        if p["message"].startswith("Kubernetes ")
    }
    assert len(versions) == 2 and "Kubernetes 1.25.0" in versions, versions
    unknown = validate(REPO, "--kube-version", "1.99")
    assert unknown.returncode == 2
    assert "no Kubernetes schemas for 1.99 (shipped: 1.25.0 to " in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_unknown_environment_is_a_usage_error() -> None:
    result = validate(REPO, "--env", "qa")
    assert result.returncode == 2
    assert "unknown environment(s): qa" in result.stderr


@pytest.mark.parametrize("fmt", ["json", "junit", "github", "sarif"])
def test_machine_formats(project: Path, fmt: str) -> None:
    edit(
        project / TEMPLATES / "redis/statefulset.yaml",
        "          securityContext:\n",
        "          securityContext:\n            privileged: true\n",
    )
    result = validate(project, "--env", "development", "--format", fmt)
    assert result.returncode == 1
    out = result.stdout
    if fmt == "json":
        report = json.loads(out)
        problem = next(p for p in report["problems"] if p["check"] == "pod-security")
        assert problem["file"] == f"{TEMPLATES}/redis/statefulset.yaml"
        assert problem["line"] > 1 and problem["severity"] == "error"
        assert report["summary"]["error"] >= 2  # pod-security and drift
    elif fmt == "junit":
        root = ElementTree.fromstring(out.split("\n", 1)[1])
        suite = root.find("testsuite")
        assert suite is not None and suite.get("tests") == str(len(OFFLINE_CHECKS))
        failing = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
        assert failing == {"pod-security", "drift"}
    elif fmt == "github":
        assert any(
            line.startswith(f"::error file={TEMPLATES}/redis/statefulset.yaml,line=")
            and "title=chartgen pod-security::" in line
            for line in out.splitlines()
        )
    else:
        log = json.loads(out)
        run = log["runs"][0]
        assert log["version"] == "2.1.0"
        assert {r["id"] for r in run["tool"]["driver"]["rules"]} == set(OFFLINE_CHECKS)
        result_ = next(r for r in run["results"] if r["ruleId"] == "pod-security")
        region = result_["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] > 1 and result_["level"] == "error"


CACHE_NOTE = "verdict from .chartgen-cache/"


def cached_validate(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    """(stdout, 'hit' or 'miss') of a validate that may answer from the cache."""
    result = subprocess.run(
        [sys.executable, "-m", "chartgen", "validate", "--embedded-schemas", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.stdout, "hit" if CACHE_NOTE in result.stderr else "miss"


def test_unchanged_tree_is_answered_from_the_cache(project: Path) -> None:
    first, how = cached_validate(project)
    assert how == "miss"
    assert len(list((project / ".chartgen-cache" / "validate").glob("*.json"))) == 1
    second, how = cached_validate(project)
    assert (second, how) == (first, "hit")
    edit(
        project / TEMPLATES / "redis/statefulset.yaml",
        "          securityContext:\n",
        "          securityContext:\n            privileged: true\n",
    )
    third, how = cached_validate(project)
    assert how == "miss" and "privileged" in third and "privileged" not in first
    # an overlay and the settings file are part of the key too
    overlay = project / "values/environments/staging.yaml"
    overlay.write_text(overlay.read_text() + "\n")
    assert cached_validate(project)[1] == "miss"
    (project / ".chartgen.yaml").write_text("checks: {disable: [amtool]}\n")
    assert cached_validate(project)[1] == "miss"
    assert cached_validate(project)[1] == "hit"


def test_spec_at_the_repository_root_hits_the_cache(project: Path) -> None:
    """The key hashes the spec and its overlays, not the folder holding them (and the cache)."""
    (project / "values/topology.yaml").rename(project / "topology.yaml")
    (project / "values/environments").rename(project / "environments")
    args = ("--spec", "topology.yaml", "--env", "development")
    assert cached_validate(project, *args)[1] == "miss"
    assert cached_validate(project, *args)[1] == "hit"


@pytest.mark.parametrize(
    ("edited", "old", "new"),
    [
        ("templates/chart/templates/NOTES.txt.j2", "\n", "\n[# edited #]\n"),
        ("validate/checks/image_pinned.py", "\n", "\n# edited\n"),
        ("schemas/topology.schema.json", "{", "{ "),
    ],
)
def test_editing_chartgen_itself_invalidates_the_cache(
    project: Path, tmp_path: Path, edited: str, old: str, new: str
) -> None:
    """A changed template, check or schema of chartgen (same version string) is a new verdict."""
    package = tmp_path / "pkg"
    shutil.copytree(
        REPO / "chartgen", package / "chartgen", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {**os.environ, "PYTHONPATH": str(package)}
    args = ("--env", "development")
    _, how = cached_validate(project, *args, env=env)
    assert how == "miss"
    assert cached_validate(project, *args, env=env)[1] == "hit"
    target = package / "chartgen" / edited
    text = target.read_text()
    target.write_text(text.replace(old, new, 1))
    assert cached_validate(project, *args, env=env)[1] == "miss"
