"""Derived time budgets: the stop budget behind terminationGracePeriodSeconds, and probe timeouts
that hold their script's worst case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.errors import SpecError
from chartgen.topology.resolve import resolve
from tests.conftest import CHART, install_values


def redis_pod_spec(environment: str) -> dict[str, Any]:
    for obj in helm.render(CHART, environment, extra=install_values(environment)):
        if obj.kind == "StatefulSet" and obj.name.endswith("-redis"):
            spec: dict[str, Any] = obj.body["spec"]["template"]["spec"]
            return spec
    raise AssertionError("no Redis StatefulSet")


@pytest.mark.parametrize(
    ("environment", "grace", "why"),
    [
        # 4gb at 100 MB/s: 43 s of final save, after a 20 s hand-over, plus 10 s
        ("production", 73, "4 GiB snapshot"),
        # standalone, nothing persisted: only the margin
        ("development", 10, "no hand-over, no save"),
    ],
)
def test_grace_period_is_derived_from_the_stop_budget(
    environment: str, grace: int, why: str
) -> None:
    spec = redis_pod_spec(environment)
    assert spec["terminationGracePeriodSeconds"] == grace, why
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    if environment == "production":
        assert env["FAILOVER_WAIT_SECONDS"] == "20"


def test_a_given_grace_period_below_the_budget_is_an_error(workspace: Path) -> None:
    overlay = workspace / "values/environments/production.yaml"
    overlay.write_text(
        overlay.read_text().replace(
            "  persistence:\n    size: 20Gi\n",
            "  persistence:\n    size: 20Gi\n  terminationGracePeriodSeconds: 30\n",
        )
    )
    with pytest.raises(SpecError) as error:
        resolve(workspace / "values/topology.yaml", root=workspace)
    text = str(error.value)
    assert "redis.terminationGracePeriodSeconds" in text
    assert "30 s is below the stop budget of 73 s" in text
    assert "20 s hand-over + 43 s final save + 10 s margin" in text


def test_a_probe_timeout_shorter_than_its_worst_case_is_an_error(workspace: Path) -> None:
    spec = workspace / "values/topology.yaml"
    text = spec.read_text()
    assert "redis:\n  replicas: 3\n" in text
    spec.write_text(
        text.replace(
            "redis:\n  replicas: 3\n",
            "redis:\n  replicas: 3\n  livenessProbe: {timeoutSeconds: 3}\n",
        )
    )
    with pytest.raises(SpecError) as error:
        resolve(spec, root=workspace)
    message = str(error.value)
    assert "redis.livenessProbe.timeoutSeconds" in message
    assert "3 step(s) of at least 1 s each plus 1 s to start; use 4 or more" in message


def test_probes_pass_their_timeout_to_the_script() -> None:
    spec = redis_pod_spec("production")
    container = spec["containers"][0]
    for probe, kind in (
        ("startupProbe", "startup"),
        ("livenessProbe", "liveness"),
        ("readinessProbe", "readiness"),
    ):
        command = container[probe]["exec"]["command"]
        assert command[2:] == [kind, str(container[probe]["timeoutSeconds"])]


def _problems_with(workspace: Path, environment: str, old: str, new: str) -> str:
    overlay = workspace / f"values/environments/{environment}.yaml"
    text = overlay.read_text()
    assert old in text, "the fixture text moved"
    overlay.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError) as error:
        resolve(workspace / "values/topology.yaml", root=workspace)
    return str(error.value)


def test_production_is_guaranteed_qos_with_memory_above_maxmemory() -> None:
    for obj in helm.render(CHART, "production"):
        if obj.kind == "StatefulSet":
            for container in obj.body["spec"]["template"]["spec"]["containers"]:
                resources = container["resources"]
                assert resources["requests"]["cpu"] == resources["limits"]["cpu"]
                assert resources["requests"]["memory"] == resources["limits"]["memory"]
                assert "ephemeral-storage" in resources["requests"]
                assert "ephemeral-storage" in resources["limits"]


def test_a_memory_request_at_maxmemory_is_an_error(workspace: Path) -> None:
    # the seed's production: 4Gi requested for maxmemory 4gb
    message = _problems_with(
        workspace,
        "production",
        'requests: {cpu: "2", memory: 6Gi}\n    limits: {cpu: "2", memory: 6Gi}\n  qos: Guaranteed',
        'requests: {cpu: "2", memory: 4Gi}\n    limits: {cpu: "2", memory: 6Gi}',
    )
    assert "redis.resources.requests.memory: 4Gi is below maxmemory 4gb plus 25%" in message
    assert "(5120Mi)" in message


def test_guaranteed_qos_needs_requests_equal_to_limits(workspace: Path) -> None:
    message = _problems_with(
        workspace,
        "production",
        'limits: {cpu: "2", memory: 6Gi}',
        'limits: {cpu: "4", memory: 6Gi}',
    )
    assert "qos: Guaranteed needs the cpu request equal to its limit (2 != 4)" in message


def test_data_in_an_emptydir_needs_room_for_two_snapshots(workspace: Path) -> None:
    message = _problems_with(
        workspace, "staging", "    size: 4Gi\n", "    size: 4Gi\n    enabled: false\n"
    )
    assert "redis.resources.limits.ephemeral-storage: 512Mi cannot hold two snapshots" in message


def test_guaranteed_pods_need_a_guaranteed_exporter_sidecar(workspace: Path) -> None:
    overlay = workspace / "values/environments/production.yaml"
    overlay.write_text(
        overlay.read_text()
        + "monitoring:\n  exporter:\n    resources:\n"
        + "      requests: {cpu: 10m, memory: 32Mi, ephemeral-storage: 16Mi}\n"
        + "      limits: {cpu: 100m, memory: 64Mi, ephemeral-storage: 32Mi}\n"
    )
    with pytest.raises(SpecError) as error:
        resolve(workspace / "values/topology.yaml", root=workspace)
    message = str(error.value)
    assert "monitoring.exporter.resources.requests.cpu" in message
    assert "a pod is Guaranteed only when every container is (10m != 100m)" in message
    assert "values/environments/production.yaml:" in message
