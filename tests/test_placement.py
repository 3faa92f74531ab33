"""Placement that survives a node (and a declared zone): required anti-affinity, Sentinels kept
away from the data pods, the zone spread required once the spec declares zones, and the rule that
says when one failure domain can cost the Sentinel majority."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chartgen.engines import helm
from chartgen.topology.resolve import resolve
from tests.conftest import CHART, SPEC


def pod_specs(extra: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    return {
        obj.body["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]: obj.body[
            "spec"
        ]["template"]["spec"]
        for obj in helm.render(CHART, "production", extra=extra)
        if obj.kind == "StatefulSet"
    }


def test_production_requires_distinct_nodes_and_keeps_sentinels_off_data_nodes() -> None:
    specs = pod_specs()
    # production runs the cache on a group of its own (cache): its pods on distinct nodes too
    for component in ("redis", "cache", "sentinel"):
        anti = specs[component]["affinity"]["podAntiAffinity"]
        (required,) = anti["requiredDuringSchedulingIgnoredDuringExecution"]
        assert required["topologyKey"] == "kubernetes.io/hostname"
        labels = required["labelSelector"]["matchLabels"]
        assert labels["app.kubernetes.io/component"] == component
    away = specs["sentinel"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert [
        term["podAffinityTerm"]["labelSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for term in away
    ] == ["redis", "cache"]
    for component in ("redis", "cache"):
        assert (
            "preferredDuringSchedulingIgnoredDuringExecution"
            not in specs[component]["affinity"]["podAntiAffinity"]
        )
    # zones not declared: spread where possible, never Pending for want of a zone label
    for spec in specs.values():
        (spread,) = spec["topologySpreadConstraints"]
        assert spread["whenUnsatisfiable"] == "ScheduleAnyway"


def test_declared_zones_make_the_spread_required() -> None:
    values = {
        component: {"topologySpread": {"whenUnsatisfiable": "DoNotSchedule"}}
        for component in ("redis", "cache", "sentinel")
    }
    for spec in pod_specs(values).values():
        assert spec["topologySpreadConstraints"][0]["whenUnsatisfiable"] == "DoNotSchedule"


def _warnings(workspace: Path, addition: str) -> list[str]:
    overlay = workspace / "values/environments/production.yaml"
    overlay.write_text(overlay.read_text() + addition)
    validated = resolve(workspace / "values/topology.yaml", root=workspace)
    return [str(w) for w in validated.warnings if "failure-domains" in str(w)]


def test_a_zone_holding_two_of_three_sentinels_is_reported(workspace: Path) -> None:
    (warning,) = _warnings(workspace, "placement:\n  zones: 2\n")
    assert "placement.zones" in warning
    assert (
        "3 Sentinels over 2 zone(s) put 2 in one zone: losing it leaves 1, below the 2" in warning
    )
    assert _warnings(workspace, "") == [warning]  # unchanged file, same finding


def test_three_zones_and_hard_anti_affinity_pass(workspace: Path) -> None:
    assert _warnings(workspace, "placement:\n  zones: 3\n") == []
    validated = resolve(workspace / "values/topology.yaml", root=workspace)
    assert validated.environments["production"]["placement"]["zones"] == 3


def test_soft_sentinel_anti_affinity_is_reported(workspace: Path) -> None:
    spec = workspace / "values/topology.yaml"
    text = spec.read_text()
    assert "sentinel:\n  replicas: 3\n" in text
    spec.write_text(
        text.replace(
            "sentinel:\n  replicas: 3\n", "sentinel:\n  replicas: 3\n  podAntiAffinity: soft\n"
        )
    )
    warnings = [
        str(w)
        for w in resolve(spec, root=workspace).warnings
        if "sentinel.podAntiAffinity" in str(w)
    ]
    assert warnings, "no failure-domains warning for soft Sentinel anti-affinity"
    assert "soft: one node may hold several Sentinels" in warnings[0]


def test_the_default_spec_declares_hard_anti_affinity() -> None:
    validated = resolve(SPEC, root=SPEC.parent.parent)
    assert not [w for w in validated.warnings if "failure-domains" in str(w)]
