"""Critical alerts: the release cannot serve, or will not survive the next failure."""

from __future__ import annotations

from chartgen.monitoring.alert import (
    Alert,
    cleanup,
    cleanup_labels,
    counter,
    data_labels,
    group,
    replication,
    steady,
)
from chartgen.monitoring.groups import ALL, DATA, MEMORY, SENTINEL, SESSIONS
from chartgen.monitoring.series import data, sentinel

CRITICAL = (
    Alert(
        "RedisDown",
        "critical",
        "redis_up{@data@} == 0",
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
        lambda t, th: [data(t, "redis_up", steady(0))],
        (("up", lambda t, th: [data(t, "redis_up", steady(1))]),),
        data_labels(),
        scopes=ALL,
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
        lambda t, th: replication(t, master=-1),
        (("one master", lambda t, th: replication(t)),),
        group("data"),
        scopes=DATA,
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
            *replication(t),
            data(t, "redis_instance_info", steady(1), 1, role="master"),
        ],
        (("one master", lambda t, th: replication(t)),),
        group("data"),
        scopes=DATA,
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
            data(t, "redis_memory_used_bytes", steady(99)),
            data(t, "redis_memory_max_bytes", steady(100)),
        ],
        (
            (
                "below",
                lambda t, th: [
                    data(t, "redis_memory_used_bytes", steady(50)),
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
        "RedisEvictions",
        "critical",
        "increase(redis_evicted_keys_total{@data@}[5m]) > @t:evictedKeysPer5m@",
        "1m",
        "{{ $labels.pod }} evicts keys of the sessions' group",
        "{{ $labels.pod }} ({{ $labels.service }}) evicted more than @t:evictedKeysPer5m@ keys "
        "in 5 minutes: live sessions may be gone (users logged out).",
        "The sessions' group removed keys to stay under maxmemory. Under noeviction (the "
        "chart's default for this group) it never does, so any eviction means its policy was "
        "changed: maxmemory-policy is per instance, every policy but noeviction can evict "
        "sessions (volatile-ttl the short-lived sessions first), and an evicted session is a "
        "logged-out user. Critical for that reason; the cache's own group evicts by design "
        "(RedisCacheEvictions).",
        (
            "`INFO memory` (maxmemory_policy) and redis.config.maxmemoryPolicy in the "
            "environment's values: noeviction keeps sessions, at the price of OOM errors.",
            "`INFO keyspace`: which database shrinks; with databases.cache.group shared, move "
            "the cache to a group of its own (separate).",
            "Memory: RedisMemoryHigh, the cleanup jobs and redis.config.maxmemory.",
        ),
        lambda t, th: [data(t, "redis_evicted_keys_total", counter(th["evictedKeysPer5m"] + 10))],
        (("none", lambda t, th: [data(t, "redis_evicted_keys_total", steady(7))]),),
        data_labels(),
        scopes=SESSIONS,
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
        lambda t, th: [data(t, "redis_master_link_up", steady(0), 1)],
        (("linked", lambda t, th: [data(t, "redis_master_link_up", steady(1), 1)]),),
        data_labels(1),
        ha_only=True,
        scopes=DATA,
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
            data(t, "redis_instance_info", steady(1), role="master"),
            data(t, "redis_connected_slaves", steady(0)),
        ],
        (
            (
                "all replicas",
                lambda t, th: [
                    data(t, "redis_instance_info", steady(1), role="master"),
                    data(t, "redis_connected_slaves", steady(th["replicas1"])),
                    data(t, "redis_connected_slaves", steady(0), 1),
                ],
            ),
        ),
        group("data"),
        ha_only=True,
        scopes=DATA,
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
            *(sentinel(t, "redis_up", steady(0 if i else 1), i) for i in range(3)),
            sentinel(t, "redis_sentinel_master_ckquorum_status", steady(0), master_name="m"),
        ],
        (
            (
                "quorum",
                lambda t, th: [
                    *(sentinel(t, "redis_up", steady(1), i) for i in range(3)),
                    *(
                        sentinel(
                            t,
                            "redis_sentinel_master_ckquorum_status",
                            steady(1),
                            i,
                            master_name="m",
                        )
                        for i in range(3)
                    ),
                ],
            ),
        ),
        group("sentinel"),
        ha_only=True,
        scopes=SENTINEL,
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
        lambda t, th: [cleanup(t, "sessions", "failures", steady(th["cleanupFailures"]))],
        (("succeeding", lambda t, th: [cleanup(t, "sessions", "failures", steady(0))]),),
        cleanup_labels("sessions", "failures"),
        scopes=DATA,
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
            cleanup(t, "cache", "last_success", steady(-th["cleanupMaxAgeSeconds"] - 60))
        ],
        (("recent", lambda t, th: [cleanup(t, "cache", "last_success", counter(60))]),),
        cleanup_labels("cache", "last_success"),
        scopes=DATA,
    ),
)
