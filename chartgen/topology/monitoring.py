"""The monitoring part of the typed model: alert thresholds and Alertmanager routing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chartgen.topology.constraints import spec_default, spec_property
from chartgen.topology.ingress import Ingress, ingress_model
from chartgen.topology.load import KeyPath

SEVERITIES = ("critical", "warning", "info")
RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")


@dataclass(frozen=True)
class Exporter:
    """The redis_exporter sidecar and how Prometheus scrapes it."""

    repository: str
    tag: str
    connection_timeout: str
    resources: tuple[tuple[str, tuple[str, ...]], ...]  # requests|limits -> RESOURCE_NAMES
    scrape_interval: str
    scrape_timeout: str
    port: int  # ports.metrics

    def quantities(self, kind: str) -> tuple[str, ...]:
        return dict(self.resources)[kind]


def exporter_model(raw: dict[str, Any], port: int) -> Exporter:
    exporter, scrape = raw.get("exporter", {}), raw.get("scrape", {})
    image = exporter.get("image", {})

    def get(source: dict[str, Any], *path: str) -> Any:
        return source.get(path[-1], spec_default(("monitoring", *path)))

    resources = get(exporter, "exporter", "resources")
    return Exporter(
        repository=str(get(image, "exporter", "image", "repository")),
        tag=str(get(image, "exporter", "image", "tag")),
        connection_timeout=str(get(exporter, "exporter", "connectionTimeout")),
        resources=tuple(
            (kind, tuple(str(resources[kind][name]) for name in RESOURCE_NAMES))
            for kind in ("requests", "limits")
        ),
        scrape_interval=str(get(scrape, "scrape", "interval")),
        scrape_timeout=str(get(scrape, "scrape", "timeout")),
        port=port,
    )


@dataclass(frozen=True)
class Dashboards:
    """The Grafana dashboards' ConfigMap and how the kube-prometheus-stack sidecar finds it."""

    enabled: bool
    sidecar_label: tuple[tuple[str, str], ...]
    folder: str
    folder_annotation: str


def dashboards_model(raw: dict[str, Any]) -> Dashboards:
    def get(*path: str) -> Any:
        return raw.get(path[-1], spec_default(("monitoring", "dashboards", *path)))

    return Dashboards(
        enabled=bool(get("enabled")),
        sidecar_label=tuple(sorted(dict(get("sidecarLabel")).items())),
        folder=str(get("folder")),
        folder_annotation=str(get("folderAnnotation")),
    )


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
    exporter: Exporter
    dashboards: Dashboards
    ingress: Ingress  # the bundled stack's UIs (monitoring.ingress)

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
        exporter=exporter_model(raw, int(spec["ports"]["metrics"])),
        dashboards=dashboards_model(raw.get("dashboards", {})),
        ingress=ingress_model(raw),
    )


_DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def seconds(duration: str) -> float:
    """A Prometheus duration of the schema's form (`1m30s`, `500ms`) in seconds."""
    return sum(int(n) * _SECONDS[unit] for n, unit in _DURATION_PART.findall(duration))


def scrape_timeouts(spec: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """The exporter's connection timeout is below the scrape timeout (or an unreachable Redis
    fails the scrape instead of showing redis_up 0), and the scrape timeout at most the
    interval (Prometheus refuses a longer one)."""
    if spec.get("monitoring", {}).get("mode", spec_default(("monitoring", "mode"))) == "none":
        return
    exporter = exporter_model(spec.get("monitoring", {}), int(spec["ports"]["metrics"]))
    timeout, interval = exporter.scrape_timeout, exporter.scrape_interval
    if seconds(exporter.connection_timeout) >= seconds(timeout):
        yield (
            ("monitoring", "exporter", "connectionTimeout"),
            f"{exporter.connection_timeout} is not below monitoring.scrape.timeout {timeout}: "
            "an unreachable Redis would fail the scrape instead of showing redis_up 0",
        )
    if seconds(timeout) > seconds(interval):
        yield (
            ("monitoring", "scrape", "timeout"),
            f"{timeout} exceeds monitoring.scrape.interval {interval} (Prometheus refuses it)",
        )
