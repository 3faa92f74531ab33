"""The spec key -> Helm value map is read off the values tree, and it is right: every spec key that
reaches the chart's values has a source, each source is a real spec key, and the spec and the
values schema agree on the constraints they share."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from chartgen.render.chart import render_chart
from chartgen.render.params import Param, flatten
from chartgen.render.values import pinned_values, spec_sources, values_tree
from chartgen.topology.constraints import (
    EVICTION_POLICIES,
    MAXMEMORY_PATTERN,
    QUANTITY_PATTERN,
    placeholder_spec,
    resolve_ref,
    spec_property,
)
from chartgen.topology.model import build_model
from chartgen.topology.monitoring import threshold_names
from chartgen.topology.resolve import resolve
from chartgen.topology.schema import topology_schema
from chartgen.topology.units import k8s_quantity, redis_bytes
from tests.conftest import CHART, SPEC

SpecKey = tuple[str, ...]

# A literal copy of the hand-kept SPEC_SOURCES table this map replaced.
FORMER_TABLE: dict[SpecKey, str] = {
    ("mode",): "mode",
    ("image", "repository"): "image.repository",
    ("image", "tag"): "image.tag",
    ("image", "pullPolicy"): "image.pullPolicy",
    ("ports", "redis"): "redis.port",
    ("ports", "sentinel"): "sentinel.port",
    ("sentinel", "quorum"): "sentinel.quorum",
    ("databases", "sessions", "sessionTtlSeconds"): "sessions.ttlSeconds",
    ("databases", "cache", "defaultTtlSeconds"): "cache.defaultTtlSeconds",
    ("redis", "replicas"): "redis.replicas",
    ("redis", "config", "maxmemory"): "redis.config.maxmemory",
    ("redis", "config", "maxmemoryPolicy"): "redis.config.maxmemoryPolicy",
    ("redis", "config", "save"): "redis.config.save",
    ("redis", "config", "appendonly"): "redis.config.appendonly",
    ("redis", "config", "tcpKeepalive"): "redis.config.tcpKeepalive",
    ("redis", "config", "minReplicasToWrite"): "redis.config.minReplicasToWrite",
    ("redis", "config", "minReplicasMaxLag"): "redis.config.minReplicasMaxLag",
    ("redis", "persistence", "enabled"): "redis.persistence.enabled",
    ("redis", "persistence", "size"): "redis.persistence.size",
    ("redis", "persistence", "storageClass"): "redis.persistence.storageClass",
    ("redis", "persistence", "accessModes"): "redis.persistence.accessModes",
    ("sentinel", "replicas"): "sentinel.replicas",
    ("sentinel", "masterSet"): "sentinel.masterSet",
    ("sentinel", "downAfterMilliseconds"): "sentinel.downAfterMilliseconds",
    ("sentinel", "failoverTimeout"): "sentinel.failoverTimeout",
    ("sentinel", "parallelSyncs"): "sentinel.parallelSyncs",
    ("databases", "sessions", "refreshTokenTtlSeconds"): "sessions.refreshTokenTtlSeconds",
    ("databases", "sessions", "maxSessionsPerUser"): "sessions.maxSessionsPerUser",
    ("databases", "sessions", "maxRefreshTokensPerUser"): "sessions.maxRefreshTokensPerUser",
    ("databases", "sessions", "cleanupIntervalSeconds"): "sessions.cleanupIntervalSeconds",
    ("databases", "cache", "cleanupIntervalSeconds"): "cache.cleanupIntervalSeconds",
    ("databases", "cache", "cleanupBatchSize"): "cache.cleanupBatchSize",
    ("databases", "cache", "maxEntriesPerService"): "cache.maxEntriesPerService",
    **{
        (component, "resources", kind, resource): f"{component}.resources.{kind}.{resource}"
        for component in ("redis", "sentinel")
        for kind in ("requests", "limits")
        for resource in ("cpu", "memory")
    },
}
TIMINGS = ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold")
PROBES: dict[str, tuple[str, ...]] = {
    "redis": ("startupProbe", "livenessProbe", "readinessProbe"),
    "sentinel": ("livenessProbe", "readinessProbe"),
}
# Chart defaults that became spec parameters: each sets the Helm value of the same name.
NEW_PARAMETERS: dict[SpecKey, str] = {
    **{
        ("auth", *key.split(".")): f"auth.{key}"
        for key in (
            "source",
            "existingSecret",
            "externalSecret.apiVersion",
            "externalSecret.storeKind",
            "externalSecret.storeName",
            "externalSecret.remoteKey",
            "externalSecret.refreshInterval",
        )
    },
    **{
        ("tls", *key.split(".")): f"tls.{key}"
        for key in ("enabled", "issuer.kind", "issuer.name", "duration", "renewBefore")
    },
    ("redis", "terminationGracePeriodSeconds"): "redis.terminationGracePeriodSeconds",
    ("redis", "handoverSeconds"): "redis.handoverSeconds",
    ("databases", "cache", "group"): "cache.group",
    ("image", "digest"): "image.digest",
    ("redis", "podAntiAffinity"): "redis.podAntiAffinity",
    ("sentinel", "podAntiAffinity"): "sentinel.podAntiAffinity",
    # the master endpoint (spec section endpoint): every key sets the value of the same name
    **{
        ("endpoint", *key.split(".")): f"endpoint.{key}"
        for key in (
            "replicas",
            "image.repository",
            "image.tag",
            "image.digest",
            "check.intervalMilliseconds",
            "check.fall",
            "check.rise",
            "maxConnections",
            "idleTimeoutSeconds",
            *(
                f"autoscaling.{name}"
                for name in (
                    "enabled",
                    "minReplicas",
                    "maxReplicas",
                    "targetCPUUtilizationPercentage",
                    "targetMemoryUtilizationPercentage",
                    "scaleDownStabilizationSeconds",
                )
            ),
            *(
                f"resources.{kind}.{resource}"
                for kind in ("requests", "limits")
                for resource in ("cpu", "memory", "ephemeral-storage")
            ),
        )
    },
    **{
        (component, probe, timing): f"{component}.{probe}.{timing}"
        for component, probes in PROBES.items()
        for probe in probes
        for timing in TIMINGS
    },
    # alerting (spec section monitoring): every key sets the value of the same name
    **{
        ("monitoring", *key.split(".")): f"monitoring.{key}"
        for key in (
            "mode",
            "selectorLabels",
            "runbookUrl",
            *(f"alerts.{name}" for name in threshold_names()),
            "alertmanager.groupWait",
            "alertmanager.groupInterval",
            "alertmanager.repeatInterval",
            *(
                f"alertmanager.receivers.{severity}.webhookUrls"
                for severity in ("critical", "warning", "info")
            ),
            # the exporter sidecar and how Prometheus scrapes it
            "exporter.connectionTimeout",
            "exporter.image.repository",
            "exporter.image.tag",
            *(
                f"exporter.resources.{kind}.{resource}"
                for kind in ("requests", "limits")
                for resource in ("cpu", "memory", "ephemeral-storage")
            ),
            "scrape.interval",
            "scrape.timeout",
            # the dashboards' ConfigMap
            "dashboards.enabled",
            "dashboards.sidecarLabel",
            "dashboards.folder",
            "dashboards.folderAnnotation",
            # the Ingress of the bundled stack's UIs
            "ingress.enabled",
            "ingress.className",
            *(f"ingress.hosts.{ui}" for ui in ("grafana", "prometheus", "alertmanager")),
            "ingress.tls.issuerKind",
            "ingress.tls.issuerName",
            *(f"ingress.auth.{key}" for key in ("type", "secretName", "url", "signin")),
        )
    },
}
# Resources that became required spec keys (no default: every spec says them).
REQUIRED_PARAMETERS: dict[SpecKey, str] = {
    ("ports", "metrics"): "monitoring.metricsPort",  # the exporter sidecar's port
    **{
        (component, "resources", kind, "ephemeral-storage"): (
            f"{component}.resources.{kind}.ephemeral-storage"
        )
        for component in ("redis", "sentinel")
        for kind in ("requests", "limits")
    },
    # the cache's own group (spec section cache, defaulted as a whole): same-named values
    **{
        ("cache", *key.split(".")): f"cache.{key}"
        for key in (
            "masterSet",
            "replicas",
            *(
                f"config.{k}"
                for k in (
                    "maxmemory",
                    "maxmemoryPolicy",
                    "save",
                    "appendonly",
                    "tcpKeepalive",
                    "minReplicasToWrite",
                    "minReplicasMaxLag",
                )
            ),
            *(
                f"resources.{kind}.{resource}"
                for kind in ("requests", "limits")
                for resource in ("cpu", "memory", "ephemeral-storage")
            ),
            *(f"persistence.{k}" for k in ("enabled", "size", "storageClass", "accessModes")),
            "terminationGracePeriodSeconds",
            # its own node spread and probes (not inherited from redis)
            "podAntiAffinity",
            *(
                f"{probe}.{timing}"
                for probe in ("startupProbe", "livenessProbe", "readinessProbe")
                for timing in (
                    "initialDelaySeconds",
                    "periodSeconds",
                    "timeoutSeconds",
                    "failureThreshold",
                )
            ),
        )
    },
}
# Spec keys that shape a Helm value's default without being its source: the stop budget
# (terminationGracePeriodSeconds, unless given) follows the hand-over and the final save.
GRACE = {"redis.terminationGracePeriodSeconds"}
# the cache group's own stop budget: the same hand-over and disk speed, its own data
CACHE_GRACE = {"cache.terminationGracePeriodSeconds"}
RUNBOOK = {"monitoring.runbookUrl"}
DERIVED: dict[SpecKey, set[str]] = {
    ("chart", "name"): {"networkPolicy.clients"},
    ("mode",): GRACE | CACHE_GRACE,
    ("redis", "config", "maxmemory"): GRACE,
    ("redis", "handoverSeconds"): GRACE | CACHE_GRACE,
    ("redis", "shutdownSaveMBps"): GRACE,  # the cache saves nothing by default
    ("cache", "config", "save"): CACHE_GRACE,
    ("cache", "config", "appendonly"): CACHE_GRACE,
    # the runbook links point into the git repository Argo CD deploys from
    **{("argocd", "source", key): RUNBOOK for key in ("kind", "repoURL", "targetRevision", "path")},
    # declared zones make the zone spread required for both components
    ("placement", "zones"): {
        "redis.topologySpread.whenUnsatisfiable",
        "sentinel.topologySpread.whenUnsatisfiable",
        "endpoint.topologySpread.whenUnsatisfiable",
        "cache.topologySpread.whenUnsatisfiable",
    },
}


def base_spec() -> dict[str, Any]:
    return resolve(SPEC, root=SPEC.parent.parent).base


def values_of(spec: dict[str, Any]) -> dict[str, Any]:
    return {key: param.value for key, param in flatten(values_tree(build_model(spec)))}


def spec_leaves(node: dict[str, Any], path: SpecKey = ()) -> Iterator[tuple[SpecKey, Any]]:
    """(spec key, schema) of every leaf of the topology schema: no object with fixed keys."""
    node = resolve_ref(node)
    if node.get("type") == "object" and "properties" in node:
        for key, child in node["properties"].items():
            yield from spec_leaves(child, (*path, key))
    else:
        yield path, node


def lookup(data: Any, path: SpecKey) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def another(value: Any, schema: dict[str, Any], path: SpecKey) -> Any:
    """A value of `schema` other than `value` (the key's current or default value)."""
    if value is None:  # optional, no default: the placeholder's value is new
        value = lookup(placeholder_spec(), path)
        return value if value is not None else 1
    if "enum" in schema:
        return next(choice for choice in schema["enum"] if choice != value)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        maximum = schema.get("maximum")
        return value - 1 if maximum is not None and value + 1 > maximum else value + 1
    if isinstance(value, str):
        # a digit before the unit keeps a quantity or Redis size valid ("768mb" -> "7680mb")
        head = re.match(r"^\d+", value)
        return f"{head.group()}0{value[head.end() :]}" if head else value + "0"
    if isinstance(value, list):
        return [] if value else ["x"]
    if isinstance(value, dict):
        return {} if value else {"x": "x"}
    raise AssertionError(f"{path}: no other value for {value!r}")


def set_key(spec: dict[str, Any], path: SpecKey, value: Any) -> None:
    for part in path[:-1]:
        spec = spec.setdefault(part, {})
    spec[path[-1]] = value


def test_the_derived_map_is_the_former_table_plus_the_new_parameters() -> None:
    assert spec_sources() == {**FORMER_TABLE, **NEW_PARAMETERS, **REQUIRED_PARAMETERS}


def test_the_map_depends_on_the_spec_shape_only() -> None:
    validated = resolve(SPEC, root=SPEC.parent.parent)
    expected = spec_sources()
    assert spec_sources(build_model(validated.base)) == expected
    for spec in validated.environments.values():
        assert spec_sources(build_model(spec)) == expected


def test_every_source_is_a_spec_leaf_and_every_sourced_value_a_chart_value() -> None:
    leaves = dict(spec_leaves(topology_schema()))
    chart_values = dict(flatten(values_tree(build_model(base_spec()))))
    for spec_key, value in spec_sources().items():
        assert spec_key in leaves, f"{spec_key} is no leaf of the topology schema"
        assert value in chart_values, f"{value} is no Helm value"


@pytest.mark.parametrize("path", [path for path, _ in spec_leaves(topology_schema())], ids=".".join)
def test_a_spec_leaf_changes_exactly_the_value_it_is_the_source_of(path: SpecKey) -> None:
    """Change one spec key and build the values: what changes is its source's Helm value, or
    nothing when it has none. So no spec key reaches the values without a source."""
    spec = base_spec()
    schema = resolve_ref(spec_property(path))
    for depth in range(1, len(path)):
        # a section the spec leaves out takes its default as a whole (monitoring.exporter.
        # resources): change the leaf inside that default, as an overlay's whole object would
        default = resolve_ref(spec_property(path[:depth])).get("default")
        if lookup(spec, path[:depth]) is None and isinstance(default, dict):
            set_key(spec, path[:depth], copy.deepcopy(default))
    current = lookup(spec, path)
    if current is None:
        current = schema.get("default")
    source = spec_sources().get(path)
    if schema.get("enum") == [current]:
        # one allowed value (auth.externalSecret.apiVersion: the only version served): it
        # cannot change, and its Helm value is that value
        assert source is not None and values_of(spec)[source] == current
        return
    changed_spec = copy.deepcopy(spec)
    set_key(changed_spec, path, another(current, schema, path))
    before, after = values_of(spec), values_of(changed_spec)
    changed = {key for key in before if before[key] != after[key]}
    assert changed == ({source} if source else set()) | DERIVED.get(path, set())


def test_an_overlay_pins_the_values_of_the_keys_it_sets() -> None:
    keys = frozenset(
        {("redis", "livenessProbe"), ("redis", "config", "tcpKeepalive"), ("sentinel", "quorum")}
    )
    assert pinned_values(keys) == {
        "redis.livenessProbe.initialDelaySeconds",
        "redis.livenessProbe.periodSeconds",
        "redis.livenessProbe.timeoutSeconds",
        "redis.livenessProbe.failureThreshold",
        "redis.config.tcpKeepalive",
        "sentinel.quorum",
    }


def test_probe_timings_from_an_overlay_reach_values_env_yaml() -> None:
    base = base_spec()
    env = copy.deepcopy(base)
    env["redis"]["startupProbe"] = {"failureThreshold": 120, "periodSeconds": 5}
    env["redis"]["terminationGracePeriodSeconds"] = 60
    overlay = frozenset(
        {
            ("redis", "startupProbe", "failureThreshold"),
            ("redis", "startupProbe", "periodSeconds"),
            ("redis", "terminationGracePeriodSeconds"),
        }
    )
    files = render_chart(build_model(base), {"slow": build_model(env)}, {"slow": overlay})
    overlay_file = files["values-slow.yaml"].decode()
    body = overlay_file.split("\n", 3)[3]
    assert body == (
        "redis:\n"
        "  terminationGracePeriodSeconds: 60\n"
        "  startupProbe:\n"
        "    periodSeconds: 5\n"
        "    failureThreshold: 120\n"
    )


def test_the_new_parameters_default_to_the_former_chart_defaults() -> None:
    values = values_of(base_spec())
    former = {
        # derived now: 20 s hand-over + 768mb saved at 100 MB/s (9 s) + 10 s
        "redis.terminationGracePeriodSeconds": 39,
        "redis.startupProbe": (5, 5, 3, 60),
        "redis.livenessProbe": (0, 10, 5, 6),
        "redis.readinessProbe": (0, 5, 3, 3),
        "sentinel.livenessProbe": (5, 10, 5, 6),
        "sentinel.readinessProbe": (5, 5, 3, 3),
    }
    for key, expected in former.items():
        if isinstance(expected, tuple):
            assert tuple(values[f"{key}.{timing}"] for timing in TIMINGS) == expected, key
        else:
            assert values[key] == expected, key
    for spec_key in NEW_PARAMETERS:
        if spec_key == ("redis", "terminationGracePeriodSeconds"):
            continue  # derived from the stop budget when not given
        schema = resolve_ref(spec_property(spec_key))
        # a default of its own, or one of an enclosing object (defaulted as a whole)
        enclosing = [
            resolve_ref(spec_property(spec_key[:depth])).get("default")
            for depth in range(1, len(spec_key))
        ]
        assert "default" in schema or any(isinstance(d, dict) for d in enclosing), spec_key
        assert schema.get("description"), spec_key


def values_schema_of(dotted: str) -> dict[str, Any]:
    node: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    for part in dotted.split("."):
        node = node["properties"][part]
    return node


QUANTITY_VALUES = [
    f"{component}.resources.{kind}.{resource}"
    for component in ("redis", "sentinel")
    for kind in ("requests", "limits")
    for resource in ("cpu", "memory")
] + ["redis.persistence.size"]


@pytest.mark.parametrize("dotted", QUANTITY_VALUES)
def test_spec_and_values_schema_share_the_quantity_pattern(dotted: str) -> None:
    spec_key = next(key for key, value in spec_sources().items() if value == dotted)
    assert spec_property(spec_key)["oneOf"][0]["pattern"] == QUANTITY_PATTERN
    assert values_schema_of(dotted)["pattern"] == QUANTITY_PATTERN


def test_spec_and_values_schema_share_maxmemory_and_eviction() -> None:
    spec_config = ("redis", "config")
    assert spec_property((*spec_config, "maxmemory"))["pattern"] == MAXMEMORY_PATTERN
    assert values_schema_of("redis.config.maxmemory")["pattern"] == MAXMEMORY_PATTERN
    assert tuple(spec_property((*spec_config, "maxmemoryPolicy"))["enum"]) == EVICTION_POLICIES
    assert tuple(values_schema_of("redis.config.maxmemoryPolicy")["enum"]) == EVICTION_POLICIES


def test_one_quantity_definition_in_the_topology_schema() -> None:
    text = (Path(__file__).parent.parent / "chartgen/schemas/topology.schema.json").read_text()
    assert text.count(json.dumps(QUANTITY_PATTERN)[1:-1]) == 1


@pytest.mark.parametrize(
    ("text", "ok"),
    [("250m", True), ("2", True), ("1.5Gi", True), ("512Mi", True), ("8GB", False), ("", False)],
)
def test_quantity_pattern_and_units_agree(text: str, ok: bool) -> None:
    """units.k8s_quantity (used by the semantic rules) reads what the pattern accepts."""
    assert bool(re.match(QUANTITY_PATTERN, text)) == ok
    if ok:
        assert k8s_quantity(text) >= 0
    else:
        with pytest.raises(ValueError):
            k8s_quantity(text)


@pytest.mark.parametrize(
    ("text", "ok"), [("768mb", True), ("4gb", True), ("100", True), ("1.5gb", False)]
)
def test_maxmemory_pattern_and_units_agree(text: str, ok: bool) -> None:
    assert bool(re.match(MAXMEMORY_PATTERN, text)) == ok
    if ok:
        assert redis_bytes(text) > 0
    else:
        with pytest.raises(ValueError):
            redis_bytes(text)


def test_the_placeholder_spec_has_the_schema_shape() -> None:
    """Types only: every key of the schema is present and of its type."""
    errors = [
        e
        for e in Draft7Validator(topology_schema()).iter_errors(placeholder_spec())
        if e.validator in ("type", "additionalProperties")
    ]
    assert not errors, [e.message for e in errors]


def test_params_with_a_source_are_the_sourced_values() -> None:
    tree = values_tree(build_model(base_spec()))
    sourced = {key for key, param in flatten(tree) if isinstance(param, Param) and param.source}
    assert sourced == set(spec_sources().values())
