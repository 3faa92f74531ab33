"""Stage 2b, resources and time: memory, eviction, QoS, local disk, the stop budget and probe
timeouts. Each function is a rule check (see rules.py, which registers them)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from chartgen.topology.budgets import PROBE_STEPS, probe_floor, stop_budget
from chartgen.topology.constraints import spec_default
from chartgen.topology.load import KeyPath
from chartgen.topology.units import k8s_quantity, redis_bytes

Finding = tuple[KeyPath, str]

# Headroom redis needs above maxmemory: fork copy-on-write during BGSAVE/AOF rewrite, buffers.
MAXMEMORY_SHARE_OF_LIMIT = Decimal("0.75")
# What Redis uses beyond maxmemory in steady state: fragmentation, client and replication
# buffers (maxmemory counts the dataset only).
REQUEST_SHARE_OF_MAXMEMORY = Decimal("1.25")


def cache_separate(spec: dict[str, Any]) -> bool:
    """The service cache runs on a Redis group of its own (databases.cache.group: separate)."""
    group = spec["databases"]["cache"].get("group", spec_default(("databases", "cache", "group")))
    return bool(group == "separate")


def data_groups(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(spec key, settings) of every Redis group that runs: redis, and cache when separate."""
    yield "redis", spec["redis"]
    if cache_separate(spec):
        yield "cache", spec.get("cache", spec_default(("cache",)))


def maxmemory_limit(spec: dict[str, Any]) -> Iterator[Finding]:
    """maxmemory must be set and stay below the container memory limit, or the kernel OOM-kills
    Redis before Redis evicts anything (each Redis group: redis, and cache when separate)."""
    for key, group in data_groups(spec):
        config = group["config"]
        maxmemory = redis_bytes(str(config["maxmemory"]))
        limit = k8s_quantity(group["resources"]["limits"]["memory"])
        if maxmemory == 0:
            yield (key, "config", "maxmemory"), "0 means unlimited: Redis grows until OOM-killed"
        elif maxmemory >= limit:
            yield (
                (key, "config", "maxmemory"),
                (
                    f"{config['maxmemory']} is not below the memory limit "
                    f"{group['resources']['limits']['memory']}"
                ),
            )


def maxmemory_headroom(spec: dict[str, Any]) -> Iterator[Finding]:
    """BGSAVE and AOF rewrites fork: keep maxmemory within 75% of the memory limit."""
    for key, group in data_groups(spec):
        yield from _headroom(key, group)


def _headroom(key: str, group: dict[str, Any]) -> Iterator[Finding]:
    config = group["config"]
    maxmemory = redis_bytes(str(config["maxmemory"]))
    limit = k8s_quantity(group["resources"]["limits"]["memory"])
    persistent = bool(config.get("save", "").strip()) or config.get("appendonly", True)
    if persistent and 0 < maxmemory < limit and maxmemory > limit * MAXMEMORY_SHARE_OF_LIMIT:
        yield (
            (key, "config", "maxmemory"),
            (
                f"{config['maxmemory']} leaves less than 25% of the memory limit for fork "
                "copy-on-write during snapshots"
            ),
        )


# What each policy evicts first when maxmemory is reached, for this data set: sessions, refresh
# tokens and cache entries all carry TTLs, so the volatile-* policies see every key.
EVICTS_FIRST = {
    "allkeys-lru": "the least recently used keys of both databases: an idle but valid session "
    "goes before a busier cache entry",
    "allkeys-lfu": "the least frequently used keys of both databases: a session read a few "
    "times goes before a hot cache entry",
    "allkeys-random": "random keys of both databases: a session as readily as a cache entry",
    "volatile-lru": "the least recently used keys with a TTL, and every session, refresh token "
    "and cache entry has one: sessions as readily as under allkeys-lru",
    "volatile-lfu": "the least frequently used keys with a TTL, and every session, refresh token "
    "and cache entry has one: sessions as readily as under allkeys-lfu",
    "volatile-random": "random keys with a TTL, and every session, refresh token and cache entry "
    "has one: sessions as readily as cache entries",
}


