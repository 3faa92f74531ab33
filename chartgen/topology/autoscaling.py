"""Which workloads a HorizontalPodAutoscaler may scale, and the rules refusing the others (chart
README, Autoscaling).

Only the master endpoint (HAProxy) is autoscaled: it keeps no state, each pod checks the data
pods on its own. The Sentinels never are (their count is the quorum's denominator), nor the data
pods: a new data pod is a replica that full-syncs from the master (a fork and a copy of the
dataset, on the master, while it is already busy), it holds the whole dataset (no memory gained),
the endpoint and the Sentinels' bootstrap list name exactly `replicas` data pods, and a scale-down
deletes the highest ordinal, which may be the master.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chartgen.topology.constraints import spec_default
from chartgen.topology.load import KeyPath
from chartgen.topology.quorum import majority

Finding = tuple[KeyPath, str]

WORKLOADS = ("endpoint", "redis", "cache", "sentinel")
DATA_GROUPS = ("redis", "cache")
# The data pods' PodDisruptionBudget (redis.pdb.maxUnavailable, a Helm value): a drain may take
# this many data pods at once.
PDB_MAX_UNAVAILABLE = 1


@dataclass(frozen=True)
class Autoscaling:
    enabled: bool
    min_replicas: int
    max_replicas: int
    cpu_percent: int | None
    memory_percent: int | None
    scale_down_stabilization_seconds: int


def settings(spec: dict[str, Any], workload: str) -> dict[str, Any]:
    """`workload`'s autoscaling section, every default resolved."""
    given = spec.get(workload, {}).get("autoscaling", {})
    names = (
        "enabled",
        "minReplicas",
        "maxReplicas",
        "targetCPUUtilizationPercentage",
        "targetMemoryUtilizationPercentage",
        "scaleDownStabilizationSeconds",
    )
    return {
        name: given[name] if name in given else spec_default((workload, "autoscaling", name))
        for name in names
    }


def autoscaling_model(spec: dict[str, Any], workload: str = "endpoint") -> Autoscaling:
    raw = settings(spec, workload)
    return Autoscaling(
        enabled=bool(raw["enabled"]),
        min_replicas=int(raw["minReplicas"]),
        max_replicas=int(raw["maxReplicas"]),
        cpu_percent=raw["targetCPUUtilizationPercentage"],
        memory_percent=raw["targetMemoryUtilizationPercentage"],
        scale_down_stabilization_seconds=int(raw["scaleDownStabilizationSeconds"]),
    )


def _enabled(spec: dict[str, Any], workload: str) -> bool:
    return bool(settings(spec, workload)["enabled"])


def _key(workload: str, name: str) -> KeyPath:
    return (workload, "autoscaling", name)


def autoscaling_standalone(spec: dict[str, Any]) -> Iterator[Finding]:
    """Standalone mode runs one data pod and no endpoint pods: there is nothing an autoscaler may
    scale."""
    if spec["mode"] != "standalone":
        return
    for workload in WORKLOADS:
        if _enabled(spec, workload):
            yield (
                _key(workload, "enabled"),
                "standalone mode runs exactly one data pod and no HAProxy pods: nothing to "
                "autoscale; disable it (or use mode: ha)",
            )


def autoscaling_sentinel(spec: dict[str, Any]) -> Iterator[Finding]:
    """Sentinels are never autoscaled: the quorum and the majority that authorises a failover are
    derived from their count, and a Sentinel that leaves stays in every other one's list (and in
    the majority's denominator) until SENTINEL RESET."""
    if spec["mode"] != "ha" or not _enabled(spec, "sentinel"):
        return
    count = spec["sentinel"]["replicas"]
    yield (
        _key("sentinel", "enabled"),
        f"Sentinels are never autoscaled: {count} Sentinels give the quorum and the majority "
        f"({majority(count)}) a failover needs, and a removed Sentinel is still counted until "
        f"SENTINEL RESET; set sentinel.replicas instead",
    )


