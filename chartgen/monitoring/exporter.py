"""What the alerts expect of redis_exporter (Debian's 1.45), for the sidecar that scrapes each
data pod and Sentinel: its flags, the cleanup and backup result keys it publishes, and the key
rights the monitor user then needs. Measured by tests/test_live_metrics.py against real servers."""

from __future__ import annotations

from chartgen.topology.model import Topology

# -config-command -: no CONFIG GET (it returns masterauth in clear text); maxmemory and
# maxclients come from INFO. The connection timeout stays below Prometheus' 10 s scrape
# timeout, so an unreachable Redis shows as redis_up 0 instead of a failed scrape.
CONFIG_FLAGS: tuple[str, ...] = ("-config-command", "-")
# The chart's default (monitoring.exporter.connectionTimeout); tests use it as is.
FLAGS: tuple[str, ...] = (*CONFIG_FLAGS, "-connection-timeout", "5s")

CLEANUP_FIELDS = ("last_run", "last_success", "removed", "failures")
# backup:result:<field>, in the sessions' DB (files/backup.sh records them)
BACKUP_FIELDS = ("last_run", "last_success", "bytes", "duration_seconds", "failures")


def cleanup_jobs(model: Topology) -> dict[str, int]:
    """Cleanup job -> the DB index its result keys live in."""
    return {"sessions": model.sessions.index, "cache": model.cache.index}


def cleanup_key(job: str, field: str) -> str:
    return f"cleanup:result:{job}:{field}"


def backup_key(field: str) -> str:
    return f"backup:result:{field}"


def key_check_flags(model: Topology) -> tuple[str, ...]:
    """-check-single-keys for every cleanup and backup result key (data pods only): published
    as redis_key_value{db="db<N>",key="<key>"} (numeric strings) and redis_key_size."""
    keys = [
        f"db{index}={cleanup_key(job, field)}"
        for job, index in cleanup_jobs(model).items()
        for field in CLEANUP_FIELDS
    ]
    keys += [f"db{model.sessions.index}={backup_key(field)}" for field in BACKUP_FIELDS]
    return ("-check-single-keys", ",".join(keys))


def key_check_rules(model: Topology) -> tuple[str, ...]:
    """ACL rules the monitor user needs beyond the spec's for the key checks (measured: SELECT,
    TYPE, GET, STRLEN; its PFCOUNT probe may be refused), read-only on the result keys."""
    selects = sorted({f"+select|{index}" for index in cleanup_jobs(model).values()})
    return ("%R~cleanup:result:*", "%R~backup:result:*", "+type", "+get", "+strlen", *selects)
