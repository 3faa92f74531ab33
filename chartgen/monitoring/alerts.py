"""The alert list: the single source of the chart's PrometheusRule (both modes), the runbook in
the chart README and the generated promtool unit tests (see alert.py for the placeholders)."""

from __future__ import annotations

from chartgen.monitoring.alert import Alert
from chartgen.monitoring.backup import BACKUP_CRITICAL, BACKUP_WARNING
from chartgen.monitoring.critical import CRITICAL
from chartgen.monitoring.scrape import SCRAPE_CRITICAL
from chartgen.monitoring.warning import INFO, WARNING

SEVERITY_GROUPS: tuple[tuple[str, tuple[Alert, ...]], ...] = (
    ("critical", (*CRITICAL, *SCRAPE_CRITICAL, *BACKUP_CRITICAL)),
    ("warning", (*WARNING, *BACKUP_WARNING)),
    ("info", INFO),
)
ALERTS: tuple[Alert, ...] = tuple(alert for _, group in SEVERITY_GROUPS for alert in group)

# Alertmanager: one receiver per severity; a critical alert silences the warnings of the same
# namespace, group, service and instance (an instance that is down also has no replication,
# ...). Every rule carries `group` (sessions, cache, sentinel: groups.py), so notifications
# and inhibitions of the two data groups never mix, also for series without a service.
INHIBIT_EQUAL = ("namespace", "group", "service", "instance")
GROUP_BY = ("alertname", "namespace", "group", "service")

__all__ = ["ALERTS", "GROUP_BY", "INHIBIT_EQUAL", "SEVERITY_GROUPS", "Alert"]
