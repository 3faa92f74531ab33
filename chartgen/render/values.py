"""The chart's Helm values, derived from the typed model: defaults, descriptions, schemas and,
for each value a spec key sets, that key. One builder per component; the spec key -> Helm value
map (`spec_sources`) is read off the tree, never kept by hand."""

from __future__ import annotations

from functools import cache
from typing import Any

from chartgen.render.auth_values import auth_values, redis_auth_values
from chartgen.render.backup_values import backup_values
from chartgen.render.database_values import cache_values, sessions_values
from chartgen.render.endpoint_values import endpoint_values
from chartgen.render.extension_values import (
    extra_config,
    image_digest,
    pod_extensions,
    security_context,
)
from chartgen.render.maintenance_values import maintenance_values
from chartgen.render.monitoring_values import monitoring_values
from chartgen.render.network_values import network_policy_values
from chartgen.render.params import Group, Node, Param, sources
from chartgen.render.value_parts import (
    BOOLEAN,
    FREE_LIST,
    FREE_OBJECT,
    PORT,
    STRING,
    enum,
    integer,
    persistence,
    placement,
    probe,
    redis_config,
    resources,
)
from chartgen.topology.constraints import placeholder_spec, spec_property
from chartgen.topology.model import (
    Image,
    Redis,
    Sentinel,
    Tls,
    Topology,
    build_model,
)


def _chart_values(model: Topology) -> dict[str, Node]:
    return {
        "nameOverride": Param("", "Replaces the chart name in resource names.", STRING),
        "fullnameOverride": Param(
            "", "Replaces the release-chart prefix of resource names.", STRING
        ),
        "mode": Param(
            model.mode,
            "standalone: one Redis pod; ha: master, replicas, Sentinels.",
            enum("standalone", "ha"),
            ("mode",),
        ),
        "clusterDomain": Param("cluster.local", "Kubernetes cluster DNS domain.", STRING),
        "commonLabels": Param({}, "Labels added to every object.", FREE_OBJECT),
    }


def _image(image: Image) -> dict[str, Node]:
    return {
        "image": Group(
            "Redis image, also used by Sentinel.",
            {
                "repository": Param(
                    image.repository, "Image repository.", STRING, ("image", "repository")
                ),
                "tag": Param(
                    image.tag,
                    "Pinned image tag.",
                    {"type": "string", "minLength": 1, "not": {"enum": ["latest"]}},
                    ("image", "tag"),
                ),
                "digest": image_digest(image.digest),
                "pullPolicy": Param(
                    image.pull_policy,
                    "Image pull policy.",
                    enum("Always", "IfNotPresent", "Never"),
                    ("image", "pullPolicy"),
                ),
            },
        ),
        "imagePullSecrets": Param([], "Secrets for pulling the image.", FREE_LIST),
    }


def _service_account() -> dict[str, Node]:
    return {
        "serviceAccount": Group(
            "ServiceAccounts of the pods: one per component (redis, sentinel, and cache with "
            "cache.group separate), no API token.",
            {
                "create": Param(
                    True,
                    "Create them (<name>-redis, <name>-sentinel, <name>-cache).",
                    BOOLEAN,
                ),
                "name": Param(
                    "",
                    "create: prefix of their names (empty: the release's full name); "
                    "otherwise the existing ServiceAccount every pod uses.",
                    STRING,
                ),
                "annotations": Param({}, "Annotations, e.g. for workload identity.", FREE_OBJECT),
            },
        )
    }


