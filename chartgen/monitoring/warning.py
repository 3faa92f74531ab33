"""Warning alerts (degradation, pressure) and info alerts (session and cleanup statistics)."""

from __future__ import annotations

from chartgen.monitoring.alert import (
    Alert,
    cleanup,
    cleanup_labels,
    counter,
    data_labels,
    group,
    steady,
)
from chartgen.monitoring.groups import ALL, CACHE, CACHE_DB, DATA, MEMORY
from chartgen.monitoring.series import container, data

WARNING = (
    Alert(
        "RedisMemoryHigh",
        "warning",
        "redis_memory_used_bytes{@data@} / (redis_memory_max_bytes{@data@} > 0) * 100"
        " > @t:memoryWarningPercent@",
        "5m",
        "Redis {{ $labels.pod }} memory is high",
        "{{ $labels.pod }} uses more than @t:memoryWarningPercent@% of maxmemory.",
        "Memory pressure inside Redis: used memory passed the warning share of maxmemory, "
        "ahead of RedisMemoryExhaustion.",
        (
            "`INFO keyspace`: keys and expiring keys per database.",
            "Whether the cleanup jobs keep up (removed per run, RedisCleanupStale).",
            "The growth trend: plan a maxmemory and memory-limit increase.",
        ),
        lambda t, th: [
            data(t, "redis_memory_used_bytes", steady(th["memoryWarningPercent"] + 1)),
            data(t, "redis_memory_max_bytes", steady(100)),
        ],
        (
            (
                "below",
                lambda t, th: [
                    data(t, "redis_memory_used_bytes", steady(th["memoryWarningPercent"] - 1)),
                    data(t, "redis_memory_max_bytes", steady(100)),
                ],
            ),
            (
                "maxmemory 0",
                lambda t, th: [
                    data(t, "redis_memory_used_bytes", steady(10**9)),
                    data(t, "redis_memory_max_bytes", steady(0)),
                ],
            ),
        ),
        data_labels(),
        scopes=MEMORY,
    ),
    Alert(
        "RedisTooManyConnections",
        "warning",
        "redis_connected_clients{@data@} > @t:connectionsWarning@",
        "5m",
        "Many client connections on {{ $labels.pod }}",
        "{{ $labels.pod }} has more than @t:connectionsWarning@ client connections.",
        "An instance holds more client connections than the threshold; at maxclients (10000) "
        "new connections are rejected.",
        (
            "`CLIENT LIST` grouped by name and address: which application holds them.",
            "Connection pools sized per application replica; leaked connections.",
            "The endpoint's maxConnections and idle timeout.",
        ),
        lambda t, th: [data(t, "redis_connected_clients", steady(th["connectionsWarning"] + 1))],
        (("few", lambda t, th: [data(t, "redis_connected_clients", steady(10))]),),
        data_labels(),
        scopes=ALL,
    ),
    Alert(
        "RedisCacheLowHitRate",
        "warning",
        "sum by (namespace, service) (rate(redis_keyspace_hits_total{@data@}[5m])) / (sum by "
        "(namespace, service) (rate(redis_keyspace_hits_total{@data@}[5m])) + sum by (namespace, "
        "service) (rate(redis_keyspace_misses_total{@data@}[5m]))) * 100 < "
        "@t:cacheHitRatePercent@ and (sum by (namespace, service) (rate(redis_keyspace_hits_total"
        "{@data@}[5m])) + sum by (namespace, service) (rate(redis_keyspace_misses_total{@data@}"
        "[5m]))) >= @t:cacheMinOpsPerSecond@",
        "15m",
        "Low cache hit rate in {{ $labels.service }}",
        "Fewer than @t:cacheHitRatePercent@% of lookups on {{ $labels.service }} (namespace "
        "{{ $labels.namespace }}) hit, at @t:cacheMinOpsPerSecond@ lookups per second or more.",
        "Redis counts hits per instance, not per database: this is the hit rate of the "
        "instances serving the cache (DB 1), silent below the minimum lookup rate.",
        (
            "Cache TTLs (cache.defaultTtlSeconds) and CACHE_MAX_ENTRIES_PER_SERVICE: entries "
            "expire or are trimmed too early.",
            "Evictions (RedisEvictions) under memory pressure.",
            "A new client reading keys it never writes (misses by key prefix in its metrics).",
        ),
        lambda t, th: [
            data(t, "redis_keyspace_hits_total", counter(60)),
            data(t, "redis_keyspace_misses_total", counter(6000 + 60 * th["cacheMinOpsPerSecond"])),
        ],
        (
            (
                "hits",
                lambda t, th: [
                    data(t, "redis_keyspace_hits_total", counter(60000)),
                    data(t, "redis_keyspace_misses_total", counter(60)),
                ],
            ),
            (
                "little traffic",
                lambda t, th: [
                    data(t, "redis_keyspace_hits_total", counter(0)),
                    data(t, "redis_keyspace_misses_total", counter(0)),
                ],
            ),
        ),
        group("data"),
        scopes=CACHE_DB,
    ),
    Alert(
        "RedisRejectedConnections",
        "warning",
        "increase(redis_rejected_connections_total{@data@}[5m]) > 0",
        "1m",
        "{{ $labels.pod }} rejects connections",
        "{{ $labels.pod }} rejected client connections in the last 5 minutes (maxclients reached).",
        "The instance reached maxclients and refused new connections: clients see errors.",
        (
            "RedisTooManyConnections and `INFO clients`.",
            "`CLIENT LIST`: idle connections (raise their pools' idle timeout handling).",
            "Application restarts storming the instance with new pools.",
        ),
        lambda t, th: [data(t, "redis_rejected_connections_total", counter(5))],
        (("none", lambda t, th: [data(t, "redis_rejected_connections_total", steady(3))]),),
        data_labels(),
        scopes=ALL,
    ),
    Alert(
        "RedisReplicationLag",
        "warning",
        "redis_connected_slave_lag_seconds{@data@} > @t:replicationLagSeconds@",
        "2m",
        "Replica {{ $labels.slave_ip }} of {{ $labels.pod }} lags",
        "The master {{ $labels.pod }} has not heard from replica {{ $labels.slave_ip }} for "
        "more than @t:replicationLagSeconds@ seconds; writes stop once too many replicas lag "
        "(min-replicas-max-lag).",
        "A replica acknowledges the replication stream late: it is overloaded, its network is "
        "slow, or it is resyncing.",
        (
            "`INFO replication` on the master: each slave's lag and offset.",
            "The replica's CPU (RedisContainerCpuPressure) and disk.",
            "Network between the zones of master and replica.",
        ),
        lambda t, th: [
            data(
                t,
                "redis_connected_slave_lag_seconds",
                steady(th["replicationLagSeconds"] + 1),
                slave_ip="10.0.0.11",
                slave_port="6379",
                slave_state="online",
            )
        ],
        (
            (
                "in sync",
                lambda t, th: [
                    data(
                        t,
                        "redis_connected_slave_lag_seconds",
                        steady(0),
                        slave_ip="10.0.0.11",
                        slave_port="6379",
                        slave_state="online",
                    )
                ],
            ),
        ),
        lambda t: {
            **t.data_labels(0),
            "slave_ip": "10.0.0.11",
            "slave_port": "6379",
            "slave_state": "online",
        },
        ha_only=True,
        scopes=DATA,
    ),
    Alert(
        "RedisPersistenceFailing",
        "warning",
        "min by (namespace, service, pod, instance) (redis_rdb_last_bgsave_status{@data@} or "
        "redis_aof_last_write_status{@data@} or redis_aof_last_bgrewrite_status{@data@}) == 0",
        "5m",
        "Persistence failing on {{ $labels.pod }}",
        "The last RDB snapshot, AOF write or AOF rewrite of {{ $labels.pod }} failed: a "
        "restart would lose data.",
        "The last background save, AOF write or AOF rewrite failed; Redis may refuse writes "
        "(stop-writes-on-bgsave-error) and a restart loses what was not saved.",
        (
            "`INFO persistence`: rdb_last_bgsave_status, aof_last_write_status and the log.",
            "Free space on the PersistentVolume (`df /data` in the pod).",
            "Memory for the fork (redis.config.maxmemory against the memory limit).",
        ),
        lambda t, th: [
            data(t, "redis_rdb_last_bgsave_status", steady(0)),
            data(t, "redis_aof_last_write_status", steady(1)),
        ],
        (
            (
                "saving",
                lambda t, th: [
                    data(t, "redis_rdb_last_bgsave_status", steady(1)),
                    data(t, "redis_aof_last_write_status", steady(1)),
                ],
            ),
        ),
        data_labels(),
        scopes=DATA,
    ),
    Alert(
        "RedisContainerCpuPressure",
        "warning",
        "sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{@pods@,"
        'container!=""}[5m])) / sum by (namespace, pod, container) '
        '(kube_pod_container_resource_limits{@pods@,resource="cpu"}) * 100 > @t:cpuPercent@',
        "15m",
        "{{ $labels.pod }} ({{ $labels.container }}) is near its CPU limit",
        "{{ $labels.container }} in {{ $labels.pod }} uses more than @t:cpuPercent@% of its "
        "CPU limit: latency rises and probes may time out.",
        "A Redis or Sentinel container runs close to its CPU limit and is throttled: latency "
        "grows, probes and Sentinel pings may time out.",
        (
            "`SLOWLOG GET` and `LATENCY LATEST`: expensive commands (large ranges, scripts).",
            "The cleanup jobs' batch size (CACHE_CLEANUP_BATCH_SIZE) and schedule.",
            "Raise redis.resources.limits.cpu (Redis is single-threaded: 1-2 CPUs).",
        ),
        lambda t, th: [
            container(t, "container_cpu_usage_seconds_total", counter(60)),
            container(t, "kube_pod_container_resource_limits", steady(1), resource="cpu"),
        ],
        (
            (
                "idle",
                lambda t, th: [
                    container(t, "container_cpu_usage_seconds_total", counter(6)),
                    container(t, "kube_pod_container_resource_limits", steady(1), resource="cpu"),
                ],
            ),
        ),
        lambda t: t.container_labels(None, 0),
        external=("container_cpu_usage_seconds_total", "kube_pod_container_resource_limits"),
        scopes=ALL,
    ),
    Alert(
        "RedisContainerMemoryPressure",
        "warning",
        "sum by (namespace, pod, container) (container_memory_working_set_bytes{@pods@,"
        'container!=""}) / sum by (namespace, pod, container) '
        '(kube_pod_container_resource_limits{@pods@,resource="memory"}) * 100 > '
        "@t:memoryLimitPercent@",
        "5m",
        "{{ $labels.pod }} ({{ $labels.container }}) is near its memory limit",
        "{{ $labels.container }} in {{ $labels.pod }} uses more than @t:memoryLimitPercent@% "
        "of its memory limit: the kernel OOM-kills it above.",
        "The container's working set approaches its memory limit; above it the container is "
        "OOM-killed (a fork for a snapshot doubles pages that change).",
        (
            "`INFO memory`: used_memory_rss against used_memory (fragmentation).",
            "redis.config.maxmemory leaves headroom below the limit for fork and buffers.",
            "Client output buffers (`CLIENT LIST` omem) of slow consumers.",
        ),
        lambda t, th: [
            container(t, "container_memory_working_set_bytes", steady(95)),
            container(t, "kube_pod_container_resource_limits", steady(100), resource="memory"),
        ],
        (
            (
                "headroom",
                lambda t, th: [
                    container(t, "container_memory_working_set_bytes", steady(50)),
                    container(
                        t, "kube_pod_container_resource_limits", steady(100), resource="memory"
                    ),
                ],
            ),
        ),
        lambda t: t.container_labels(None, 0),
        external=("container_memory_working_set_bytes", "kube_pod_container_resource_limits"),
        scopes=ALL,
    ),
)

