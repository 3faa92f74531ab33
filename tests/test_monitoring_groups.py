"""Alerts per group: every alert about a data group watches the cache's own group too (label
`group: cache`) when the cache has one, with the cache's own thresholds where they differ; the
Helm chart switches the variants with the layout exactly as the generated files do; and the real
promtool sees each group's rules fire on that group's series only."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from chartgen.engines import helm
from chartgen.monitoring.promtool_tests import dump, unit_tests
from chartgen.monitoring.rules import concrete, rule_groups
from chartgen.monitoring.series import Target
from chartgen.render.monitoring import GUIDE_NAMESPACE, guide_fullname
from chartgen.render.monitoring_values import runbook_url
from chartgen.topology.model import build_model
from chartgen.topology.resolve import resolve
from tests.conftest import CHART, MONITORING, SPEC, install_values
from tests.tools import go_tool

RELEASE = "session-database"
CACHE_SERVICE = f'service="{RELEASE}-cache-headless"'
SESSIONS_SERVICE = f'service="{RELEASE}-redis-headless"'
ALL3 = ["sessions", "cache", "sentinel"]
DATA = ["sessions", "cache"]
# production (cache on its own group, allkeys-lru): the groups each alert watches
PRODUCTION = {
    "RedisDown": ALL3,
    "RedisNoMaster": DATA,
    "RedisMultipleMasters": DATA,
    "RedisMemoryExhaustion": ["sessions"],  # an evicting cache is full by design
    "RedisEvictions": ["sessions"],
    "RedisReplicationBroken": DATA,
    "RedisReplicasMissing": DATA,
    "RedisSentinelQuorumLost": ["sentinel"],
    "RedisCleanupFailing": DATA,
    "RedisCleanupStale": DATA,
    "RedisMemoryHigh": ["sessions"],
    "RedisTooManyConnections": ALL3,
    "RedisCacheLowHitRate": ["cache"],  # the group serving DB 1
    "RedisRejectedConnections": ALL3,
    "RedisReplicationLag": DATA,
    "RedisPersistenceFailing": DATA,
    "RedisContainerCpuPressure": ALL3,
    "RedisContainerMemoryPressure": ALL3,
    "RedisSessionCount": ["sessions"],
    "RedisCleanupRemovedMany": DATA,
    "RedisCacheEvictions": ["cache"],
}


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: install Debian's {package} (.ci/run does)"
    return found


def rules_of(groups: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in groups["groups"] for rule in group["rules"]]


def by_alert(groups: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for rule in rules_of(groups):
        found.setdefault(rule["alert"], []).append(rule)
    return found


def model_with(environment: str, **changes: Any) -> Any:
    """The environment's model with spec keys changed (a__b: spec["a"]["b"])."""
    spec = copy.deepcopy(resolve(SPEC).environments[environment])
    for key, value in changes.items():
        *parents, leaf = key.split("__")
        node = spec
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return build_model(spec)


def python_rules(environment: str, **changes: Any) -> dict[str, Any]:
    model = model_with(environment, **changes)
    fullname = guide_fullname(model)
    values = concrete(model, Target(GUIDE_NAMESPACE, fullname), runbook_url(model))
    return rule_groups(values, fullname)


def helm_rules(environment: str, extra: dict[str, Any]) -> dict[str, Any]:
    objects = helm.render_cli(
        go_tool("helm"),
        CHART,
        environment,
        release=RELEASE,
        namespace=RELEASE,
        extra=install_values(environment, extra),
    )
    # operator mode ships the groups as a PrometheusRule, bundled mode as the rules file of
    # the release's own Prometheus: either way exactly one copy
    rules = [o.body["spec"] for o in objects if o.kind == "PrometheusRule"]
    rules += [
        YAML(typ="safe").load(o.body["data"]["rules.yaml"])
        for o in objects
        if o.kind == "ConfigMap" and o.body["metadata"]["name"] == f"{RELEASE}-monitoring"
    ]
    (spec,) = rules
    assert isinstance(spec, dict)
    return spec


