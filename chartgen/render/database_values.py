"""Helm values of the two databases: session and cache settings the cleanup jobs and clients
read (sessions.*, cache.*)."""

from __future__ import annotations

from collections.abc import Callable

from chartgen.render.params import Group, Node, Param
from chartgen.render.value_parts import integer
from chartgen.topology.model import Cache, Sessions


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


def cache_values(cache: Cache) -> dict[str, Node]:
    setting = _database_setting("cache")

    return {
        "cache": Group(
            f"Service cache (DB {cache.index}) settings.",
            {
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
