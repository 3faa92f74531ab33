"""The alerts: one list, the single source of the chart's PrometheusRule (both modes), the
runbook in the chart README and the generated promtool unit tests.

Expressions and annotations use placeholders that the renderers (rules.py) replace, either by
Helm template code or by one environment's values:
  @data@ @sentinel@ @all@  label matchers of this release's data pods, Sentinels, both
  @pods@                   namespace and pod-name matchers for cAdvisor/kube-state-metrics
  @t:<name>@               the threshold monitoring.alerts.<name>
  @quorum@ @replicas1@     the Sentinel quorum; data pods less one (replicas a master needs)
  @sessionsDb@ @cacheDb@   the exporter's db label of DB 0 and DB 1
Annotations may use Prometheus' {{ $labels.<name> }} (never $value: the generated tests
compare annotations exactly)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from chartgen.monitoring.series import Series, Target, container, data, sentinel

Thresholds = dict[str, int]
Inputs = Callable[[Target, Thresholds], list[Series]]
Labels = Callable[[Target], dict[str, str]]

TEST_MINUTES = 40  # every test series spans this many 1-minute steps; alerts are checked at 30m


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str  # critical | warning | info
    expr: str
    for_: str
    summary: str
    description: str
    meaning: str  # the runbook's "what it means"
    checks: tuple[str, str, str]  # the runbook's first three things to check
    fire: Inputs
    silent: tuple[tuple[str, Inputs], ...]  # named cases in which it stays silent
    labels: Labels  # the labels of the fired alert, besides alertname and severity
    ha_only: bool = False
    external: tuple[str, ...] = field(default=())  # metrics not from redis_exporter

    @property
    def anchor(self) -> str:
        return self.name.lower()


def _steady(value: float | int) -> str:
    return f"{value}x{TEST_MINUTES}"


def _counter(per_minute: int) -> str:
    return f"0+{per_minute}x{TEST_MINUTES}"


def _data_labels(index: int = 0) -> Labels:
    return lambda t: t.data_labels(index)


def _group(kind: str) -> Labels:
    def labels(t: Target) -> dict[str, str]:
        service = t.data_service if kind == "data" else t.sentinel_service
        return {"namespace": t.namespace, "service": service}

    return labels


def _replication(t: Target, master: int = 0, replicas: int = 2) -> list[Series]:
    roles = [
        data(t, "redis_instance_info", _steady(1), i, role="master" if i == master else "slave")
        for i in range(replicas + 1)
    ]
    return [*(data(t, "redis_up", _steady(1), i) for i in range(replicas + 1)), *roles]


def _cleanup(t: Target, job: str, field_: str, values: str) -> Series:
    db = "db0" if job == "sessions" else "db1"
    return data(t, "redis_key_value", values, db=db, key=f"cleanup:result:{job}:{field_}")


def _cleanup_labels(job: str, field_: str) -> Labels:
    return lambda t: {**_group("data")(t), "key": f"cleanup:result:{job}:{field_}"}


CRITICAL = (
    Alert(
        "RedisDown",
        "critical",
        "redis_up{@all@} == 0",
        "1m",
        "Redis {{ $labels.pod }} is down",
        "The exporter of {{ $labels.pod }} ({{ $labels.service }}, namespace "
        "{{ $labels.namespace }}) cannot reach its Redis or Sentinel for a minute.",
        "An exporter answers but its Redis or Sentinel does not: the process crashed, is loading "
        "a large dataset, or refuses the monitor user.",
        (
            "`kubectl -n <namespace> get pods` and `kubectl describe pod <pod>`: restarts, "
            "OOMKilled, failing probes.",
            "`kubectl logs <pod> -c redis` (or `-c sentinel`): loading, ACL or TLS errors.",
            "The monitor user's password in the chart Secret (MONITOR_PASSWORD) matches the "
            "one the exporter uses.",
        ),
        lambda t, th: [data(t, "redis_up", _steady(0))],
        (("up", lambda t, th: [data(t, "redis_up", _steady(1))]),),
        _data_labels(),
    ),
    Alert(
        "RedisNoMaster",
        "critical",
        "count by (namespace, service) (redis_up{@data@}) unless on (namespace, service) "
        'count by (namespace, service) (redis_instance_info{@data@,role="master"})',
        "@t:failoverGraceSeconds@s",
        "No Redis master in {{ $labels.service }}",
        "No data pod of {{ $labels.service }} (namespace {{ $labels.namespace }}) reports "
        "role master for longer than a failover takes: writes fail.",
        "No data pod reports role:master beyond the failover grace period (Sentinel's "
        "down-after plus the election); every write fails.",
        (
            "`redis-cli -p 26379 sentinel masters` on a Sentinel: flags, num-other-sentinels, "
            "the master's address.",
            "The Sentinels' logs for `-failover-abort-*`, `+tilt` or quorum errors.",
            "Whether the data pods are up at all (RedisDown) and resolve each other "
            "(announce-hostnames).",
        ),
        lambda t, th: _replication(t, master=-1),
        (("one master", lambda t, th: _replication(t)),),
        _group("data"),
    ),
    Alert(
        "RedisMultipleMasters",
        "critical",
        'count by (namespace, service) (redis_instance_info{@data@,role="master"}) > 1',
        "@t:failoverGraceSeconds@s",
        "More than one Redis master in {{ $labels.service }}",
        "Several data pods of {{ $labels.service }} (namespace {{ $labels.namespace }}) "
        "report role master: a split brain, writes to the wrong one are lost.",
        "Two or more data pods report role:master beyond the failover grace period: a split "
        "brain. Writes to a master Sentinel does not announce are lost when it is demoted.",
        (
            "`sentinel get-master-addr-by-name <set>` on every Sentinel: do they agree?",
            "`INFO replication` on each data pod; which one clients write to.",
            "Network partitions between zones; min-replicas-to-write on the old master.",
        ),
        lambda t, th: [
            *_replication(t),
            data(t, "redis_instance_info", _steady(1), 1, role="master"),
        ],
        (("one master", lambda t, th: _replication(t)),),
        _group("data"),
    ),
    Alert(
        "RedisMemoryExhaustion",
        "critical",
        "redis_memory_used_bytes{@data@} / (redis_memory_max_bytes{@data@} > 0) * 100"
        " > @t:memoryCriticalPercent@",
        "2m",
        "Redis {{ $labels.pod }} is nearly out of memory",
        "{{ $labels.pod }} uses more than @t:memoryCriticalPercent@% of maxmemory: with "
        "noeviction writes fail soon, with an eviction policy sessions may be evicted.",
        "Used memory is close to maxmemory. With noeviction writes start failing (OOM errors); "
        "with an eviction policy keys (sessions too) are evicted.",
        (
            "`INFO memory` and `INFO keyspace`: which database grows (DB 0 sessions, DB 1 cache).",
            "The cleanup jobs (RedisCleanupFailing, RedisCleanupStale) and cache TTLs.",
            "Raise redis.config.maxmemory with the memory limit, or trim the cache.",
        ),
        lambda t, th: [
            data(t, "redis_memory_used_bytes", _steady(99)),
            data(t, "redis_memory_max_bytes", _steady(100)),
        ],
        (
            (
                "below",
                lambda t, th: [
                    data(t, "redis_memory_used_bytes", _steady(50)),
                    data(t, "redis_memory_max_bytes", _steady(100)),
                ],
            ),
            (
                "maxmemory 0",
                lambda t, th: [
                    data(t, "redis_memory_used_bytes", _steady(10**9)),
                    data(t, "redis_memory_max_bytes", _steady(0)),
                ],
            ),
        ),
        _data_labels(),
    ),
    Alert(
        "RedisReplicationBroken",
        "critical",
        "redis_master_link_up{@data@} == 0",
        "2m",
        "Replica {{ $labels.pod }} lost its master",
        "The replication link of {{ $labels.pod }} ({{ $labels.service }}) is down: it "
        "serves stale data and cannot take over.",
        "A replica's link to its master is down: it serves stale reads, and a failover to it "
        "would lose writes.",
        (
            "`INFO replication` on the replica: master_host, master_link_down_since_seconds.",
            "The replica's log: authentication (replication user), TLS or full-sync errors.",
            "The master's `client-output-buffer-limit replica` and disk space for the RDB.",
        ),
        lambda t, th: [data(t, "redis_master_link_up", _steady(0), 1)],
        (("linked", lambda t, th: [data(t, "redis_master_link_up", _steady(1), 1)]),),
        _data_labels(1),
        ha_only=True,
    ),
    Alert(
        "RedisReplicasMissing",
        "critical",
        "max by (namespace, service) (redis_connected_slaves{@data@} * on (namespace, service, "
        'instance) group_left () redis_instance_info{@data@,role="master"}) < @replicas1@',
        "5m",
        "The master of {{ $labels.service }} has too few replicas",
        "The master of {{ $labels.service }} (namespace {{ $labels.namespace }}) has fewer "
        "connected replicas than the chart runs: a failover may lose data or be impossible.",
        "The master has fewer connected replicas than redis.replicas - 1; with "
        "min-replicas-to-write the master stops accepting writes when too few remain.",
        (
            "`kubectl get pods`: are all data pods running and ready?",
            "`INFO replication` on the master: connected_slaves and each slave's state.",
            "RedisReplicationBroken on the missing replica; its log.",
        ),
        lambda t, th: [
            data(t, "redis_instance_info", _steady(1), role="master"),
            data(t, "redis_connected_slaves", _steady(0)),
        ],
        (
            (
                "all replicas",
                lambda t, th: [
                    data(t, "redis_instance_info", _steady(1), role="master"),
                    data(t, "redis_connected_slaves", _steady(th["replicas1"])),
                    data(t, "redis_connected_slaves", _steady(0), 1),
                ],
            ),
        ),
        _group("data"),
        ha_only=True,
    ),
    Alert(
        "RedisSentinelQuorumLost",
        "critical",
        "sum by (namespace, service) (redis_up{@sentinel@}) < @quorum@ or min by (namespace, "
        "service) (redis_sentinel_master_ckquorum_status{@sentinel@}) == 0",
        "1m",
        "Sentinels of {{ $labels.service }} cannot reach quorum",
        "Too few Sentinels of {{ $labels.service }} (namespace {{ $labels.namespace }}) are "
        "up or agree: no failover is possible.",
        "Fewer Sentinels than the quorum answer, or a Sentinel reports that quorum or failover "
        "authorisation cannot be reached (SENTINEL CKQUORUM): a master failure would not be "
        "repaired.",
        (
            "`redis-cli -p 26379 sentinel ckquorum <set>` on each Sentinel.",
            "`kubectl get pods` of the Sentinels; their PodDisruptionBudget and node spread.",
            "NetworkPolicies: Sentinel to Sentinel and Sentinel to data pods on both ports.",
        ),
        lambda t, th: [
            *(sentinel(t, "redis_up", _steady(0 if i else 1), i) for i in range(3)),
            sentinel(t, "redis_sentinel_master_ckquorum_status", _steady(0), master_name="m"),
        ],
        (
            (
                "quorum",
                lambda t, th: [
                    *(sentinel(t, "redis_up", _steady(1), i) for i in range(3)),
                    *(
                        sentinel(
                            t, "redis_sentinel_master_ckquorum_status", _steady(1), i,
                            master_name="m",
                        )
                        for i in range(3)
                    ),
                ],
            ),
        ),
        _group("sentinel"),
        ha_only=True,
    ),
    Alert(
        "RedisCleanupFailing",
        "critical",
        'max by (namespace, service, key) (redis_key_value{@data@,key=~"cleanup:result:'
        '[a-z]+:failures"}) >= @t:cleanupFailures@',
        "1m",
        "Cleanup job failing ({{ $labels.key }})",
        "The cleanup job behind {{ $labels.key }} (namespace {{ $labels.namespace }}) failed "
        "@t:cleanupFailures@ or more times in a row: expired index entries and over-limit "
        "sessions pile up.",
        "A cleanup job recorded consecutive failures in its result key: per-user limits are "
        "not enforced and memory grows.",
        (
            "`kubectl get cronjobs,jobs` and the last job's log.",
            "The cleanup user's password and ACL (`ACL LOG` on the master).",
            "The master endpoint: the job writes through it (RedisNoMaster).",
        ),
        lambda t, th: [_cleanup(t, "sessions", "failures", _steady(th["cleanupFailures"]))],
        (("succeeding", lambda t, th: [_cleanup(t, "sessions", "failures", _steady(0))]),),
        _cleanup_labels("sessions", "failures"),
    ),
    Alert(
        "RedisCleanupStale",
        "critical",
        'time() - max by (namespace, service, key) (redis_key_value{@data@,key=~"cleanup:'
        'result:[a-z]+:last_success"}) > @t:cleanupMaxAgeSeconds@',
        "1m",
        "Cleanup job has not succeeded lately ({{ $labels.key }})",
        "No successful run recorded in {{ $labels.key }} (namespace {{ $labels.namespace }}) "
        "for @t:cleanupMaxAgeSeconds@ seconds.",
        "A cleanup job has not recorded a success for longer than the threshold: it is "
        "suspended, not scheduled, or failing before it can record a failure.",
        (
            "`kubectl get cronjob`: suspended, last schedule time, concurrency policy.",
            "The last job's pod: image pull, Pod Security or NetworkPolicy refusals.",
            "RedisCleanupFailing for the same job.",
        ),
        lambda t, th: [
            _cleanup(t, "cache", "last_success", _steady(-th["cleanupMaxAgeSeconds"] - 60))
        ],
        (("recent", lambda t, th: [_cleanup(t, "cache", "last_success", _counter(60))]),),
        _cleanup_labels("cache", "last_success"),
    ),
)

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
            data(t, "redis_memory_used_bytes", _steady(th["memoryWarningPercent"] + 1)),
            data(t, "redis_memory_max_bytes", _steady(100)),
        ],
        (
            (
                "below",
                lambda t, th: [
                    data(t, "redis_memory_used_bytes", _steady(th["memoryWarningPercent"] - 1)),
                    data(t, "redis_memory_max_bytes", _steady(100)),
                ],
            ),
            (
                "maxmemory 0",
                lambda t, th: [
                    data(t, "redis_memory_used_bytes", _steady(10**9)),
                    data(t, "redis_memory_max_bytes", _steady(0)),
                ],
            ),
        ),
        _data_labels(),
    ),
    Alert(
        "RedisTooManyConnections",
        "warning",
        "redis_connected_clients{@all@} > @t:connectionsWarning@",
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
        lambda t, th: [data(t, "redis_connected_clients", _steady(th["connectionsWarning"] + 1))],
        (("few", lambda t, th: [data(t, "redis_connected_clients", _steady(10))]),),
        _data_labels(),
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
            data(t, "redis_keyspace_hits_total", _counter(60)),
            data(t, "redis_keyspace_misses_total", _counter(6000 + 60 * th["cacheMinOpsPerSecond"])),
        ],
        (
            (
                "hits",
                lambda t, th: [
                    data(t, "redis_keyspace_hits_total", _counter(60000)),
                    data(t, "redis_keyspace_misses_total", _counter(60)),
                ],
            ),
            (
                "little traffic",
                lambda t, th: [
                    data(t, "redis_keyspace_hits_total", _counter(0)),
                    data(t, "redis_keyspace_misses_total", _counter(0)),
                ],
            ),
        ),
        _group("data"),
    ),
    Alert(
        "RedisRejectedConnections",
        "warning",
        "increase(redis_rejected_connections_total{@all@}[5m]) > 0",
        "1m",
        "{{ $labels.pod }} rejects connections",
        "{{ $labels.pod }} rejected client connections in the last 5 minutes (maxclients "
        "reached).",
        "The instance reached maxclients and refused new connections: clients see errors.",
        (
            "RedisTooManyConnections and `INFO clients`.",
            "`CLIENT LIST`: idle connections (raise their pools' idle timeout handling).",
            "Application restarts storming the instance with new pools.",
        ),
        lambda t, th: [data(t, "redis_rejected_connections_total", _counter(5))],
        (("none", lambda t, th: [data(t, "redis_rejected_connections_total", _steady(3))]),),
        _data_labels(),
    ),
    Alert(
        "RedisEvictions",
        "warning",
        "increase(redis_evicted_keys_total{@data@}[5m]) > @t:evictedKeysPer5m@",
        "1m",
        "{{ $labels.pod }} evicts keys",
        "{{ $labels.pod }} evicted more than @t:evictedKeysPer5m@ keys in 5 minutes: "
        "sessions may be among them.",
        "Redis removes keys to stay under maxmemory. maxmemory-policy is per instance, so "
        "sessions in DB 0 can be evicted with the cache.",
        (
            "`INFO stats` evicted_keys and `INFO keyspace`: which database shrinks.",
            "redis.config.maxmemoryPolicy: noeviction keeps sessions, at the price of OOM "
            "errors.",
            "Cache cleanup (CACHE_MAX_ENTRIES_PER_SERVICE) and maxmemory.",
        ),
        lambda t, th: [
            data(t, "redis_evicted_keys_total", _counter(th["evictedKeysPer5m"] + 10))
        ],
        (("none", lambda t, th: [data(t, "redis_evicted_keys_total", _steady(7))]),),
        _data_labels(),
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
                t, "redis_connected_slave_lag_seconds", _steady(th["replicationLagSeconds"] + 1),
                slave_ip="10.0.0.11", slave_port="6379", slave_state="online",
            )
        ],
        (
            (
                "in sync",
                lambda t, th: [
                    data(
                        t, "redis_connected_slave_lag_seconds", _steady(0),
                        slave_ip="10.0.0.11", slave_port="6379", slave_state="online",
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
            data(t, "redis_rdb_last_bgsave_status", _steady(0)),
            data(t, "redis_aof_last_write_status", _steady(1)),
        ],
        (
            (
                "saving",
                lambda t, th: [
                    data(t, "redis_rdb_last_bgsave_status", _steady(1)),
                    data(t, "redis_aof_last_write_status", _steady(1)),
                ],
            ),
        ),
        _data_labels(),
    ),
    Alert(
        "RedisContainerCpuPressure",
        "warning",
        'sum by (namespace, pod, container) (rate(container_cpu_usage_seconds_total{@pods@,'
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
            container(t, "container_cpu_usage_seconds_total", _counter(60)),
            container(t, "kube_pod_container_resource_limits", _steady(1), resource="cpu"),
        ],
        (
            (
                "idle",
                lambda t, th: [
                    container(t, "container_cpu_usage_seconds_total", _counter(6)),
                    container(t, "kube_pod_container_resource_limits", _steady(1), resource="cpu"),
                ],
            ),
        ),
        lambda t: t.container_labels("redis", 0),
        external=("container_cpu_usage_seconds_total", "kube_pod_container_resource_limits"),
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
            container(t, "container_memory_working_set_bytes", _steady(95)),
            container(t, "kube_pod_container_resource_limits", _steady(100), resource="memory"),
        ],
        (
            (
                "headroom",
                lambda t, th: [
                    container(t, "container_memory_working_set_bytes", _steady(50)),
                    container(
                        t, "kube_pod_container_resource_limits", _steady(100), resource="memory"
                    ),
                ],
            ),
        ),
        lambda t: t.container_labels("redis", 0),
        external=("container_memory_working_set_bytes", "kube_pod_container_resource_limits"),
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
            data(t, "redis_db_keys", _steady(th["sessionsInfo"] + 1), db=th["sessionsDb"])
        ],
        (("few", lambda t, th: [data(t, "redis_db_keys", _steady(10), db=th["sessionsDb"])]),),
        _group("data"),
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
        lambda t, th: [
            _cleanup(t, "sessions", "removed", _steady(th["cleanupRemovedInfo"] + 1))
        ],
        (("few", lambda t, th: [_cleanup(t, "sessions", "removed", _steady(3))]),),
        _cleanup_labels("sessions", "removed"),
    ),
)

ALERTS: tuple[Alert, ...] = (*CRITICAL, *WARNING, *INFO)
SEVERITY_GROUPS: tuple[tuple[str, tuple[Alert, ...]], ...] = (
    ("critical", CRITICAL),
    ("warning", WARNING),
    ("info", INFO),
)

# Alertmanager: one receiver per severity; a critical alert silences the warnings of the same
# namespace, service and instance (an instance that is down also has no replication, ...).
INHIBIT_EQUAL = ("namespace", "service", "instance")
GROUP_BY = ("alertname", "namespace", "service")