def test_production_watches_each_group_with_its_own_selectors() -> None:
    rules = YAML(typ="safe").load(MONITORING / "production" / "rules.yaml")
    found = by_alert(rules)
    for name, groups in PRODUCTION.items():
        assert [r["labels"]["group"] for r in found[name]] == groups, name
    for rule in rules_of(rules):
        group, expr = rule["labels"]["group"], rule["expr"]
        if group == "cache":
            assert CACHE_SERVICE in expr or f'pod=~"{RELEASE}-cache-[0-9]+"' in expr, rule
            assert "-redis-" not in expr and "-sentinel-" not in expr, rule
        else:
            assert "-cache-" not in expr, rule
    severities = {r["alert"]: r["labels"]["severity"] for r in rules_of(rules)}
    assert severities["RedisEvictions"] == "critical"
    assert severities["RedisCacheEvictions"] == "info"
    # each group's replica count: 3 sessions pods, 2 cache pods
    missing = {r["labels"]["group"]: r["expr"] for r in found["RedisReplicasMissing"]}
    assert missing["sessions"].endswith("< 2") and missing["cache"].endswith("< 1")


def test_shared_layout_has_no_cache_rules_and_the_hit_rate_on_the_sessions_group() -> None:
    rules = YAML(typ="safe").load(MONITORING / "staging" / "rules.yaml")
    assert {r["labels"]["group"] for r in rules_of(rules)} == {"sessions", "sentinel"}
    (hit_rate,) = by_alert(rules)["RedisCacheLowHitRate"]
    assert SESSIONS_SERVICE in hit_rate["expr"]
    assert "RedisCacheEvictions" not in by_alert(rules)


@pytest.mark.parametrize(
    ("environment", "extra", "changes"),
    [
        ("production", {"cache": {"group": "shared"}}, {"databases__cache__group": "shared"}),
        (
            "production",
            {"cache": {"config": {"maxmemoryPolicy": "noeviction"}}},
            {"cache__config__maxmemoryPolicy": "noeviction"},
        ),
        (
            "staging",
            {"cache": {"group": "separate", "replicas": 3}},
            {"databases__cache__group": "separate", "cache__replicas": 3},
        ),
    ],
    ids=["production-shared", "production-cache-noeviction", "staging-separate"],
)
def test_the_chart_switches_the_variants_as_the_generated_rules_do(
    environment: str, extra: dict[str, Any], changes: dict[str, Any]
) -> None:
    """Helm's conditions (values) and chartgen's (the model) pick the same variants."""
    rendered = helm_rules(environment, extra)
    assert rendered == python_rules(environment, **changes)
    groups = {(r["alert"], r["labels"]["group"]) for r in rules_of(rendered)}
    if changes.get("databases__cache__group") == "shared":
        assert not {g for _, g in groups} & {"cache"}
    else:
        assert ("RedisDown", "cache") in groups
    noeviction = changes.get("cache__config__maxmemoryPolicy") == "noeviction"
    assert (("RedisMemoryExhaustion", "cache") in groups) is noeviction
    if environment == "staging":  # replicas of the cache group, not of the sessions' group
        (cache,) = [
            r
            for r in rules_of(rendered)
            if r["alert"] == "RedisReplicasMissing" and r["labels"]["group"] == "cache"
        ]
        assert cache["expr"].endswith("< 2")