def _tls(tls: Tls) -> dict[str, Node]:
    spec = ("tls",)

    def schema(*path: str) -> dict[str, Any]:
        node = spec_property((*spec, *path))
        return {k: v for k, v in node.items() if k not in ("description", "default")}

    return {
        "tls": Group(
            "TLS via cert-manager for Redis and Sentinel (chart README, Security): the same "
            "ports speak TLS only, replication and Sentinel use TLS.",
            {
                "enabled": Param(
                    tls.enabled,
                    "TLS only on the Redis and Sentinel ports; needs cert-manager.",
                    BOOLEAN,
                    (*spec, "enabled"),
                ),
                "issuer": Group(
                    "Issuer of the server certificate; an empty name bootstraps a self-signed CA.",
                    {
                        "kind": Param(
                            tls.issuer_kind,
                            "Issuer or ClusterIssuer.",
                            schema("issuer", "kind"),
                            (*spec, "issuer", "kind"),
                        ),
                        "name": Param(
                            tls.issuer_name,
                            "An existing CA-type issuer (it fills ca.crt); empty: the chart's "
                            "self-signed CA.",
                            schema("issuer", "name"),
                            (*spec, "issuer", "name"),
                        ),
                    },
                ),
                "duration": Param(
                    tls.duration,
                    "Server certificate lifetime.",
                    schema("duration"),
                    (*spec, "duration"),
                ),
                "renewBefore": Param(
                    tls.renew_before,
                    "Renewal this long before expiry; data pods reload without a restart, "
                    "Sentinels on their next restart.",
                    schema("renewBefore"),
                    (*spec, "renewBefore"),
                ),
            },
        )
    }


def _redis(redis: Redis, zones: int) -> dict[str, Node]:
    return {
        "redis": Group(
            "Redis data pods.",
            {
                "replicas": Param(
                    redis.replicas,
                    "Data pods (ha: 1 master + replicas-1 replicas; standalone: 1).",
                    integer(1, 15),
                    ("redis", "replicas"),
                ),
                "port": Param(redis.port, "Redis port.", PORT, ("ports", "redis")),
                "config": redis_config(redis.config, ("redis", "config")),
                "extraConfig": extra_config(),
                "resources": resources(redis.resources, "redis", ("redis", "resources")),
                "persistence": persistence(redis.persistence, ("redis", "persistence")),
                **placement("Redis", redis.pod_anti_affinity, zones, ("redis",)),
                **pod_extensions("redis"),
                "terminationGracePeriodSeconds": Param(
                    redis.termination_grace_period_seconds,
                    "Stop budget: the preStop hand-over of a master (ha), then the final save of"
                    " the dataset, then a margin (derived by chartgen unless the spec sets it).",
                    integer(0),
                    ("redis", "terminationGracePeriodSeconds"),
                ),
                "handoverSeconds": Param(
                    redis.handover_seconds,
                    "ha: how long a stopping master's preStop hook waits for the hand-over.",
                    integer(1),
                    ("redis", "handoverSeconds"),
                ),
                "startupProbe": probe(
                    redis.startup_probe,
                    "Startup probe: allows a large dataset to load.",
                    ("redis", "startupProbe"),
                ),
                "livenessProbe": probe(
                    redis.liveness_probe,
                    "Liveness probe (PING answers).",
                    ("redis", "livenessProbe"),
                ),
                "readinessProbe": probe(
                    redis.readiness_probe,
                    "Readiness probe (PONG and, on a replica, a live link to the master).",
                    ("redis", "readinessProbe"),
                ),
                "pdb": Group(
                    "PodDisruptionBudget of the data pods (ha mode).",
                    {
                        "enabled": Param(True, "Create it.", BOOLEAN),
                        "maxUnavailable": Param(
                            1, "Data pods that may be evicted at once.", integer(1)
                        ),
                    },
                ),
                "service": Group(
                    "Client Service of the data pods.",
                    {
                        "type": Param(
                            "ClusterIP",
                            "Service type.",
                            enum("ClusterIP", "NodePort", "LoadBalancer"),
                        ),
                        "annotations": Param({}, "Service annotations.", FREE_OBJECT),
                    },
                ),
            },
        )
    }


