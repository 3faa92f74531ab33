"""Helm values of the cleanup CronJobs (maintenance.*). Limits, intervals and the cache batch
come from the databases' values (sessions.*, cache.*); these are the jobs' own knobs."""

from __future__ import annotations

from chartgen.render.params import Group, Node, Param
from chartgen.render.value_parts import BOOLEAN, FREE_OBJECT, integer

# A run holds the key list of one SCAN and a few command files: small, but not nothing.
JOB_RESOURCES = {
    "requests": {"cpu": "50m", "memory": "32Mi", "ephemeral-storage": "64Mi"},
    "limits": {"cpu": "500m", "memory": "128Mi", "ephemeral-storage": "256Mi"},
}


def maintenance_values() -> dict[str, Node]:
    return {
        "maintenance": Group(
            "Session and cache cleanup CronJobs (chart README, Data contract); schedules "
            "derive from sessions.cleanupIntervalSeconds and cache.cleanupIntervalSeconds.",
            {
                "enabled": Param(True, "Create the cleanup CronJobs.", BOOLEAN),
                "suspend": Param(False, "Suspend both CronJobs (no new runs).", BOOLEAN),
                "sessionBatchSize": Param(
                    1000,
                    "Per-user indexes the session cleanup handles per batch (one SCAN step "
                    "and a few short command rounds).",
                    integer(1, 10000),
                ),
                "backoffLimit": Param(
                    1, "Retries of a failed run before the next scheduled one.", integer(0, 10)
                ),
                "successfulJobsHistoryLimit": Param(
                    3, "Finished successful Jobs kept (their pods' logs).", integer(0, 100)
                ),
                "failedJobsHistoryLimit": Param(
                    3, "Failed Jobs kept (their pods' logs).", integer(0, 100)
                ),
                "resources": Param(JOB_RESOURCES, "Cleanup container resources.", FREE_OBJECT),
            },
        )
    }
