"""Backup alerts: the backup CronJob's record (backup:result:<field>, files/backup.sh) as the
exporter's key checks publish it, in the sessions' database of their group."""

from __future__ import annotations

from chartgen.monitoring.alert import Alert, Labels, counter, group, steady
from chartgen.monitoring.series import Series, Target, data


def backup(t: Target, field: str, values: str, db: str) -> Series:
    return data(t, "redis_key_value", values, db=db, key=f"backup:result:{field}")


def backup_labels(field: str) -> Labels:
    return lambda t: {**group("data")(t), "key": f"backup:result:{field}"}


def _too_old(name: str, severity: str, threshold: str) -> Alert:
    return Alert(
        name,
        severity,
        'time() - max by (namespace, service, key) (redis_key_value{@data@,key="backup:result:'
        f'last_success"}}) > @t:{threshold}@',
        "5m",
        "No recent backup ({{ $labels.service }})",
        "No backup of {{ $labels.service }} (namespace {{ $labels.namespace }}) succeeded for "
        f"@t:{threshold}@ seconds.",
        "The backup CronJob has not recorded a success for longer than the threshold: it is "
        "suspended, failing, or cannot start. A restore would lose everything written since the "
        "last good backup (never recorded: no alert; BackupFailed covers recorded failures).",
        (
            "`kubectl get cronjob <fullname>-backup`: suspended, last schedule and success time.",
            "`kubectl logs -l component=backup`: the job's `backup: status=...` line.",
            "The backup volume: `<fullname>-backup` PVC bound and not full.",
        ),
        lambda t, th: [backup(t, "last_success", steady(-th[threshold] - 600), th["sessionsDb"])],
        (
            (
                "recent",
                lambda t, th: [backup(t, "last_success", counter(60), th["sessionsDb"])],
            ),
        ),
        backup_labels("last_success"),
    )


BACKUP_CRITICAL = (_too_old("BackupTooOldCritical", "critical", "backupCriticalAgeSeconds"),)

BACKUP_WARNING = (
    _too_old("BackupTooOld", "warning", "backupMaxAgeSeconds"),
    Alert(
        "BackupFailed",
        "warning",
        'max by (namespace, service, key) (redis_key_value{@data@,key="backup:result:failures"})'
        " >= @t:backupFailures@",
        "1m",
        "Backup failing ({{ $labels.service }})",
        "The backup of {{ $labels.service }} (namespace {{ $labels.namespace }}) failed "
        "@t:backupFailures@ or more times in a row.",
        "The backup CronJob recorded consecutive failed runs (0 again after a success): no "
        "Sentinel answered, the RDB transfer failed or redis-check-rdb refused the file.",
        (
            "`kubectl logs -l component=backup`: the reason on the `backup:` lines.",
            "The backup user's password and ACL (`ACL LOG` on the replica it streamed from).",
            "Free space on the backup volume and the replica's memory for the fork.",
        ),
        lambda t, th: [backup(t, "failures", steady(th["backupFailures"]), th["sessionsDb"])],
        (("succeeding", lambda t, th: [backup(t, "failures", steady(0), th["sessionsDb"])]),),
        backup_labels("failures"),
    ),
)
