"""The monitoring part of the typed model: alert thresholds and Alertmanager routing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chartgen.topology.constraints import spec_default, spec_property

SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class Monitoring:
    mode: str  # operator | bundled | none
    selector_labels: tuple[tuple[str, str], ...]
    runbook_url: str  # the spec's value; empty: derived (see runbook_url())
    alerts: tuple[tuple[str, int], ...]  # threshold name -> value, in schema order
    group_wait: str
    group_interval: str
    repeat_interval: str
    receivers: tuple[tuple[str, tuple[str, ...]], ...]  # severity -> webhook URLs

    def threshold(self, name: str) -> int:
        return dict(self.alerts)[name]


def threshold_names() -> tuple[str, ...]:
    return tuple(spec_property(("monitoring", "alerts"))["properties"])


def monitoring_model(spec: dict[str, Any]) -> Monitoring:
    """The spec's monitoring section, every default resolved."""
    raw = spec.get("monitoring", {})
    alerts = raw.get("alerts", {})
    manager = raw.get("alertmanager", {})
    receivers = manager.get("receivers", {})

    def setting(source: dict[str, Any], *path: str) -> Any:
        return source.get(path[-1], spec_default(("monitoring", *path)))

    return Monitoring(
        mode=str(setting(raw, "mode")),
        selector_labels=tuple(sorted(dict(setting(raw, "selectorLabels")).items())),
        runbook_url=str(setting(raw, "runbookUrl")),
        alerts=tuple((name, int(setting(alerts, "alerts", name))) for name in threshold_names()),
        group_wait=str(setting(manager, "alertmanager", "groupWait")),
        group_interval=str(setting(manager, "alertmanager", "groupInterval")),
        repeat_interval=str(setting(manager, "alertmanager", "repeatInterval")),
        receivers=tuple(
            (
                severity,
                tuple(
                    receivers.get(severity, {}).get(
                        "webhookUrls",
                        spec_default(
                            ("monitoring", "alertmanager", "receivers", severity, "webhookUrls")
                        ),
                    )
                ),
            )
            for severity in SEVERITIES
        ),
    )