INFO = (
    Alert(
        "RedisSessionCount",
        "info",
        'max by (namespace, service) (redis_db_keys{@data@,db="@sessionsDb@"}) > @t:sessionsInfo@',
        "30m",
        "Many keys in the session database of {{ $labels.service }}",
        "DB 0 of {{ $labels.service }} (namespace {{ $labels.namespace }}) holds more than "
        "@t:sessionsInfo@ keys (sessions, refresh tokens, per-user indexes).",
        "Session statistics for capacity planning: DB 0 passed the informational key count.",
        (
            "Keys and expiring keys of DB 0 over the last week (dashboard Sessions).",
            "MAX_SESSIONS_PER_USER and the session cleanup's removed count.",
            "Memory headroom (RedisMemoryHigh).",
        ),
        lambda t, th: [
            data(t, "redis_db_keys", steady(th["sessionsInfo"] + 1), db=th["sessionsDb"])
        ],
        (("few", lambda t, th: [data(t, "redis_db_keys", steady(10), db=th["sessionsDb"])]),),
        group("data"),
    ),
    Alert(
        "RedisCleanupRemovedMany",
        "info",
        'max by (namespace, service, key) (redis_key_value{@data@,key=~"cleanup:result:'
        '[a-z]+:removed"}) > @t:cleanupRemovedInfo@',
        "1m",
        "A cleanup run removed many entries ({{ $labels.key }})",
        "The last run recorded in {{ $labels.key }} (namespace {{ $labels.namespace }}) "
        "removed more than @t:cleanupRemovedInfo@ entries.",
        "A cleanup run removed more entries than usual: users beyond their session limits, or "
        "a service caching beyond CACHE_MAX_ENTRIES_PER_SERVICE.",
        (
            "The job's log: which users or services.",
            "Per-user limits (maxSessionsPerUser, maxRefreshTokensPerUser).",
            "The cleanup interval against the write rate.",
        ),
        lambda t, th: [cleanup(t, "sessions", "removed", steady(th["cleanupRemovedInfo"] + 1))],
        (("few", lambda t, th: [cleanup(t, "sessions", "removed", steady(3))]),),
        cleanup_labels("sessions", "removed"),
        scopes=DATA,
    ),
    Alert(
        "RedisCacheEvictions",
        "info",
        "increase(redis_evicted_keys_total{@data@}[5m]) > @t:cacheEvictedKeysPer5m@",
        "15m",
        "{{ $labels.pod }} evicts many cache entries",
        "{{ $labels.pod }} ({{ $labels.service }}) evicted more than @t:cacheEvictedKeysPer5m@ "
        "cache entries in 5 minutes for 15 minutes: the cache runs full.",
        "The cache's own group evicts by design (cache.config.maxmemoryPolicy, allkeys-lru "
        "by default): evictions there lose no session, only entries the services refill. A "
        "sustained high rate says the cache is smaller than its working set: capacity "
        "planning, not an incident (RedisCacheLowHitRate says when it hurts).",
        (
            "RedisCacheLowHitRate and the hit rate on the cache dashboard.",
            "`INFO keyspace` on the cache master: entries per service against "
            "CACHE_MAX_ENTRIES_PER_SERVICE.",
            "Raise cache.config.maxmemory with cache.resources, or shorten cache TTLs.",
        ),
        lambda t, th: [
            data(t, "redis_evicted_keys_total", counter(th["cacheEvictedKeysPer5m"] + 10))
        ],
        (
            (
                "at the usual rate",
                lambda t, th: [
                    data(t, "redis_evicted_keys_total", counter(th["cacheEvictedKeysPer5m"] // 10))
                ],
            ),
        ),
        data_labels(),
        scopes=CACHE,
    ),
)