def eviction_policy(spec: dict[str, Any]) -> Iterator[Finding]:
    """Redis has one maxmemory-policy per instance, not per database: every policy but
    noeviction can evict live sessions (DB 0) to make room for cache entries (DB 1). noeviction
    never evicts; writes beyond maxmemory fail with OOM instead, so the cache must stay bounded
    (its cleanup job caps entries per service) or live in a Redis group of its own
    (databases.cache.group: separate), whose policy (cache.config.maxmemoryPolicy, e.g.
    allkeys-lru) evicts cache entries only and is not checked here."""
    policy = spec["redis"]["config"]["maxmemoryPolicy"]
    if policy == "noeviction":
        return
    if cache_separate(spec):
        yield (
            ("redis", "config", "maxmemoryPolicy"),
            (
                f"{policy} evicts live sessions: the cache has a Redis group of its own, so "
                "only sessions, refresh tokens and their per-user indexes are here to evict; "
                "use noeviction (writes beyond maxmemory then fail with OOM instead)"
            ),
        )
        return
    way_out = (
        "; only noeviction never evicts a session (writes beyond maxmemory then fail with OOM, "
        "so keep the cache bounded or give it a Redis group of its own: "
        "databases.cache.group: separate)"
    )
    if policy == "volatile-ttl":
        session_ttl = spec["databases"]["sessions"]["sessionTtlSeconds"]
        cache_ttl = spec["databases"]["cache"]["defaultTtlSeconds"]
        order = (
            f"sessions (TTL {session_ttl} s) go before cache entries (TTL {cache_ttl} s)"
            if session_ttl < cache_ttl
            else f"cache entries (TTL {cache_ttl} s) go first, then sessions (TTL {session_ttl} s)"
        )
        evicts = f"the keys nearest expiry first: {order}"
    else:
        evicts = EVICTS_FIRST[policy]
    yield ("redis", "config", "maxmemoryPolicy"), f"{policy} evicts {evicts}{way_out}"


def memory_request(spec: dict[str, Any]) -> Iterator[Finding]:
    """The Redis memory request holds maxmemory plus 25% (allocator fragmentation, client and
    replication buffers, which maxmemory does not count): a pod using more than it requests is
    first in line for eviction under node memory pressure (each Redis group)."""
    for key, group in data_groups(spec):
        yield from _memory_request(key, group)


def _memory_request(key: str, group: dict[str, Any]) -> Iterator[Finding]:
    config = group["config"]
    maxmemory = redis_bytes(str(config["maxmemory"]))
    request = group["resources"]["requests"]["memory"]
    needed = maxmemory * REQUEST_SHARE_OF_MAXMEMORY
    if k8s_quantity(request) < needed:
        yield (
            (key, "resources", "requests", "memory"),
            (
                f"{request} is below maxmemory {config['maxmemory']} plus 25% for fragmentation "
                f"and buffers ({math.ceil(needed / 2**20)}Mi): Redis will use more than it "
                "requests and be evicted first under node pressure"
            ),
        )


def qos_class(spec: dict[str, Any]) -> Iterator[Finding]:
    """qos: Guaranteed needs requests equal to limits for CPU and memory; otherwise Kubernetes
    makes the pods Burstable (each Redis group and the Sentinels). A pod is Guaranteed only when
    every container is, so the exporter sidecar of those pods must be too."""
    guaranteed = []
    for component, settings in [*data_groups(spec), ("sentinel", spec["sentinel"])]:
        if settings.get("qos", "Burstable") != "Guaranteed":
            continue
        guaranteed.append(component)
        resources = settings["resources"]
        for kind in ("cpu", "memory"):
            request, limit = resources["requests"][kind], resources["limits"][kind]
            if k8s_quantity(request) != k8s_quantity(limit):
                yield (
                    (component, "resources", "requests", kind),
                    (
                        f"qos: Guaranteed needs the {kind} request equal to its limit "
                        f"({request} != {limit})"
                    ),
                )
    monitoring = spec.get("monitoring") or {}
    exporter = (monitoring.get("exporter") or {}).get("resources")
    if guaranteed and exporter and monitoring.get("mode", "operator") != "none":
        for kind in ("cpu", "memory"):
            request, limit = exporter["requests"][kind], exporter["limits"][kind]
            if k8s_quantity(request) != k8s_quantity(limit):
                yield (
                    ("monitoring", "exporter", "resources", "requests", kind),
                    (
                        f"qos: Guaranteed ({', '.join(guaranteed)}) needs the exporter sidecar's "
                        f"{kind} request equal to its limit too: a pod is Guaranteed only when "
                        f"every container is ({request} != {limit})"
                    ),
                )


