"""Production on the split cache layout, as committed: the sessions' group on noeviction, the
cache group with the seed's allkeys-lru and resources of its own (Guaranteed, memory request at
least maxmemory x 1.25), its own grace period, the QoS rule per group, and Sentinels that prefer
nodes away from the pods of both data groups."""

from __future__ import annotations

import copy
from typing import Any

from chartgen.engines import helm
from chartgen.topology.budgets import grace_period
from chartgen.topology.resolve import resolve
from chartgen.topology.resource_rules import (
    grace_period_budget,
    memory_request,
    qos_class,
)
from chartgen.topology.units import k8s_quantity, redis_bytes
from tests.conftest import CHART, SPEC, install_values

FULL = "sessions-session-database"


def production() -> dict[str, Any]:
    return copy.deepcopy(resolve(SPEC).environments["production"])


def render(extra: dict[str, Any] | None = None) -> list[helm.RenderedObject]:
    return helm.render(CHART, "production", extra=install_values("production", extra))


def statefulset(objects: list[helm.RenderedObject], name: str) -> dict[str, Any]:
    return next(o.body for o in objects if o.kind == "StatefulSet" and o.name == name)


def test_production_runs_the_split_layout_with_a_guaranteed_cache_group() -> None:
    spec = production()
    assert spec["databases"]["cache"]["group"] == "separate"
    assert spec["redis"]["config"]["maxmemoryPolicy"] == "noeviction"
    cache = spec["cache"]
    assert cache["config"]["maxmemoryPolicy"] == "allkeys-lru"
    assert cache["qos"] == "Guaranteed"
    resources = cache["resources"]
    for kind in ("cpu", "memory"):
        assert k8s_quantity(resources["requests"][kind]) == k8s_quantity(resources["limits"][kind])
    maxmemory = redis_bytes(str(cache["config"]["maxmemory"]))
    assert k8s_quantity(resources["requests"]["memory"]) >= maxmemory * 5 / 4
    assert list(qos_class(spec)) == [] and list(memory_request(spec)) == []


def test_qos_rule_checks_the_cache_group() -> None:
    spec = production()
    spec["cache"]["resources"]["limits"]["memory"] = "2Gi"
    assert [key for key, _ in qos_class(spec)] == [("cache", "resources", "requests", "memory")]
    # the cache section is not checked while the cache shares the sessions' group
    spec["databases"]["cache"]["group"] = "shared"
    assert list(qos_class(spec)) == []


def test_the_cache_group_has_its_own_grace_period() -> None:
    spec = production()
    handover = spec["redis"].get("handoverSeconds", 20)
    # no persistence: hand-over + margin, no final save of its 1gb
    assert grace_period(spec, "cache") == handover + 10
    assert grace_period(spec, "redis") > grace_period(spec, "cache")  # 4gb saved at shutdown
    spec["cache"]["config"]["appendonly"] = True
    assert grace_period(spec, "cache") > handover + 10
    spec["cache"]["terminationGracePeriodSeconds"] = 5
    ((key, message),) = grace_period_budget(spec)
    assert key == ("cache", "terminationGracePeriodSeconds")
    assert "5 s is below the stop budget" in message

    objects = render()
    redis = statefulset(objects, f"{FULL}-redis")["spec"]["template"]["spec"]
    cache = statefulset(objects, f"{FULL}-cache")["spec"]["template"]["spec"]
    assert cache["terminationGracePeriodSeconds"] == grace_period(production(), "cache")
    assert redis["terminationGracePeriodSeconds"] == grace_period(production(), "redis")
    given = render({"cache": {"terminationGracePeriodSeconds": 45}})
    spec_ = statefulset(given, f"{FULL}-cache")["spec"]["template"]["spec"]
    assert spec_["terminationGracePeriodSeconds"] == 45


def _avoided(objects: list[helm.RenderedObject]) -> list[str]:
    """The components the Sentinel pods prefer to keep off their node."""
    affinity = statefulset(objects, f"{FULL}-sentinel")["spec"]["template"]["spec"]["affinity"]
    terms = affinity["podAntiAffinity"].get("preferredDuringSchedulingIgnoredDuringExecution", [])
    return [
        t["podAffinityTerm"]["labelSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for t in terms
        if t["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    ]


def test_sentinels_prefer_nodes_away_from_both_data_groups() -> None:
    assert {"redis", "cache"} <= set(_avoided(render()))
    assert "cache" not in _avoided(render({"cache": {"group": "shared"}}))
