"""Redis overview: health and roles, memory and clients, throughput and hit rate,
replication, and the Sentinels' view of their master sets."""

from __future__ import annotations

from chartgen.monitoring.dashboards.base import (
    ALL,
    DATA,
    POD,
    RATE,
    SENTINEL,
    Board,
    Row,
    listing,
    series,
    single,
)

RED_GREEN = ((None, "red"), (1, "green"))
MASTER = 'role="master"'


def hit_rate(matchers: str) -> str:
    """Keyspace hits per lookup, per group (Redis counts them per instance, not per DB)."""
    hits = f"sum by (service) (rate(redis_keyspace_hits_total{{{matchers}}}[{RATE}]))"
    misses = f"sum by (service) (rate(redis_keyspace_misses_total{{{matchers}}}[{RATE}]))"
    return f"{hits} / ({hits} + {misses}) * 100"


def _health() -> Row:
    return (
        "Health",
        [
            single(
                "Data pods up",
                "Data pods (both groups) whose exporter reaches Redis.",
                f"sum(redis_up{{{DATA}}})",
                steps=RED_GREEN,
            ),
            single(
                "Sentinels up",
                "Sentinel pods whose exporter reaches their Sentinel (none in standalone).",
                f"sum(redis_up{{{SENTINEL}}})",
                steps=RED_GREEN,
            ),
            single(
                "Masters per group",
                "Data pods reporting role master, per group: exactly one each (RedisNoMaster, "
                "RedisMultipleMasters).",
                f"count by (service) (redis_instance_info{{{DATA},{MASTER}}})",
                "{{service}}",
                steps=((None, "red"), (1, "green"), (2, "red")),
            ),
            single(
                "Uptime (youngest pod)",
                "Seconds since the most recently started data pod started.",
                f"min(redis_uptime_in_seconds{{{DATA}}})",
                unit="s",
            ),
            series(
                "Up",
                "redis_up per pod: 0 when its exporter cannot reach the server.",
                [(f"redis_up{{{ALL},{POD}}}", "{{pod}}")],
            ),
            listing(
                "Roles",
                "Role, version and eviction policy of every data pod.",
                f"redis_instance_info{{{DATA},{POD}}}",
                width=12,
            ),
        ],
    )


def _memory() -> Row:
    used = f"redis_memory_used_bytes{{{DATA},{POD}}}"
    maximum = f"redis_memory_max_bytes{{{DATA},{POD}}}"
    return (
        "Memory and clients",
        [
            series(
                "Used memory and maxmemory",
                "used_memory against maxmemory (not drawn when maxmemory is 0).",
                [(used, "{{pod}} used"), (f"{maximum} > 0", "{{pod}} maxmemory")],
                unit="bytes",
            ),
            series(
                "Memory used, % of maxmemory",
                "Writes fail (noeviction) or keys are evicted near 100%.",
                [(f"{used} / ({maximum} > 0) * 100", "{{pod}}")],
                unit="percent",
            ),
            series(
                "Connected clients",
                "Client connections per pod (Sentinels included).",
                [(f"redis_connected_clients{{{ALL},{POD}}}", "{{pod}}")],
                width=8,
            ),
            series(
                "Blocked clients",
                "Clients waiting in a blocking command.",
                [(f"redis_blocked_clients{{{DATA},{POD}}}", "{{pod}}")],
                width=8,
            ),
            series(
                "Rejected connections /s",
                "Connections refused at maxclients.",
                [(f"rate(redis_rejected_connections_total{{{ALL},{POD}}}[{RATE}])", "{{pod}}")],
                unit="ops",
                width=8,
            ),
        ],
    )


def _throughput() -> Row:
    return (
        "Throughput",
        [
            series(
                "Commands /s",
                "Commands processed per second per data pod.",
                [(f"rate(redis_commands_processed_total{{{DATA},{POD}}}[{RATE}])", "{{pod}}")],
                unit="ops",
                width=8,
            ),
            series(
                "Hit rate per group",
                "Keyspace hits per lookup. Redis counts per instance: on a shared group this "
                "mixes session and cache lookups.",
                [(hit_rate(DATA), "{{service}}")],
                unit="percent",
                width=8,
            ),
            series(
                "Network",
                "Bytes per second in and out per data pod.",
                [
                    (f"rate(redis_net_input_bytes_total{{{DATA},{POD}}}[{RATE}])", "{{pod}} in"),
                    (
                        f"rate(redis_net_output_bytes_total{{{DATA},{POD}}}[{RATE}])",
                        "{{pod}} out",
                    ),
                ],
                unit="Bps",
                width=8,
            ),
        ],
    )


