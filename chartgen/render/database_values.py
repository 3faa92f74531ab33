"""Helm values of the two databases: session and cache settings the cleanup jobs and clients
read (sessions.*, cache.*)."""

from __future__ import annotations

from collections.abc import Callable

from chartgen.render.params import Group, Node, Param
from chartgen.render.value_parts import enum, integer, persistence, redis_config, resources
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


def cache_values(cache: Cache, group: CacheGroup) -> dict[str, Node]:
    setting = _database_setting("cache")

    return {
        "cache": Group(
            f"Service cache (DB {cache.index}) settings and, with group separate, its own "
            "Redis group (probes, placement and pod extensions follow redis.*; its grace "
            "period is its own).",
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
                "resources": resources(group.resources, "cache", ("cache", "resources")),
                "persistence": persistence(group.persistence, ("cache", "persistence")),
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