def autoscaling_data_pods(spec: dict[str, Any]) -> Iterator[Finding]:
    """Data pods are not autoscaled: a new pod is a replica that full-syncs from the master (a
    fork on the master while it is busy), the endpoint, the Sentinels' bootstrap list and the
    helm test know exactly `replicas` data pods, and a scale-down deletes the highest ordinal,
    which may be the master. Scale reads with `replicas`, memory with maxmemory and requests."""
    if spec["mode"] != "ha":
        return
    for group in DATA_GROUPS:
        if _enabled(spec, group):
            yield (
                _key(group, "enabled"),
                f"{group} data pods are not autoscaled: each new pod full-syncs the whole "
                f"dataset from the master, only pods 0..{group}.replicas-1 are routed to by the "
                f"endpoint, and a scale-down may delete the master; set {group}.replicas",
            )


def data_min_replicas(spec: dict[str, Any], group: str) -> int:
    """The fewest data pods of `group` that keep writes going through a voluntary disruption:
    1 master + minReplicasToWrite replicas it needs to take writes + the PodDisruptionBudget's
    maxUnavailable (1), and never fewer than 2 (a master and a replica)."""
    config = spec.get(group, {}).get("config", {})
    wanted = int(config.get("minReplicasToWrite", 0))
    return max(2, 1 + wanted + PDB_MAX_UNAVAILABLE)


def autoscaling_data_min(spec: dict[str, Any]) -> Iterator[Finding]:
    """A data-pod autoscaler's minReplicas must be at least 1 (the master) + minReplicasToWrite
    + the PodDisruptionBudget's maxUnavailable (1), and at least 2, or a scale-down followed by
    a drain stops every write (min-replicas-to-write). Sentinel quorum does not enter: it counts
    Sentinels, not data pods."""
    if spec["mode"] != "ha":
        return
    for group in DATA_GROUPS:
        if not _enabled(spec, group):
            continue
        given = settings(spec, group)["minReplicas"]
        needed = data_min_replicas(spec, group)
        if given < needed:
            wanted = spec.get(group, {}).get("config", {}).get("minReplicasToWrite", 0)
            yield (
                _key(group, "minReplicas"),
                f"minReplicas {given} is below {needed} = 1 master + {wanted} "
                f"({group}.config.minReplicasToWrite) + {PDB_MAX_UNAVAILABLE} (the "
                f"PodDisruptionBudget's maxUnavailable): a drain at the minimum stops writes",
            )


def autoscaling_data_memory(spec: dict[str, Any]) -> Iterator[Finding]:
    """No memory target on data pods: every replica holds the full dataset, so another pod
    lowers no pod's memory use (the autoscaler would climb to maxReplicas and stay), and its
    full sync raises the master's for a while."""
    if spec["mode"] != "ha":
        return
    for group in DATA_GROUPS:
        if _enabled(spec, group):
            percent = settings(spec, group)["targetMemoryUtilizationPercentage"]
            if percent is not None:
                yield (
                    _key(group, "targetMemoryUtilizationPercentage"),
                    f"a memory target ({percent} %) on data pods adds no capacity: every pod "
                    f"holds the full dataset; raise {group}.config.maxmemory and the memory "
                    f"request instead, and set this to null",
                )


def autoscaling_bounds(spec: dict[str, Any]) -> Iterator[Finding]:
    """An enabled autoscaler needs maxReplicas >= minReplicas and at least one metric."""
    for workload in WORKLOADS:
        if not _enabled(spec, workload):
            continue
        raw = settings(spec, workload)
        if raw["maxReplicas"] < raw["minReplicas"]:
            yield (
                _key(workload, "maxReplicas"),
                f"maxReplicas {raw['maxReplicas']} is below minReplicas {raw['minReplicas']}",
            )
        metrics = ("targetCPUUtilizationPercentage", "targetMemoryUtilizationPercentage")
        if all(raw[name] is None for name in metrics):
            yield (
                _key(workload, "enabled"),
                "no metric to scale on: set targetCPUUtilizationPercentage or "
                "targetMemoryUtilizationPercentage",
            )


def autoscaling_endpoint_min(spec: dict[str, Any]) -> Iterator[Finding]:
    """One HAProxy pod at the autoscaler's minimum leaves the endpoint down while it is
    rescheduled (its PodDisruptionBudget lets a drain take it)."""
    if spec["mode"] == "ha" and _enabled(spec, "endpoint"):
        given = settings(spec, "endpoint")["minReplicas"]
        if given < 2:
            yield (
                _key("endpoint", "minReplicas"),
                f"minReplicas {given}: the endpoint is down while its only pod is rescheduled; "
                f"use 2 or more",
            )