def test_generated_unit_tests_of_a_noeviction_cache_pass_promtool(tmp_path: Path) -> None:
    """The memory alerts' cache variants, which no shipped environment has, fire and stay
    silent as generated, under the real promtool and the rules Helm renders."""
    promtool = tool("promtool", "prometheus")
    model = model_with("production", cache__config__maxmemoryPolicy="noeviction")
    values = concrete(model, Target(RELEASE, RELEASE), runbook_url(model))
    tests = unit_tests(values)
    names = [case["name"] for case in tests["tests"]]
    assert "RedisMemoryExhaustion (cache) fires" in names
    assert "RedisMemoryHigh (cache) fires" in names
    rendered = helm_rules("production", {"cache": {"config": {"maxmemoryPolicy": "noeviction"}}})
    (tmp_path / "rules.yaml").write_bytes(dump(rendered))
    (tmp_path / "rules.test.yaml").write_bytes(dump(tests))
    result = subprocess.run(
        [promtool, "test", "rules", "rules.test.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def _series(service: str, pod: str, metric: str, values: str, **extra: str) -> dict[str, str]:
    labels = {"namespace": RELEASE, "service": service, "pod": pod, "instance": f"{pod}:9121"}
    body = ",".join(f'{k}="{v}"' for k, v in {**labels, **extra}.items())
    return {"series": f"{metric}{{{body}}}", "values": values}


def _fired(rules: dict[str, Any], alert: str, index: int) -> dict[str, Any]:
    """The alert expected from the cache's pod `index`: its labels, annotations filled in."""
    (rule,) = [
        r for r in rules_of(rules) if r["alert"] == alert and r["labels"]["group"] == "cache"
    ]
    pod = f"{RELEASE}-cache-{index}"
    labels = {
        **rule["labels"],
        "namespace": RELEASE,
        "service": f"{RELEASE}-cache-headless",
        "pod": pod,
        "instance": f"{pod}:9121",
    }
    annotations = {
        key: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], value)
        for key, value in rule["annotations"].items()
    }
    assert labels["group"] == "cache"
    return {"exp_labels": labels, "exp_annotations": annotations}


def test_a_cache_incident_is_told_apart_from_the_sessions_group(tmp_path: Path) -> None:
    """Hand-written series, not the generator's: the cache master down and the cache evicting
    heavily while the sessions' group is healthy. RedisDown fires once, for the cache; the
    sessions' critical eviction alert stays silent; the cache's eviction info fires."""
    promtool = tool("promtool", "prometheus")
    shutil.copy(MONITORING / "production" / "rules.yaml", tmp_path / "rules.yaml")
    rules = YAML(typ="safe").load(tmp_path / "rules.yaml")
    cache, sessions = f"{RELEASE}-cache-headless", f"{RELEASE}-redis-headless"
    series = [
        _series(cache, f"{RELEASE}-cache-0", "redis_up", "1x10 0x30"),
        _series(cache, f"{RELEASE}-cache-1", "redis_up", "1x40"),
        # the Sentinels promoted cache-1
        _series(cache, f"{RELEASE}-cache-1", "redis_instance_info", "1x40", role="master"),
        _series(cache, f"{RELEASE}-cache-1", "redis_evicted_keys_total", "0+5000x40"),
        *(_series(sessions, f"{RELEASE}-redis-{i}", "redis_up", "1x40") for i in range(3)),
        _series(sessions, f"{RELEASE}-redis-0", "redis_instance_info", "1x40", role="master"),
        _series(sessions, f"{RELEASE}-redis-0", "redis_evicted_keys_total", "0x40"),
    ]
    checks = [
        {
            "eval_time": "35m",
            "alertname": "RedisDown",
            "exp_alerts": [_fired(rules, "RedisDown", 0)],
        },
        {"eval_time": "35m", "alertname": "RedisEvictions", "exp_alerts": []},
        {
            "eval_time": "35m",
            "alertname": "RedisCacheEvictions",
            "exp_alerts": [_fired(rules, "RedisCacheEvictions", 1)],
        },
        {"eval_time": "35m", "alertname": "RedisNoMaster", "exp_alerts": []},
    ]
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": checks}],
    }
    (tmp_path / "case.yaml").write_bytes(dump(test))
    result = subprocess.run(
        [promtool, "test", "rules", "case.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
