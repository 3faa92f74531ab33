"""The monitoring part of the chart's template context, and the files generated beside the
chart for each environment (generated/monitoring/<env>/): the rule groups a release of the
deployment guide's names gets, and their promtool unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chartgen.monitoring import dashboards, exporter
from chartgen.monitoring.alerts import ALERTS, GROUP_BY, INHIBIT_EQUAL, Alert
from chartgen.monitoring.promtool_tests import RULES_FILE, TESTS_FILE, dump, unit_tests
from chartgen.monitoring.rules import concrete, helm_groups, rule_groups
from chartgen.monitoring.series import Target
from chartgen.render.monitoring_values import runbook_url
from chartgen.security.acl import MONITOR_ROLE, data_users, secret_key
from chartgen.topology.model import Topology
from chartgen.topology.monitoring import SEVERITIES

# The deployment guide's release and namespace (helm install session-database ...
# --namespace session-database); the generated files show what that release gets.
GUIDE_RELEASE = "session-database"
GUIDE_NAMESPACE = "session-database"


def guide_fullname(model: Topology) -> str:
    """Helm's <fullname> of the guide's release (the release name holds the chart name)."""
    name = model.chart.name
    fullname = GUIDE_RELEASE if name in GUIDE_RELEASE else f"{GUIDE_RELEASE}-{name}"
    return fullname[:42].rstrip("-")


def monitoring_context(model: Topology) -> dict[str, Any]:
    monitor = [user for user in data_users(model) if user.name == MONITOR_ROLE]
    return {
        "groups": helm_groups(model.chart.name, model),
        "severities": list(SEVERITIES),
        "group_by": list(GROUP_BY),
        "inhibit_equal": list(INHIBIT_EQUAL),
        "alerts": list(ALERTS),
        "alert_groups": {alert.name: alert_groups(alert) for alert in ALERTS},
        "external": sorted({metric for alert in ALERTS for metric in alert.external}),
        # the exporter sidecar: without a monitor role in the spec there is none
        "exporter_user": MONITOR_ROLE if monitor else "",
        "exporter_secret_key": secret_key(monitor[0]) if monitor else "",
        "exporter_config_flags": list(exporter.CONFIG_FLAGS),
        "key_checks": exporter.key_check_flags(model)[1],
        "dashboards": dashboards.dashboard_context(model),
    }


def alert_groups(alert: Alert) -> str:
    """The runbook's words for the groups an alert watches (`group` label values)."""
    words = {
        "sessions": "`sessions`",
        "cache": "`cache` (separate)",
        "cache-noeviction": "`cache` (separate, noeviction)",
        "shared-cache": "`sessions` (shared)",
        "sentinel": "`sentinel`",
    }
    return ", ".join(words[scope] for scope in alert.scopes)


def monitoring_files(environments: Mapping[str, Topology]) -> dict[str, bytes]:
    """<env>/rules.yaml, <env>/rules.test.yaml and <env>/dashboards/*.json for every
    environment."""
    files: dict[str, bytes] = {}
    for name, model in sorted(environments.items()):
        fullname = guide_fullname(model)
        values = concrete(model, Target(GUIDE_NAMESPACE, fullname), runbook_url(model))
        files[f"{name}/{RULES_FILE}"] = dump(rule_groups(values, fullname))
        files[f"{name}/{TESTS_FILE}"] = dump(unit_tests(values))
        for path, data in dashboards.environment_files(model).items():
            files[f"{name}/{path}"] = data
    return files
