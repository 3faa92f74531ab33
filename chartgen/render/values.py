"""The chart's Helm values, derived from the typed model: defaults, descriptions, schemas."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from chartgen.render.params import Group, Node, Param
from chartgen.topology.model import Persistence, Resources, Topology

QUANTITY: dict[str, Any] = {
    "type": ["string", "number"],
    "pattern": r"^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$",
}
PORT: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 65535}
FREE_OBJECT: dict[str, Any] = {"type": "object"}
FREE_LIST: dict[str, Any] = {"type": "array"}
STRING: dict[str, Any] = {"type": "string"}


def _spec_sources() -> dict[tuple[str, ...], str]:
    """Spec key -> the Helm value it sets (dotted). Used to write what an overlay decides and to
    point findings about rendered objects back at the spec."""
    table: dict[tuple[str, ...], str] = {
        ("mode",): "mode",
        ("image", "repository"): "image.repository",
        ("image", "tag"): "image.tag",
        ("image", "pullPolicy"): "image.pullPolicy",
        ("ports", "redis"): "redis.port",
        ("ports", "sentinel"): "sentinel.port",
        ("sentinel", "quorum"): "sentinel.quorum",
        ("databases", "sessions", "sessionTtlSeconds"): "sessions.ttlSeconds",
        ("databases", "cache", "defaultTtlSeconds"): "cache.defaultTtlSeconds",
    }
    same_name = {
        "redis": ("replicas",),
        "redis.config": (
            "maxmemory",
            "maxmemoryPolicy",
            "save",
            "appendonly",
            "tcpKeepalive",
            "minReplicasToWrite",
            "minReplicasMaxLag",
        ),
        "redis.persistence": ("enabled", "size", "storageClass", "accessModes"),
        "sentinel": (
            "replicas",
            "masterSet",
            "downAfterMilliseconds",
            "failoverTimeout",
            "parallelSyncs",
        ),
        "sessions": (
            "refreshTokenTtlSeconds",
            "maxSessionsPerUser",
            "maxRefreshTokensPerUser",
            "cleanupIntervalSeconds",
        ),
        "cache": ("cleanupIntervalSeconds", "cleanupBatchSize", "maxEntriesPerService"),
    }
    for group, keys in same_name.items():
        spec_group = {"sessions": "databases.sessions", "cache": "databases.cache"}.get(
            group, group
        )
        for key in keys:
            spec_key = (*spec_group.split("."), key)
            table[spec_key] = f"{group}.{key}"
    for component in ("redis", "sentinel"):
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                table[(component, "resources", kind, resource)] = (
                    f"{component}.resources.{kind}.{resource}"
                )
    return table


SPEC_SOURCES: Mapping[tuple[str, ...], str] = MappingProxyType(_spec_sources())


def spec_sources() -> dict[tuple[str, ...], str]:
    """Spec key -> the Helm value it sets (dotted)."""
    return dict(SPEC_SOURCES)


def pinned_values(overlay_keys: frozenset[tuple[str, ...]]) -> frozenset[str]:
    """The Helm values an overlay sets, from the spec keys it sets (leaf or subtree)."""
    return frozenset(
        value
        for spec_key, value in SPEC_SOURCES.items()
        if any(spec_key[: len(k)] == k for k in overlay_keys)
    )


def _int(minimum: int, maximum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def _enum(*choices: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(choices)}


def _resources(res: Resources, component: str) -> Group:
    def pair(cpu: str, memory: str, desc: str) -> Group:
        return Group(
            desc,
            {
                "cpu": Param(cpu, "CPU quantity.", QUANTITY),
                "memory": Param(memory, "Memory quantity.", QUANTITY),
            },
        )

    return Group(
        f"{component.capitalize()} container resources.",
        {
            "requests": pair(res.requests_cpu, res.requests_memory, "Reserved by the scheduler."),
            "limits": pair(
                res.limits_cpu, res.limits_memory, "Hard limits; memory above is OOM-killed."
            ),
        },
    )


def _persistence(p: Persistence) -> Group:
    return Group(
        "PersistentVolumeClaim template for /data.",
        {
            "enabled": Param(
                p.enabled, "Keep data on a PVC; false uses an emptyDir.", {"type": "boolean"}
            ),
            "size": Param(p.size, "Requested volume size.", QUANTITY),
            "storageClass": Param(
                p.storage_class, "StorageClass; empty uses the cluster default.", STRING
            ),
            "accessModes": Param(
                list(p.access_modes),
                "PVC access modes.",
                {
                    "type": "array",
                    "minItems": 1,
                    "items": _enum("ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"),
                },
            ),
            "annotations": Param({}, "Annotations on the PVC template.", FREE_OBJECT),
        },
    )


def _placement(component: str) -> dict[str, Node]:
    return {
        "podAnnotations": Param({}, f"Extra annotations on {component} pods.", FREE_OBJECT),
        "nodeSelector": Param({}, "Node labels the pods must match.", FREE_OBJECT),
        "tolerations": Param([], "Taints the pods tolerate.", FREE_LIST),
        "affinity": Param(
            {}, "Affinity; replaces the generated pod anti-affinity when set.", FREE_OBJECT
        ),
        "podAntiAffinity": Param(
            "soft",
            "Spread pods over nodes: soft (preferred) or hard (required).",
            _enum("soft", "hard"),
        ),
        "topologySpread": Group(
            "Spread pods over zones.",
            {
                "enabled": Param(True, "Add a topologySpreadConstraint.", {"type": "boolean"}),
                "topologyKey": Param(
                    "topology.kubernetes.io/zone", "Node label of the domain.", STRING
                ),
                "maxSkew": Param(1, "Largest allowed difference in pods per domain.", _int(1)),
            },
        ),
        "priorityClassName": Param("", "PriorityClass of the pods.", STRING),
    }


def _probe(initial: int, period: int, timeout: int, failures: int, what: str) -> Group:
    return Group(
        what,
        {
            "initialDelaySeconds": Param(initial, "Delay before the first probe.", _int(0)),
            "periodSeconds": Param(period, "Seconds between probes.", _int(1)),
            "timeoutSeconds": Param(timeout, "Seconds before a probe times out.", _int(1)),
            "failureThreshold": Param(failures, "Failures before the probe gives up.", _int(1)),
        },
    )


def values_tree(model: Topology) -> dict[str, Node]:
    """Every Helm value of the chart with its default for `model`."""
    redis, sentinel, sessions, cache = model.redis, model.sentinel, model.sessions, model.cache
    return {
        "nameOverride": Param("", "Replaces the chart name in resource names.", STRING),
        "fullnameOverride": Param(
            "", "Replaces the release-chart prefix of resource names.", STRING
        ),
        "mode": Param(
            model.mode,
            "standalone: one Redis pod; ha: master, replicas, Sentinels.",
            _enum("standalone", "ha"),
        ),
        "clusterDomain": Param("cluster.local", "Kubernetes cluster DNS domain.", STRING),
        "commonLabels": Param({}, "Labels added to every object.", FREE_OBJECT),
        "image": Group(
            "Redis image, also used by Sentinel.",
            {
                "repository": Param(model.image.repository, "Image repository.", STRING),
                "tag": Param(
                    model.image.tag,
                    "Pinned image tag.",
                    {"type": "string", "minLength": 1, "not": {"enum": ["latest"]}},
                ),
                "pullPolicy": Param(
                    model.image.pull_policy,
                    "Image pull policy.",
                    _enum("Always", "IfNotPresent", "Never"),
                ),
            },
        ),
        "imagePullSecrets": Param([], "Secrets for pulling the image.", FREE_LIST),
        "serviceAccount": Group(
            "ServiceAccount of the pods.",
            {
                "create": Param(True, "Create a ServiceAccount.", {"type": "boolean"}),
                "name": Param("", "Name to use; empty derives it from the release.", STRING),
                "annotations": Param({}, "Annotations, e.g. for workload identity.", FREE_OBJECT),
            },
        ),
        "networkPolicy": Group(
            "NetworkPolicies: default deny plus one policy per traffic flow.",
            {
                "enabled": Param(True, "Create the NetworkPolicies.", {"type": "boolean"}),
                "clients": Param(
                    [{"podSelector": {"matchLabels": {f"{model.chart.name}-client": "true"}}}],
                    "Peers (NetworkPolicy `from` entries) allowed to reach Redis and Sentinel; "
                    "label client pods to match, or add namespaceSelectors.",
                    {"type": "array", "items": {"type": "object"}},
                ),
            },
        ),
        "redis": Group(
            "Redis data pods.",
            {
                "replicas": Param(
                    redis.replicas,
                    "Data pods (ha: 1 master + replicas-1 replicas; standalone: 1).",
                    _int(1, 15),
                ),
                "port": Param(redis.port, "Redis port.", PORT),
                "config": Group(
                    "redis.conf settings.",
                    {
                        "maxmemory": Param(
                            redis.config.maxmemory,
                            "Dataset memory limit (Redis units).",
                            {"type": "string", "pattern": "^[0-9]+(b|k|kb|m|mb|g|gb)?$"},
                        ),
                        "maxmemoryPolicy": Param(
                            redis.config.maxmemory_policy,
                            "Eviction policy; allkeys-* can evict sessions.",
                            _enum(
                                "noeviction",
                                "allkeys-lru",
                                "allkeys-lfu",
                                "allkeys-random",
                                "volatile-lru",
                                "volatile-lfu",
                                "volatile-random",
                                "volatile-ttl",
                            ),
                        ),
                        "save": Param(
                            redis.config.save,
                            "RDB snapshot points; empty disables them.",
                            {"type": "string", "pattern": r"^(\s*[0-9]+\s+[0-9]+)*\s*$"},
                        ),
                        "appendonly": Param(
                            redis.config.appendonly,
                            "Append-only file persistence.",
                            {"type": "boolean"},
                        ),
                        "tcpKeepalive": Param(
                            redis.config.tcp_keepalive, "TCP keepalive seconds.", _int(0)
                        ),
                        "minReplicasToWrite": Param(
                            redis.config.min_replicas_to_write,
                            "ha: writes need this many connected, non-lagging replicas"
                            " (0 disables); bounds what a partitioned old master can lose.",
                            _int(0),
                        ),
                        "minReplicasMaxLag": Param(
                            redis.config.min_replicas_max_lag,
                            "ha: seconds without an acknowledgement before a replica counts"
                            " as lagging.",
                            _int(1),
                        ),
                    },
                ),
                "resources": _resources(redis.resources, "redis"),
                "persistence": _persistence(redis.persistence),
                **_placement("Redis"),
                "terminationGracePeriodSeconds": Param(
                    30,
                    "Stop budget: the preStop hand-over of a master (ha; up to this minus 10 s),"
                    " then a final save.",
                    _int(0),
                ),
                "startupProbe": _probe(
                    5, 5, 3, 60, "Startup probe: allows a large dataset to load."
                ),
                "livenessProbe": _probe(0, 10, 5, 6, "Liveness probe (PING answers)."),
                "readinessProbe": _probe(
                    0,
                    5,
                    3,
                    3,
                    "Readiness probe (PONG and, on a replica, a live link to the master).",
                ),
                "pdb": Group(
                    "PodDisruptionBudget of the data pods (ha mode).",
                    {
                        "enabled": Param(True, "Create it.", {"type": "boolean"}),
                        "maxUnavailable": Param(
                            1, "Data pods that may be evicted at once.", _int(1)
                        ),
                    },
                ),
                "service": Group(
                    "Client Service of the data pods.",
                    {
                        "type": Param(
                            "ClusterIP",
                            "Service type.",
                            _enum("ClusterIP", "NodePort", "LoadBalancer"),
                        ),
                        "annotations": Param({}, "Service annotations.", FREE_OBJECT),
                    },
                ),
            },
        ),
        "sentinel": Group(
            "Sentinel pods (ha mode); their count is independent of data pods.",
            {
                "replicas": Param(
                    sentinel.replicas, "Sentinel pods; odd and at least 3.", _int(1, 15)
                ),
                "port": Param(sentinel.port, "Sentinel port.", PORT),
                "quorum": Param(
                    sentinel.quorum,
                    "Sentinels that must agree a master is down; null "
                    "derives a majority of sentinel.replicas.",
                    {"type": ["integer", "null"], "minimum": 1},
                ),
                "masterSet": Param(
                    sentinel.master_set,
                    "Name of the monitored master set.",
                    {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
                ),
                "downAfterMilliseconds": Param(
                    sentinel.down_after_ms, "Silence before a node is considered down.", _int(100)
                ),
                "failoverTimeout": Param(
                    sentinel.failover_timeout_ms, "Failover timeout (ms).", _int(1000)
                ),
                "parallelSyncs": Param(
                    sentinel.parallel_syncs, "Replicas resynced at once after a failover.", _int(1)
                ),
                "resources": _resources(sentinel.resources, "sentinel"),
                **_placement("Sentinel"),
                "livenessProbe": _probe(5, 10, 5, 6, "Liveness probe."),
                "readinessProbe": _probe(5, 5, 3, 3, "Readiness probe."),
                "pdb": Group(
                    "PodDisruptionBudget of the Sentinels; minAvailable is the quorum.",
                    {
                        "enabled": Param(True, "Create it.", {"type": "boolean"}),
                    },
                ),
            },
        ),
        "sessions": Group(
            f"Session database (DB {sessions.index}) settings for applications and cleanup jobs.",
            {
                "ttlSeconds": Param(sessions.session_ttl, "SESSION_TTL_SECONDS.", _int(1)),
                "refreshTokenTtlSeconds": Param(
                    sessions.refresh_token_ttl, "REFRESH_TOKEN_TTL_SECONDS.", _int(1)
                ),
                "maxSessionsPerUser": Param(
                    sessions.max_sessions_per_user, "MAX_SESSIONS_PER_USER.", _int(1)
                ),
                "maxRefreshTokensPerUser": Param(
                    sessions.max_refresh_tokens_per_user, "MAX_REFRESH_TOKENS_PER_USER.", _int(1)
                ),
                "cleanupIntervalSeconds": Param(
                    sessions.cleanup_interval, "CLEANUP_INTERVAL_SECONDS.", _int(1)
                ),
            },
        ),
        "cache": Group(
            f"Service cache (DB {cache.index}) settings.",
            {
                "defaultTtlSeconds": Param(
                    cache.default_ttl, "CACHE_DEFAULT_TTL_SECONDS.", _int(1)
                ),
                "cleanupIntervalSeconds": Param(
                    cache.cleanup_interval, "CACHE_CLEANUP_INTERVAL_SECONDS.", _int(1)
                ),
                "cleanupBatchSize": Param(
                    cache.cleanup_batch_size, "CACHE_CLEANUP_BATCH_SIZE.", _int(1)
                ),
                "maxEntriesPerService": Param(
                    cache.max_entries_per_service, "CACHE_MAX_ENTRIES_PER_SERVICE.", _int(1)
                ),
            },
        ),
    }
