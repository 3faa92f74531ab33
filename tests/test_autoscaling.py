"""Autoscaling (chart README, Autoscaling): the HAProxy endpoint gets an autoscaling/v2
HorizontalPodAutoscaler where the spec enables it, its Deployment then carries no replicas of its
own; the rules refuse Sentinels, data pods, memory targets on data pods, data-pod minimums below
what writes need, and standalone mode, each at the offending key."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.engines.kube_schema import resolve_version
from chartgen.engines.kubeconform import run_kubeconform
from chartgen.errors import Problem, RenderError, SpecError
from chartgen.topology.autoscaling import data_min_replicas
from chartgen.topology.resolve import resolve
from tests.conftest import CHART, ENVIRONMENTS, install_values
from tests.tools import go_tool


def _objects(environment: str, extra: dict[str, Any] | None = None) -> list[helm.RenderedObject]:
    return helm.render(CHART, environment, extra=install_values(environment, extra))


def _of(objects: list[helm.RenderedObject], kind: str) -> list[dict[str, Any]]:
    return [o.body for o in objects if o.kind == kind]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_only_the_endpoint_is_autoscaled_in_every_environment(environment: str) -> None:
    objects = _objects(environment)
    hpas = _of(objects, "HorizontalPodAutoscaler")
    deployments = {d["metadata"]["name"]: d for d in _of(objects, "Deployment")}
    statefulsets = _of(objects, "StatefulSet")
    # the data pods and Sentinels keep their fixed counts everywhere
    assert statefulsets and all(isinstance(s["spec"]["replicas"], int) for s in statefulsets)
    if environment == "development":  # standalone: no HAProxy, nothing to scale
        assert hpas == [] and deployments == {}
        return
    (hpa,) = hpas
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert target["kind"] == "Deployment" and target["apiVersion"] == "apps/v1"
    assert target["name"].endswith("-endpoint") and target["name"] in deployments
    assert "replicas" not in deployments[target["name"]]["spec"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    targets = {
        m["resource"]["name"]: m["resource"]["target"]["averageUtilization"]
        for m in hpa["spec"]["metrics"]
    }
    assert targets == {"cpu": 70, "memory": 80}  # the seed's thresholds
    down = hpa["spec"]["behavior"]["scaleDown"]
    assert down["stabilizationWindowSeconds"] == 300
    assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]
    # the pods the utilisation is measured against have requests for both metrics
    container = deployments[target["name"]]["spec"]["template"]["spec"]["containers"][0]
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])


def test_without_the_autoscaler_the_deployment_keeps_its_count() -> None:
    objects = _objects("production", {"endpoint": {"autoscaling": {"enabled": False}}})
    assert _of(objects, "HorizontalPodAutoscaler") == []
    (deployment,) = _of(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2


def test_a_metric_can_be_dropped() -> None:
    extra = {"endpoint": {"autoscaling": {"targetMemoryUtilizationPercentage": None}}}
    (hpa,) = _of(_objects("production", extra), "HorizontalPodAutoscaler")
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"endpoint": {"autoscaling": {"maxReplicas": 0}}}, "schema"),
        ({"redis": {"autoscaling": {"enabled": True}}}, "schema"),
        ({"sentinel": {"autoscaling": {"enabled": True}}}, "schema"),
        ({"endpoint": {"autoscaling": {"minReplicas": 5, "maxReplicas": 3}}}, "below"),
        (
            {
                "endpoint": {
                    "autoscaling": {
                        "targetCPUUtilizationPercentage": None,
                        "targetMemoryUtilizationPercentage": None,
                    }
                }
            },
            "needs targetCPUUtilizationPercentage",
        ),
    ],
)
def test_helm_values_cannot_autoscale_what_the_spec_refuses(
    values: dict[str, Any], message: str
) -> None:
    """values.schema.json has no autoscaling for data pods or Sentinels, and the template
    refuses bounds the spec rules would."""
    with pytest.raises(RenderError, match=message):
        _objects("production", values)


def _kubeconform(bodies: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as folder:
        files = []
        for index, body in enumerate(bodies):
            path = Path(folder) / f"{index}.json"
            path.write_text(json.dumps(body))
            files.append(path)
        return sorted(
            run_kubeconform(go_tool("kubeconform"), files, version),
            key=lambda e: str(e["filename"]),
        )


@pytest.mark.parametrize("version", ["1.25", "latest"])
def test_kubeconform_validates_the_autoscaler_strictly(version: str) -> None:
    (hpa,) = _of(_objects("production"), "HorizontalPodAutoscaler")
    broken = json.loads(json.dumps(hpa))
    broken["spec"]["behavior"]["scaleDown"]["policies"][0]["periodSecond"] = 60  # a typo
    verdicts = _kubeconform([hpa, broken], resolve_version(version))
    assert [v["status"] for v in verdicts] == ["statusValid", "statusInvalid"], verdicts


# --- spec rules -----------------------------------------------------------------------------


def _problems(workspace: Path, overlay: str, text: str, after: str = "") -> list[Problem]:
    """The problems of the spec with `text` put into the overlay `overlay` below the line
    `after` (a top-level key the overlay already has), or at its end."""
    path = workspace / "values/environments" / f"{overlay}.yaml"
    current = path.read_text()
    if after:
        assert f"\n{after}\n" in current, after
        path.write_text(current.replace(f"\n{after}\n", f"\n{after}\n{text}", 1))
    else:
        path.write_text(current + text)
    with pytest.raises(SpecError) as error:
        resolve(workspace / "values/topology.yaml", root=workspace)
    return list(error.value.problems)


def _line_of(workspace: Path, overlay: str, needle: str) -> tuple[int, int]:
    lines = (workspace / "values/environments" / f"{overlay}.yaml").read_text().splitlines()
    (found,) = [(n, line.index(needle)) for n, line in enumerate(lines, 1) if needle in line]
    indent = len(needle) - len(needle.lstrip())
    return found[0], found[1] + indent + 1


def _by_rule(problems: list[Problem], rule: str) -> list[Problem]:
    return [p for p in problems if p.rule == rule]


def test_sentinels_are_never_autoscaled(workspace: Path) -> None:
    problems = _problems(
        workspace, "production", "  autoscaling: {enabled: true, minReplicas: 3}\n", "sentinel:"
    )
    (problem,) = _by_rule(problems, "autoscaling-sentinel")
    assert problem.key == "sentinel.autoscaling.enabled"
    assert problem.severity == "error"
    assert "majority (2)" in problem.message and "SENTINEL RESET" in problem.message
    path = "values/environments/production.yaml"
    line, column = _line_of(workspace, "production", "enabled: true, minReplicas: 3")
    assert (problem.location.file, problem.location.line) == (path, line)
    assert problem.location.column == column


def test_standalone_mode_autoscales_nothing(workspace: Path) -> None:
    problems = _problems(workspace, "development", "endpoint:\n  autoscaling:\n    enabled: true\n")
    (problem,) = _by_rule(problems, "autoscaling-standalone")
    assert problem.key == "endpoint.autoscaling.enabled"
    assert "exactly one data pod" in problem.message
    assert problem.location.line == _line_of(workspace, "development", "enabled: true")[0]


def test_data_pod_autoscaling_reports_every_reason_at_once(workspace: Path) -> None:
    """One overlay, several problems: the blanket refusal and what else is wrong, each at its
    own key, line and column."""
    text = (
        "  autoscaling:\n"
        "    enabled: true  # data\n"
        "    minReplicas: 2  # data\n"
        "    maxReplicas: 5\n"
        "    targetMemoryUtilizationPercentage: 80\n"
    )
    problems = _problems(workspace, "production", text, "redis:")
    expected = {
        "autoscaling-data-pods": ("redis.autoscaling.enabled", "    enabled: true  # data"),
        "autoscaling-data-min": ("redis.autoscaling.minReplicas", "minReplicas: 2  # data"),
        "autoscaling-data-memory": (
            "redis.autoscaling.targetMemoryUtilizationPercentage",
            "targetMemoryUtilizationPercentage: 80",
        ),
    }
    for rule, (key, needle) in expected.items():
        (problem,) = _by_rule(problems, rule)
        assert problem.key == key
        line, column = _line_of(workspace, "production", needle)
        assert (problem.location.line, problem.location.column) == (line, column), rule
    (minimum,) = _by_rule(problems, "autoscaling-data-min")
    # production: min-replicas-to-write 1, so 1 master + 1 + the PDB's 1 = 3
    assert "minReplicas 2 is below 3 = 1 master + 1" in minimum.message
    (memory,) = _by_rule(problems, "autoscaling-data-memory")
    assert "adds no capacity" in memory.message


def test_cache_group_autoscaling_is_refused_too(workspace: Path) -> None:
    text = "  autoscaling: {enabled: true, targetMemoryUtilizationPercentage: null}\n"
    problems = _problems(workspace, "production", text, "cache:")
    assert [p.key for p in _by_rule(problems, "autoscaling-data-pods")] == [
        "cache.autoscaling.enabled"
    ]
    # the cache group writes without a replica guard: 1 + 0 + 1 = 2, the default minimum
    assert _by_rule(problems, "autoscaling-data-min") == []
    assert _by_rule(problems, "autoscaling-data-memory") == []


@pytest.mark.parametrize(
    ("to_write", "needed"),
    [(0, 2), (1, 3), (2, 4)],
)
def test_data_minimum_formula(to_write: int, needed: int) -> None:
    spec = {"redis": {"config": {"minReplicasToWrite": to_write}}}
    assert data_min_replicas(spec, "redis") == needed


def test_autoscaler_bounds(workspace: Path) -> None:
    overlay = workspace / "values/environments/production.yaml"
    overlay.write_text(
        overlay.read_text().replace(
            "    minReplicas: 2\n    maxReplicas: 6\n",
            "    minReplicas: 4\n    maxReplicas: 3\n"
            "    targetCPUUtilizationPercentage: null\n"
            "    targetMemoryUtilizationPercentage: null\n",
        )
    )
    problems = _by_rule(_problems(workspace, "production", ""), "autoscaling-bounds")
    assert sorted((p.key, p.location.line) for p in problems) == [
        ("endpoint.autoscaling.enabled", _line_of(workspace, "production", "    enabled")[0]),
        ("endpoint.autoscaling.maxReplicas", _line_of(workspace, "production", "maxReplicas")[0]),
    ]


def test_an_endpoint_minimum_of_one_is_a_warning(workspace: Path) -> None:
    overlay = workspace / "values/environments/production.yaml"
    overlay.write_text(overlay.read_text().replace("minReplicas: 2", "minReplicas: 1"))
    spec = resolve(workspace / "values/topology.yaml", root=workspace)
    (warning,) = [w for w in spec.warnings if w.rule == "autoscaling-endpoint-min"]
    assert warning.key == "endpoint.autoscaling.minReplicas"
    assert warning.location.line == _line_of(workspace, "production", "minReplicas: 1")[0]


def test_the_shipped_spec_passes_every_autoscaling_rule() -> None:
    spec = resolve(CHART.parents[2] / "values/topology.yaml", root=CHART.parents[2])
    assert not [w for w in spec.warnings if w.rule.startswith("autoscaling")]
    assert spec.environments["production"]["endpoint"]["autoscaling"]["enabled"] is True