def _replication() -> Row:
    offset = f"redis_master_repl_offset{{{DATA},{POD}}}"
    return (
        "Replication",
        [
            series(
                "Replication offset",
                "master_repl_offset per pod; replicas follow their master's line.",
                [(offset, "{{pod}}")],
                unit="bytes",
            ),
            series(
                "Bytes behind the group's most advanced pod",
                "Replication backlog per pod: the group's highest offset less the pod's.",
                [
                    (
                        f"max by (namespace, service) (redis_master_repl_offset{{{DATA}}}) - on "
                        f"(namespace, service) group_right () {offset}",
                        "{{pod}}",
                    )
                ],
                unit="bytes",
            ),
            series(
                "Replica lag seen by the master",
                "Seconds since each replica's last acknowledgement (RedisReplicationLag).",
                [
                    (
                        f"redis_connected_slave_lag_seconds{{{DATA},{POD}}}",
                        "{{pod}} -> {{slave_ip}}:{{slave_port}}",
                    )
                ],
                unit="s",
                width=8,
            ),
            series(
                "Connected replicas per master",
                "Replicas connected to each master (RedisReplicasMissing below replicas-1).",
                [
                    (
                        f"redis_connected_slaves{{{DATA}}} * on (namespace, service, instance) "
                        f"group_left () redis_instance_info{{{DATA},{MASTER}}}",
                        "{{pod}}",
                    )
                ],
                width=8,
            ),
            series(
                "Master link up (replicas)",
                "1 while a replica's link to its master is up (RedisReplicationBroken at 0).",
                [(f"redis_master_link_up{{{DATA},{POD}}}", "{{pod}}")],
                width=8,
            ),
        ],
    )


def _sentinel() -> Row:
    return (
        "Sentinel",
        [
            single(
                "Master sets monitored",
                "Master sets each Sentinel monitors (the lowest across Sentinels).",
                f"min(redis_sentinel_masters{{{SENTINEL}}})",
                steps=RED_GREEN,
            ),
            single(
                "Quorum reachable",
                "SENTINEL CKQUORUM per master set, the worst Sentinel's answer: 1 ok, 0 lost "
                "(RedisSentinelQuorumLost).",
                f"min by (master_name) (redis_sentinel_master_ckquorum_status{{{SENTINEL}}})",
                "{{master_name}}",
                steps=RED_GREEN,
            ),
            single(
                "Sentinels in TILT",
                "Sentinels in TILT mode (they stop acting until their clock settles).",
                f"sum(redis_sentinel_tilt{{{SENTINEL}}})",
                steps=((None, "green"), (1, "red")),
            ),
            single(
                "Master status ok",
                "Sentinels reporting their master set's status ok, per master set.",
                f"count by (master_name) (redis_sentinel_master_status{{{SENTINEL},"
                f'master_status="ok"}})',
                "{{master_name}}",
                steps=RED_GREEN,
            ),
            series(
                "Known and reachable Sentinels",
                "Sentinels each Sentinel knows of for a master set (itself included), and "
                "those answering.",
                [
                    (
                        f"redis_sentinel_master_sentinels{{{SENTINEL},{POD}}}",
                        "{{pod}} {{master_name}} known",
                    ),
                    (
                        f"redis_sentinel_master_ok_sentinels{{{SENTINEL},{POD}}}",
                        "{{pod}} {{master_name}} ok",
                    ),
                ],
            ),
            series(
                "Known and healthy replicas",
                "Replicas each Sentinel knows of for a master set, and those in good state.",
                [
                    (
                        f"redis_sentinel_master_slaves{{{SENTINEL},{POD}}}",
                        "{{pod}} {{master_name}} known",
                    ),
                    (
                        f"redis_sentinel_master_ok_slaves{{{SENTINEL},{POD}}}",
                        "{{pod}} {{master_name}} ok",
                    ),
                ],
            ),
        ],
    )


def overview(uid: str, title: str) -> Board:
    return Board(
        name="redis-overview",
        uid=uid,
        title=title,
        description="Health, memory, clients, throughput, replication and Sentinel view of "
        "one release (variables namespace and release).",
        rows=[_health(), _memory(), _throughput(), _replication(), _sentinel()],
    )
