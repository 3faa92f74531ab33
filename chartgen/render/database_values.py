"""Helm values of the two databases: session and cache settings the cleanup jobs and clients
read (sessions.*, cache.*)."""

from __future__ import annotations

from collections.abc import Callable

from chartgen.render.extension_values import extra_config, pod_extensions
from chartgen.render.params import Group, Node, Param
from chartgen.render.value_parts import (
    BOOLEAN,
    enum,
    integer,
    persistence,
    placement,
    probe,
    redis_config,
    resources,
)
from chartgen.topology.model import Cache, CacheGroup, Sessions


def _database_setting(database: str) -> Callable[[int, str, str], Param]:
    """A positive setting of one database, described by its application variable name."""

    def setting(value: int, variable: str, key: str) -> Param:
        return Param(value, f"{variable}.", integer(1), ("databases", database, key))

    return setting


def sessions_values(sessions: Sessions) -> dict[str, Node]:
    setting = _database_setting("sessions")

    return {
        "sessions": Group(
            f"Session database (DB {sessions.index}) settings for applications and cleanup jobs.",
            {
                "ttlSeconds": setting(
                    sessions.session_ttl, "SESSION_TTL_SECONDS", "sessionTtlSeconds"
                ),
                "refreshTokenTtlSeconds": setting(
                    sessions.refresh_token_ttl,
                    "REFRESH_TOKEN_TTL_SECONDS",
                    "refreshTokenTtlSeconds",
                ),
                "maxSessionsPerUser": setting(
                    sessions.max_sessions_per_user, "MAX_SESSIONS_PER_USER", "maxSessionsPerUser"
                ),
                "maxRefreshTokensPerUser": setting(
                    sessions.max_refresh_tokens_per_user,
                    "MAX_REFRESH_TOKENS_PER_USER",
                    "maxRefreshTokensPerUser",
                ),
                "cleanupIntervalSeconds": setting(
                    sessions.cleanup_interval, "CLEANUP_INTERVAL_SECONDS", "cleanupIntervalSeconds"
                ),
            },
        )
    }


def _cache_pods(group: CacheGroup, zones: int) -> dict[str, Node]:
    """The cache group's own pod settings: none is inherited from redis.* (an eviction-only
    cache may want lighter probes, another node pool, a looser budget)."""
    spec = ("cache",)
    return {
        **placement("cache", group.pod_anti_affinity, zones, spec),
        **pod_extensions("cache"),
        "startupProbe": probe(
            group.startup_probe,
            "separate: startup probe (the server answers; LOADING counts as started).",
            (*spec, "startupProbe"),
        ),
        "livenessProbe": probe(
            group.liveness_probe,
            "separate: liveness probe (PING answers; ha: not outside the agreed master).",
            (*spec, "livenessProbe"),
        ),
        "readinessProbe": probe(
            group.readiness_probe,
            "separate: readiness probe (PONG and, on a replica, a live link to the master).",
            (*spec, "readinessProbe"),
        ),
        "pdb": Group(
            "separate: PodDisruptionBudget of the cache pods (ha mode).",
            {
                "enabled": Param(True, "Create it.", BOOLEAN),
                "maxUnavailable": Param(1, "Cache pods that may be evicted at once.", integer(1)),
            },
        ),
    }


def cache_values(cache: Cache, group: CacheGroup, zones: int = 0) -> dict[str, Node]:
    setting = _database_setting("cache")

    return {
        "cache": Group(
            f"Service cache (DB {cache.index}) settings and, with group separate, its own "
            "Redis group <fullname>-cache with its own settings below (probes, placement, "
            "pod extensions, PodDisruptionBudget and ServiceAccount <fullname>-cache "
            "included: none is inherited from redis.*).",
            {
                "group": Param(
                    "separate" if group.separate else "shared",
                    "shared: DB 1 on the sessions' Redis group; separate: on <fullname>-cache, "
                    "a second master set of the same Sentinels, with the settings below.",
                    enum("shared", "separate"),
                    ("databases", "cache", "group"),
                ),
                "masterSet": Param(
                    group.master_set,
                    "separate: name of the cache's master set.",
                    {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
                    ("cache", "masterSet"),
                ),
                "replicas": Param(
                    group.replicas,
                    "separate: cache data pods (ha: 1 master + replicas-1 replicas).",
                    integer(1, 15),
                    ("cache", "replicas"),
                ),
                "config": redis_config(group.config, ("cache", "config")),
                "extraConfig": extra_config("cache"),
                "resources": resources(group.resources, "cache", ("cache", "resources")),
                "persistence": persistence(group.persistence, ("cache", "persistence")),
                **_cache_pods(group, zones),
                "terminationGracePeriodSeconds": Param(
                    group.termination_grace_period_seconds,
                    "separate: stop budget of a cache pod: the preStop hand-over (ha), the final"
                    " save when the cache is persisted, a margin (derived unless the spec sets "
                    "it).",
                    integer(0),
                    ("cache", "terminationGracePeriodSeconds"),
                ),
                "defaultTtlSeconds": setting(
                    cache.default_ttl, "CACHE_DEFAULT_TTL_SECONDS", "defaultTtlSeconds"
                ),
                "cleanupIntervalSeconds": setting(
                    cache.cleanup_interval,
                    "CACHE_CLEANUP_INTERVAL_SECONDS",
                    "cleanupIntervalSeconds",
                ),
                "cleanupBatchSize": setting(
                    cache.cleanup_batch_size, "CACHE_CLEANUP_BATCH_SIZE", "cleanupBatchSize"
                ),
                "maxEntriesPerService": setting(
                    cache.max_entries_per_service,
                    "CACHE_MAX_ENTRIES_PER_SERVICE",
                    "maxEntriesPerService",
                ),
            },
        )
    }
