"""Building blocks of the chart's values tree: JSON schema snippets and the groups that Redis and
Sentinel share (resources, persistence, placement, probes). A value that a spec key sets carries
that key as its `source`."""

from __future__ import annotations

from typing import Any

from chartgen.render.params import Group, Node, Param
from chartgen.topology.constraints import EVICTION_POLICIES, MAXMEMORY_PATTERN, QUANTITY_PATTERN
from chartgen.topology.model import Persistence, Probe, RedisConfig, Resources

SpecKey = tuple[str, ...]

QUANTITY: dict[str, Any] = {"type": ["string", "number"], "pattern": QUANTITY_PATTERN}
MAXMEMORY: dict[str, Any] = {"type": "string", "pattern": MAXMEMORY_PATTERN}
PORT: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 65535}
FREE_OBJECT: dict[str, Any] = {"type": "object"}
FREE_LIST: dict[str, Any] = {"type": "array"}
STRING: dict[str, Any] = {"type": "string"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
# Pod annotations the chart sets itself (a second one would be a duplicate key).
CHART_POD_ANNOTATIONS = ("checksum/config",)


def integer(minimum: int, maximum: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def enum(*choices: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(choices)}


def eviction_policy() -> dict[str, Any]:
    return enum(*EVICTION_POLICIES)


def resources(res: Resources, component: str, source: SpecKey) -> Group:
    def pair(kind: str, cpu: str, memory: str, ephemeral: str, desc: str) -> Group:
        return Group(
            desc,
            {
                "cpu": Param(cpu, "CPU quantity.", QUANTITY, (*source, kind, "cpu")),
                "memory": Param(memory, "Memory quantity.", QUANTITY, (*source, kind, "memory")),
                "ephemeral-storage": Param(
                    ephemeral,
                    "Local disk: logs, scratch space, emptyDir volumes.",
                    QUANTITY,
                    (*source, kind, "ephemeral-storage"),
                ),
            },
        )

    return Group(
        f"{component.capitalize()} container resources.",
        {
            "requests": pair(
                "requests",
                res.requests_cpu,
                res.requests_memory,
                res.requests_ephemeral_storage,
                "Reserved by the scheduler.",
            ),
            "limits": pair(
                "limits",
                res.limits_cpu,
                res.limits_memory,
                res.limits_ephemeral_storage,
                "Hard limits; memory above is OOM-killed, disk above evicts the pod.",
            ),
        },
    )


def persistence(p: Persistence, source: SpecKey) -> Group:
    return Group(
        "PersistentVolumeClaim template for /data.",
        {
            "enabled": Param(
                p.enabled,
                "Keep data on a PVC; false uses an emptyDir.",
                BOOLEAN,
                (*source, "enabled"),
            ),
            "size": Param(p.size, "Requested volume size.", QUANTITY, (*source, "size")),
            "storageClass": Param(
                p.storage_class,
                "StorageClass; empty uses the cluster default.",
                STRING,
                (*source, "storageClass"),
            ),
            "accessModes": Param(
                list(p.access_modes),
                "PVC access modes.",
                {
                    "type": "array",
                    "minItems": 1,
                    "items": enum("ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"),
                },
                (*source, "accessModes"),
            ),
            "annotations": Param({}, "Annotations on the PVC template.", FREE_OBJECT),
        },
    )


def placement(
    component: str, anti_affinity: str = "soft", zones: int = 0, source: SpecKey | None = None
) -> dict[str, Node]:
    """Scheduling values of `component` (spec `source`, e.g. ("redis",)); `zones` declared in
    the spec make the zone spread required."""
    return {
        "podAnnotations": Param(
            {},
            f"Extra annotations on {component} pods (checksum/config is the chart's).",
            {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "propertyNames": {"not": {"enum": list(CHART_POD_ANNOTATIONS)}},
            },
        ),
        "nodeSelector": Param({}, "Node labels the pods must match.", FREE_OBJECT),
        "tolerations": Param([], "Taints the pods tolerate.", FREE_LIST),
        "affinity": Param(
            {}, "Affinity; replaces the generated pod anti-affinity when set.", FREE_OBJECT
        ),
        "podAntiAffinity": Param(
            anti_affinity,
            "Spread pods over nodes: hard (required) or soft (preferred).",
            enum("soft", "hard"),
            (*source, "podAntiAffinity") if source else None,
        ),
        "topologySpread": Group(
            "Spread pods over zones.",
            {
                "enabled": Param(True, "Add a topologySpreadConstraint.", BOOLEAN),
                "topologyKey": Param(
                    "topology.kubernetes.io/zone", "Node label of the domain.", STRING
                ),
                "maxSkew": Param(1, "Largest allowed difference in pods per domain.", integer(1)),
                "whenUnsatisfiable": Param(
                    "DoNotSchedule" if zones else "ScheduleAnyway",
                    "DoNotSchedule where the spec declares the zones, else ScheduleAnyway.",
                    enum("DoNotSchedule", "ScheduleAnyway"),
                ),
            },
        ),
        "priorityClassName": Param("", "PriorityClass of the pods.", STRING),
    }


def probe(timings: Probe, what: str, source: SpecKey) -> Group:
    return Group(
        what,
        {
            "initialDelaySeconds": Param(
                timings.initial_delay_seconds,
                "Delay before the first probe.",
                integer(0),
                (*source, "initialDelaySeconds"),
            ),
            "periodSeconds": Param(
                timings.period_seconds,
                "Seconds between probes.",
                integer(1),
                (*source, "periodSeconds"),
            ),
            "timeoutSeconds": Param(
                timings.timeout_seconds,
                "Seconds before a probe times out.",
                integer(1),
                (*source, "timeoutSeconds"),
            ),
            "failureThreshold": Param(
                timings.failure_threshold,
                "Failures before the probe gives up.",
                integer(1),
                (*source, "failureThreshold"),
            ),
        },
    )


def redis_config(config: RedisConfig, spec: SpecKey) -> Group:
    """redis.conf settings of one Redis group (spec `spec`: redis.config or cache.config)."""
    return Group(
        "redis.conf settings.",
        {
            "maxmemory": Param(
                config.maxmemory,
                "Dataset memory limit (Redis units).",
                MAXMEMORY,
                (*spec, "maxmemory"),
            ),
            "maxmemoryPolicy": Param(
                config.maxmemory_policy,
                "Eviction policy; allkeys-* can evict sessions."
                if spec[0] == "redis"
                else "Eviction policy of the cache entries only (allkeys-lru: least recently "
                "used first).",
                eviction_policy(),
                (*spec, "maxmemoryPolicy"),
            ),
            "save": Param(
                config.save,
                "RDB snapshot points; empty disables them.",
                {"type": "string", "pattern": r"^(\s*[0-9]+\s+[0-9]+)*\s*$"},
                (*spec, "save"),
            ),
            "appendonly": Param(
                config.appendonly, "Append-only file persistence.", BOOLEAN, (*spec, "appendonly")
            ),
            "tcpKeepalive": Param(
                config.tcp_keepalive,
                "TCP keepalive seconds.",
                integer(0),
                (*spec, "tcpKeepalive"),
            ),
            "minReplicasToWrite": Param(
                config.min_replicas_to_write,
                "ha: writes need this many connected, non-lagging replicas"
                " (0 disables); bounds what a partitioned old master can lose.",
                integer(0),
                (*spec, "minReplicasToWrite"),
            ),
            "minReplicasMaxLag": Param(
                config.min_replicas_max_lag,
                "ha: seconds without an acknowledgement before a replica counts as lagging.",
                integer(1),
                (*spec, "minReplicasMaxLag"),
            ),
        },
    )
