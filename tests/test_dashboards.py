"""The Grafana dashboards: stable uids of at most 40 characters, byte-identical JSON across
builds, every query scoped to one release, and the chart's ConfigMap as the real Helm v3 CLI
renders it (keys equal to the generated files, sidecar label and folder in operator mode only,
well under the size limits, valid against the strict Kubernetes schema)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.engines.kube_schema import DEFAULT_VERSIONS, KubeValidator, resolve_version
from chartgen.monitoring import dashboards
from chartgen.monitoring.alerts import ALERTS
from tests import promql as dq
from tests.conftest import CHART, ENVIRONMENTS, REPO, install_values
from tests.tools import go_tool

RELEASE = NAMESPACE = "session-database"
CONFIGMAP = f"{RELEASE}-dashboards"
NAMES = sorted(f"{name}.json" for name in dashboards.TITLES)
MIB = 1024 * 1024
# kubectl's client-side apply (Argo CD's default) copies the object into an annotation, and
# annotations are limited to 256 KiB together
ANNOTATION_LIMIT = 256 * 1024
SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}")
RELEASE_SCOPES = (
    'service="$release-redis-headless"',
    'service=~"$release-(redis|cache)-headless"',
    'service="$release-sentinel-headless"',
    'service=~"$release-(redis|cache|sentinel)-headless"',
    'pod=~"$release-(redis|cache|sentinel)-[0-9]+"',
)


def render(environment: str, monitoring: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    extra = {"monitoring": monitoring} if monitoring else None
    objects = helm.render_cli(
        go_tool("helm"),
        CHART,
        environment,
        release=RELEASE,
        namespace=NAMESPACE,
        extra=install_values(environment, extra),
    )
    return [o.body for o in objects]


def configmap(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    found = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == CONFIGMAP]
    return found[0] if found else None


def test_uids_are_unique_short_and_derived_from_the_chart_name_only() -> None:
    for environment in ENVIRONMENTS:
        uids = [dq.load(path)["uid"] for path in dq.files(environment)]
        assert len(uids) == len(NAMES) == len(set(uids)), uids
        assert all(len(uid) <= dashboards.UID_LIMIT for uid in uids), uids
        assert all(uid.startswith("session-database-") for uid in uids), uids
    # the same uids in every environment: a release's upgrade replaces its dashboards
    per_env = {e: sorted(dq.load(p)["uid"] for p in dq.files(e)) for e in ENVIRONMENTS}
    assert len({tuple(u) for u in per_env.values()}) == 1, per_env
    long_names = ["a-very-long-chart-name-for-sessions-and-cache-x", "a-very-long-chart-name-y"]
    cut = {dashboards.uid(name, suffix) for name in long_names for suffix in ("overview", "x")}
    assert len(cut) == 4 and all(len(u) <= 40 for u in cut), cut
    assert dashboards.uid(long_names[0], "overview") == dashboards.uid(long_names[0], "overview")


def _build(out: Path) -> dict[str, bytes]:
    result = subprocess.run(
        [sys.executable, "-m", "chartgen", "build", "--out", str(out / "helm")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = sorted((out / "monitoring").glob("*/dashboards/*.json"))
    found += sorted((out / "helm").glob("*/files/dashboards/*.json"))
    return {str(p.relative_to(out)): p.read_bytes() for p in found}


def test_two_builds_give_byte_identical_json_equal_to_the_committed_files(tmp_path: Path) -> None:
    first, second = _build(tmp_path / "one"), _build(tmp_path / "two")
    assert len(first) == len(NAMES) * (len(ENVIRONMENTS) + 1)
    assert first == second
    for name, data in first.items():
        committed = REPO / "generated" / name
        assert data == committed.read_bytes(), f"{committed} differs: run chartgen build"
        board = json.loads(data)
        # sorted keys, two-space indent: the encoding the build promises
        assert data.decode() == json.dumps(board, sort_keys=True, indent=2) + "\n"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_panels_have_fixed_ids_and_every_query_is_scoped_to_one_release(environment: str) -> None:
    for path in dq.files(environment):
        board = dq.load(path)
        ids = [panel["id"] for panel in dq.panels(board)]
        assert ids == list(range(1, len(ids) + 1)), (path.name, ids)
        # a real datasource variable: the sidecar cannot fill __inputs / ${DS_...} in
        assert "__inputs" not in board and "${DS_" not in path.read_text(), path.name
        names = dq.variables(board)
        assert names["datasource"]["type"] == "datasource"
        assert names["datasource"]["query"] == "prometheus"
        assert {"namespace", "release", "pod"} <= names.keys()
        for panel in dq.panels(board):
            for target in panel.get("targets", []):
                assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
                assert target["refId"], (path.name, panel["title"])
        for where, expr in dq.expressions(board):
            if re.fullmatch(r"vector\(\$[a-z_]+\)", expr):
                continue  # a spec parameter (a constant of the dashboard), no series
            selectors = SELECTOR.findall(expr)
            assert selectors, (path.name, where, expr)
            for metric, matchers in selectors:
                assert 'namespace="$namespace"' in matchers, (path.name, where, metric)
                assert any(scope in matchers for scope in RELEASE_SCOPES), (where, metric)
            # no metric is read without a selector (it would mix releases)
            bare = re.sub(r'"[^"]*"', '""', expr)
            assert not set(
                re.findall(r"\b(redis_[a-z_]+|ALERTS|container_[a-z_]+|kube_[a-z_]+)\b(?!\{)", bare)
            ), (where, expr)


def test_the_alert_status_board_lists_every_alert_of_the_rules() -> None:
    board = dq.load(dq.files("production")[0].parent / "alerts.json")
    lists = {
        frozenset(names.split("|"))
        for _, expr in dq.expressions(board)
        for names in re.findall(r'alertname=~"([^"]*)"', expr)
    }
    assert lists == {frozenset(alert.name for alert in ALERTS)}, lists


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_configmap_holds_exactly_the_generated_dashboards(environment: str) -> None:
    found = configmap(render(environment))
    assert found is not None, f"no ConfigMap {CONFIGMAP} in the {environment} render"
    folder = dq.files(environment)[0].parent
    assert sorted(found["data"]) == NAMES
    for key, text in found["data"].items():
        assert text == (folder / key).read_text(), f"{key} differs from {folder / key}"
        assert "@values." not in text  # every token replaced by the release's value
    # the spec parameters the sessions board shows are this environment's
    constants = dq.constants(json.loads(found["data"]["sessions.json"]))
    values = helm.merged_values(CHART, environment)
    assert constants["max_sessions_per_user"] == str(values["sessions"]["maxSessionsPerUser"])
    size = sum(len(k) + len(v.encode()) for k, v in found["data"].items())
    serialised = len(json.dumps(found).encode())
    print(f"\n{environment}: data {size} bytes, object as JSON {serialised} bytes")
    assert size < MIB
    assert serialised < ANNOTATION_LIMIT
    labels, annotations = found["metadata"]["labels"], found["metadata"]["annotations"]
    if values["monitoring"]["mode"] == "operator":  # the sidecar finds it by label
        assert labels["grafana_dashboard"] == "1"
    else:  # the bundled Grafana mounts it by name; no foreign sidecar may pick it up
        assert values["monitoring"]["mode"] == "bundled"
        assert "grafana_dashboard" not in labels
    assert "grafana_folder" not in annotations
    validator = KubeValidator(resolve_version(DEFAULT_VERSIONS[-1]))
    assert list(validator.validate(found)) == []


def test_a_values_change_reaches_the_constants_and_only_them() -> None:
    found = configmap(render("production"))
    changed = helm.render_cli(
        go_tool("helm"),
        CHART,
        "production",
        release=RELEASE,
        namespace=NAMESPACE,
        extra=install_values("production", {"sessions": {"maxSessionsPerUser": 9}}),
    )
    other = configmap([o.body for o in changed])
    assert found is not None and other is not None
    before, after = (json.loads(c["data"]["sessions.json"]) for c in (found, other))
    assert dq.constants(after)["max_sessions_per_user"] == "9"
    after["templating"] = before["templating"] = None
    assert before == after


def test_sidecar_label_and_folder_in_operator_mode_only() -> None:
    operator = configmap(
        render(
            "staging",
            {
                "mode": "operator",
                "dashboards": {
                    # Helm merges maps: null drops the default label
                    "sidecarLabel": {"grafana_dashboard": None, "team-dashboards": "redis"},
                    "folder": "Redis",
                    "folderAnnotation": "k8s-sidecar-target-directory",
                },
            },
        )
    )
    assert operator is not None
    assert operator["metadata"]["labels"]["team-dashboards"] == "redis"
    assert "grafana_dashboard" not in operator["metadata"]["labels"]
    assert operator["metadata"]["annotations"]["k8s-sidecar-target-directory"] == "Redis"
    bundled = configmap(render("staging", {"mode": "bundled", "dashboards": {"folder": "R"}}))
    assert bundled is not None
    assert "grafana_dashboard" not in bundled["metadata"]["labels"]
    assert "grafana_folder" not in bundled["metadata"]["annotations"]
    assert sorted(bundled["data"]) == NAMES
    assert configmap(render("staging", {"mode": "none"})) is None
    assert configmap(render("staging", {"dashboards": {"enabled": False}})) is None