def _sentinel(sentinel: Sentinel, zones: int) -> dict[str, Node]:
    spec = ("sentinel",)
    return {
        "sentinel": Group(
            "Sentinel pods (ha mode); their count is independent of data pods.",
            {
                "replicas": Param(
                    sentinel.replicas,
                    "Sentinel pods; odd and at least 3.",
                    integer(1, 15),
                    (*spec, "replicas"),
                ),
                "port": Param(sentinel.port, "Sentinel port.", PORT, ("ports", "sentinel")),
                "quorum": Param(
                    sentinel.quorum,
                    "Sentinels that must agree a master is down; null "
                    "derives a majority of sentinel.replicas.",
                    {"type": ["integer", "null"], "minimum": 1},
                    (*spec, "quorum"),
                ),
                "masterSet": Param(
                    sentinel.master_set,
                    "Name of the monitored master set.",
                    {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
                    (*spec, "masterSet"),
                ),
                "downAfterMilliseconds": Param(
                    sentinel.down_after_ms,
                    "Silence before a node is considered down.",
                    integer(100),
                    (*spec, "downAfterMilliseconds"),
                ),
                "failoverTimeout": Param(
                    sentinel.failover_timeout_ms,
                    "Failover timeout (ms).",
                    integer(1000),
                    (*spec, "failoverTimeout"),
                ),
                "parallelSyncs": Param(
                    sentinel.parallel_syncs,
                    "Replicas resynced at once after a failover.",
                    integer(1),
                    (*spec, "parallelSyncs"),
                ),
                "resources": resources(sentinel.resources, "sentinel", (*spec, "resources")),
                **placement("Sentinel", sentinel.pod_anti_affinity, zones, ("sentinel",)),
                **pod_extensions("sentinel"),
                "livenessProbe": probe(
                    sentinel.liveness_probe, "Liveness probe.", (*spec, "livenessProbe")
                ),
                "readinessProbe": probe(
                    sentinel.readiness_probe, "Readiness probe.", (*spec, "readinessProbe")
                ),
                "pdb": Group(
                    "PodDisruptionBudget of the Sentinels; minAvailable is the quorum.",
                    {"enabled": Param(True, "Create it.", BOOLEAN)},
                ),
            },
        )
    }


def values_tree(model: Topology) -> dict[str, Node]:
    """Every Helm value of the chart with its default for `model`."""
    return {
        **_chart_values(model),
        **_image(model.image),
        **_service_account(),
        **security_context(),
        **network_policy_values(model.chart.name),
        **_with_auth(_redis(model.redis, model.zones), redis_auth_values(model)),
        **_sentinel(model.sentinel, model.zones),
        **endpoint_values(model.endpoint, model.zones),
        **sessions_values(model.sessions),
        **cache_values(model.cache, model.cache_group, model.zones),
        **maintenance_values(),
        **auth_values(model.auth),
        **_tls(model.tls),
        **monitoring_values(model),
        **backup_values(),
    }


def _with_auth(redis: dict[str, Node], auth: Group) -> dict[str, Node]:
    """The redis group with `auth` added (the guide's --set redis.auth.password path)."""
    group = redis["redis"]
    assert isinstance(group, Group)
    return {"redis": Group(group.description, {**group.children, "auth": auth})}


@cache
def _placeholder_sources() -> dict[tuple[str, ...], str]:
    return sources(values_tree(build_model(placeholder_spec())))


def spec_sources(model: Topology | None = None) -> dict[tuple[str, ...], str]:
    """Spec key -> the Helm value it sets (dotted), read off the values tree. The map depends on
    the spec's shape only, so without `model` a placeholder spec of the schema's shape serves
    (findings still name spec keys when the spec itself is invalid)."""
    return sources(values_tree(model)) if model is not None else dict(_placeholder_sources())


def pinned_values(
    overlay_keys: frozenset[tuple[str, ...]], model: Topology | None = None
) -> frozenset[str]:
    """The Helm values an overlay sets, from the spec keys it sets (leaf or subtree)."""
    return frozenset(
        value
        for spec_key, value in spec_sources(model).items()
        if any(spec_key[: len(k)] == k for k in overlay_keys)
    )
