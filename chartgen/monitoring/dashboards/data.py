"""The Sessions (DB 0) and Cache (DB 1) dashboards: keys and expiring keys, the spec's limits,
hit rate and evictions per group, and the cleanup jobs' results (cleanup:result:<job>:*, which
the exporter publishes as redis_key_value)."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat

from chartgen.monitoring import exporter
from chartgen.monitoring.dashboards.base import (
    DATA,
    POD,
    RATE,
    SESSIONS,
    Board,
    Row,
    constant,
    series,
    single,
)
from chartgen.monitoring.dashboards.overview import hit_rate

# Spec parameters the panels show, as dashboard constants: name -> Helm values path. The chart's
# copy carries a token per constant that its ConfigMap replaces with the release's value.
SESSION_CONSTANTS = {
    "max_sessions_per_user": "sessions.maxSessionsPerUser",
    "max_refresh_tokens_per_user": "sessions.maxRefreshTokensPerUser",
    "session_ttl_seconds": "sessions.ttlSeconds",
    "refresh_token_ttl_seconds": "sessions.refreshTokenTtlSeconds",
    "sessions_cleanup_interval_seconds": "sessions.cleanupIntervalSeconds",
}
CACHE_CONSTANTS = {
    "max_entries_per_service": "cache.maxEntriesPerService",
    "cache_default_ttl_seconds": "cache.defaultTtlSeconds",
    "cache_cleanup_interval_seconds": "cache.cleanupIntervalSeconds",
}
Constants = dict[str, str]  # constant name -> its value (or the chart's token)


def _constants(names: dict[str, str], values: Constants) -> list[db.ConstantVariable]:
    return [constant(name, values[name]) for name in names]


def _spec(title: str, description: str, name: str, unit: str = "short") -> stat.Panel:
    return single(title, description, f"vector(${name})", unit=unit, width=4)


def cleanup_row(job: str, interval: str) -> Row:
    """The results the `job` cleanup records in its DB (any data pod of either group: the keys
    replicate, and with a separate cache group the cache job writes to that group)."""

    def key(field: str) -> str:
        return f'redis_key_value{{{DATA},key="{exporter.cleanup_key(job, field)}"}}'

    return (
        f"Cleanup runs ({job} job)",
        [
            single(
                "Since the last run",
                f"Seconds since the {job} cleanup last ran (every ${interval} s).",
                f"time() - max({key('last_run')})",
                unit="s",
            ),
            single(
                "Since the last success",
                "Seconds since its last successful run (RedisCleanupStale).",
                f"time() - max({key('last_success')})",
                unit="s",
            ),
            single(
                "Consecutive failures",
                "Failed runs since the last success (RedisCleanupFailing).",
                f"max({key('failures')})",
                steps=((None, "green"), (1, "red")),
            ),
            single(
                "Runs in the range",
                "Runs recorded in the dashboard's time range.",
                f"max(changes({key('last_run')}[$__range]))",
            ),
            series(
                "Removed by each run",
                "Entries the last run removed: expired, gone, over the per-user or "
                "per-service limits.",
                [(f"max({key('removed')})", "removed")],
            ),
            series(
                "Failures",
                "Consecutive failed runs over time.",
                [(f"max({key('failures')})", "failures")],
            ),
        ],
    )


def _keys(db_label: str, matchers: str, what: str) -> Row:
    keys = f'redis_db_keys{{{matchers},db="{db_label}"}}'
    expiring = f'redis_db_keys_expiring{{{matchers},db="{db_label}"}}'
    return (
        f"Keys ({what})",
        [
            single(
                "Keys",
                f"Keys in {db_label} (the group's largest count: replicas copy the master).",
                f"max by (service) ({keys})",
                "{{service}}",
            ),
            single(
                "Expiring keys",
                "Keys with a TTL.",
                f"max by (service) ({expiring})",
                "{{service}}",
            ),
            single(
                "Keys without TTL",
                "Keys that never expire (indexes); each needs its cleanup.",
                f"max by (service) ({keys} - {expiring})",
                "{{service}}",
            ),
            single(
                "Average TTL",
                "Average remaining TTL of the expiring keys.",
                f'max by (service) (redis_db_avg_ttl_seconds{{{matchers},db="{db_label}"}})',
                "{{service}}",
                unit="s",
            ),
            series(
                "Keys and expiring keys",
                f"Keys of {db_label} per group over time.",
                [
                    (f"max by (service) ({keys})", "{{service}} keys"),
                    (f"max by (service) ({expiring})", "{{service}} expiring"),
                ],
            ),
            series(
                "Expired keys /s",
                "Keys removed by expiry per pod (all databases of the instance).",
                [(f"rate(redis_expired_keys_total{{{matchers},{POD}}}[{RATE}])", "{{pod}}")],
                unit="ops",
            ),
        ],
    )


def sessions(uid: str, title: str, values: Constants, db_label: str) -> Board:
    limits: Row = (
        "Per-user limits and TTLs (spec)",
        [
            _spec(
                "Max sessions per user",
                "MAX_SESSIONS_PER_USER: the session cleanup removes the oldest beyond it.",
                "max_sessions_per_user",
            ),
            _spec(
                "Max refresh tokens per user",
                "MAX_REFRESH_TOKENS_PER_USER, enforced the same way.",
                "max_refresh_tokens_per_user",
            ),
            _spec("Session TTL", "SESSION_TTL_SECONDS.", "session_ttl_seconds", "s"),
            _spec(
                "Refresh token TTL",
                "REFRESH_TOKEN_TTL_SECONDS.",
                "refresh_token_ttl_seconds",
                "s",
            ),
            _spec(
                "Cleanup interval",
                "CLEANUP_INTERVAL_SECONDS of the session cleanup.",
                "sessions_cleanup_interval_seconds",
                "s",
            ),
        ],
    )
    rows: Sequence[Row] = [
        _keys(db_label, SESSIONS, f"sessions, {db_label}"),
        limits,
        cleanup_row("sessions", "sessions_cleanup_interval_seconds"),
    ]
    return Board(
        name="sessions",
        uid=uid,
        title=title,
        description=f"The session database ({db_label}): keys, expiring keys, the spec's "
        "per-user limits and the session cleanup's runs.",
        rows=rows,
        constants=_constants(SESSION_CONSTANTS, values),
    )


def cache(uid: str, title: str, values: Constants, db_label: str) -> Board:
    lookups = (
        "Lookups and evictions per group",
        [
            series(
                "Hit rate per group",
                "Keyspace hits per lookup of each data group. With databases.cache.group "
                "separate the cache group's line is the cache's own; shared, it mixes session "
                "lookups in.",
                [(hit_rate(DATA), "{{service}}")],
                unit="percent",
                width=8,
            ),
            series(
                "Hits and misses /s",
                "Lookups per second per group.",
                [
                    (
                        f"sum by (service) (rate(redis_keyspace_hits_total{{{DATA}}}[{RATE}]))",
                        "{{service}} hits",
                    ),
                    (
                        f"sum by (service) (rate(redis_keyspace_misses_total{{{DATA}}}[{RATE}]))",
                        "{{service}} misses",
                    ),
                ],
                unit="ops",
                width=8,
            ),
            series(
                "Evicted keys /s",
                "Keys evicted at maxmemory per group (RedisEvictions); the sessions' group "
                "should show none.",
                [
                    (
                        f"sum by (service) (rate(redis_evicted_keys_total{{{DATA}}}[{RATE}]))",
                        "{{service}}",
                    )
                ],
                unit="ops",
                width=8,
            ),
            series(
                "Memory used per group, % of maxmemory",
                "The fullest pod of each group: an allkeys-* cache group evicts near 100%, a "
                "noeviction group refuses writes.",
                [
                    (
                        f"max by (service) (redis_memory_used_bytes{{{DATA}}} / "
                        f"(redis_memory_max_bytes{{{DATA}}} > 0) * 100)",
                        "{{service}}",
                    )
                ],
                unit="percent",
            ),
            _spec(
                "Max entries per service",
                "CACHE_MAX_ENTRIES_PER_SERVICE: the cache cleanup trims the least recently "
                "used beyond it.",
                "max_entries_per_service",
            ),
            _spec("Default TTL", "CACHE_DEFAULT_TTL_SECONDS.", "cache_default_ttl_seconds", "s"),
            _spec(
                "Cleanup interval",
                "CACHE_CLEANUP_INTERVAL_SECONDS.",
                "cache_cleanup_interval_seconds",
                "s",
            ),
        ],
    )
    return Board(
        name="cache",
        uid=uid,
        title=title,
        description=f"The service cache ({db_label}) on whichever group holds it "
        "(databases.cache.group): keys, hit rate and evictions per group, the cache "
        "cleanup's runs.",
        rows=[
            _keys(db_label, DATA, f"cache, {db_label}"),
            lookups,
            cleanup_row("cache", "cache_cleanup_interval_seconds"),
        ],
        constants=_constants(CACHE_CONSTANTS, values),
    )