def ephemeral_data(spec: dict[str, Any]) -> Iterator[Finding]:
    """Without a volume the data lives in an emptyDir on the node's disk: the ephemeral-storage
    limit must hold two snapshots (the current one and the one being written) besides the 64Mi
    scratch volume, or the kubelet evicts the pod in the middle of a save."""
    for key, group in data_groups(spec):
        yield from _ephemeral_data(key, group)


def _ephemeral_data(key: str, redis: dict[str, Any]) -> Iterator[Finding]:
    config = redis["config"]
    saves = bool(str(config.get("save", "")).strip()) or bool(config.get("appendonly", True))
    if redis["persistence"]["enabled"] or not saves:
        return
    needed = 2 * redis_bytes(str(config["maxmemory"])) + 64 * 2**20
    limit = redis["resources"]["limits"]["ephemeral-storage"]
    if k8s_quantity(limit) < needed:
        yield (
            (key, "resources", "limits", "ephemeral-storage"),
            (
                f"{limit} cannot hold two snapshots of maxmemory {config['maxmemory']} and the "
                f"scratch volume ({math.ceil(needed / 2**20)}Mi) in the emptyDir that replaces "
                "the disabled volume"
            ),
        )


def grace_period_budget(spec: dict[str, Any]) -> Iterator[Finding]:
    """terminationGracePeriodSeconds covers the stop: the hand-over of a master (ha), the final
    save of a full dataset at shutdownSaveMBps, and a margin; SIGKILL before the save ends loses
    the writes since the last snapshot (each Redis group, with its own data)."""
    for key, group in data_groups(spec):
        given = group.get("terminationGracePeriodSeconds")
        budget = stop_budget(spec, key)
        if given is not None and given < budget.total:
            yield (
                (key, "terminationGracePeriodSeconds"),
                (
                    f"{given} s is below the stop budget of {budget.total} s ({budget.explain()}); "
                    "raise it or leave it out to have it derived"
                ),
            )


def probe_timeouts(spec: dict[str, Any]) -> Iterator[Finding]:
    """Every probe's timeoutSeconds covers its script's worst case: one second per sequential
    step (each redis-cli call timing out) plus one for starting the shell; a shorter timeout
    turns a slow answer into a failed probe, and a failed liveness probe into a restart."""
    running = {key for key, _ in data_groups(spec)} | {"sentinel"}
    for (component, probe), steps in PROBE_STEPS.items():
        if component not in running:
            continue
        timeout = (
            spec.get(component, {})
            .get(probe, {})
            .get("timeoutSeconds", spec_default((component, probe, "timeoutSeconds")))
        )
        floor = probe_floor((component, probe))
        if timeout < floor:
            yield (
                (component, probe, "timeoutSeconds"),
                (
                    f"{timeout} s cannot hold the probe's worst case: {steps} step(s) of at least "
                    f"1 s each plus 1 s to start; use {floor} or more"
                ),
            )


def requests_within_limits(spec: dict[str, Any]) -> Iterator[Finding]:
    """A request above its limit is rejected by the API server."""
    components = [(key, group) for key, group in data_groups(spec)]
    for component, settings in [*components, ("sentinel", spec["sentinel"])]:
        resources = settings["resources"]
        for kind in ("cpu", "memory", "ephemeral-storage"):
            request, limit = resources["requests"][kind], resources["limits"][kind]
            if k8s_quantity(request) > k8s_quantity(limit):
                yield (
                    (component, "resources", "requests", kind),
                    (f"request {request} is above the limit {limit}"),
                )
