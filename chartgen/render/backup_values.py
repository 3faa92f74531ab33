"""The Helm values of the backup CronJob, the init-time restore and the `helm test` pod.

Parameters only (schedule, retention, volume, deadlines): what exists follows the mode and the
cache layout, so no spec key sets them."""

from __future__ import annotations

from typing import Any

from chartgen.render.params import Group, Node, Param
from chartgen.render.value_parts import BOOLEAN, QUANTITY, STRING, enum, integer

# cron: five fields (or an @-macro); Kubernetes refuses anything else at admission.
CRON: dict[str, Any] = {
    "type": "string",
    "pattern": r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$",
}
# A backup file name as backup.sh writes it: no path, nothing a shell would expand.
BACKUP_FILE: dict[str, Any] = {"type": "string", "pattern": r"^([A-Za-z0-9._-]+\.rdb)?$"}
RESTORE_ID: dict[str, Any] = {"type": "string", "pattern": r"^[A-Za-z0-9._-]{0,63}$"}


def _job_resources() -> Group:
    def pair(cpu: str, memory: str, ephemeral: str, desc: str) -> Group:
        return Group(
            desc,
            {
                "cpu": Param(cpu, "CPU quantity.", QUANTITY),
                "memory": Param(memory, "Memory quantity.", QUANTITY),
                "ephemeral-storage": Param(ephemeral, "Local disk: logs.", QUANTITY),
            },
        )

    return Group(
        "Backup, restore and test container resources.",
        {
            "requests": pair("50m", "64Mi", "32Mi", "Requests."),
            "limits": pair("500m", "256Mi", "128Mi", "Limits."),
        },
    )


def backup_values() -> dict[str, Node]:
    return {
        "backup": Group(
            "Backup CronJob: an RDB streamed from a replica the Sentinels name (ha) or from the "
            "one data pod (standalone), checked with redis-check-rdb, kept on a PVC. The cache's "
            "own group (cache.group: separate) keeps no data and is not backed up.",
            {
                "enabled": Param(True, "Create the backup CronJob and its volume.", BOOLEAN),
                "schedule": Param("17 */6 * * *", "Cron schedule of the backups.", CRON),
                "suspend": Param(False, "Suspend the CronJob (e.g. during a restore).", BOOLEAN),
                "keep": Param(
                    14, "Backups kept on the volume; older ones are removed.", integer(1)
                ),
                "activeDeadlineSeconds": Param(
                    1800, "A backup still running after this long is stopped.", integer(60)
                ),
                "startingDeadlineSeconds": Param(
                    600, "A run missed by more than this is skipped.", integer(10)
                ),
                "backoffLimit": Param(1, "Retries of a failed backup run.", integer(0, 10)),
                "successfulJobsHistoryLimit": Param(3, "Finished Jobs kept.", integer(0, 100)),
                "failedJobsHistoryLimit": Param(3, "Failed Jobs kept.", integer(0, 100)),
                "timeoutSeconds": Param(900, "Longest the RDB transfer may take.", integer(10)),
                "persistence": Group(
                    "The backups' PersistentVolumeClaim.",
                    {
                        "size": Param("16Gi", "Requested volume size.", QUANTITY),
                        "storageClass": Param(
                            "", "StorageClass; empty uses the cluster default.", STRING
                        ),
                        "accessMode": Param(
                            "ReadWriteOnce",
                            "Access mode of the backups' volume.",
                            enum("ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"),
                        ),
                    },
                ),
                "resources": _job_resources(),
            },
        ),
        "restore": Group(
            "Init-time restore of the sessions' group from a backup file (chart README, Backup "
            "and restore). Runs once per id: a pre-upgrade hook Job installs the file as pod "
            "0's AOF base, every data pod starts from it (pod 0 master, the others its replicas).",
            {
                "fromBackup": Param(
                    "",
                    "Backup file on the backups' volume, e.g. backup-20260101T000000Z.rdb.",
                    BACKUP_FILE,
                ),
                "id": Param(
                    "", "Any new id runs the restore once (required with fromBackup).", RESTORE_ID
                ),
            },
        ),
        "tests": Group(
            "`helm test` pod: the master through its endpoint and through Sentinel, replicas "
            "in sync, each role's allowed and forbidden commands, TLS when on.",
            {"enabled": Param(True, "Render the helm test pod.", BOOLEAN)},
        ),
    }
