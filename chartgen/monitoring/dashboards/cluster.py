"""Resource utilisation (cAdvisor and kube-state-metrics series, not redis_exporter's) and the
release's alert status (Prometheus' own ALERTS series)."""

from __future__ import annotations

from chartgen.monitoring.alerts import ALERTS
from chartgen.monitoring.dashboards.base import (
    ALL,
    POD,
    PODS,
    RATE,
    Board,
    Row,
    listing,
    series,
    single,
)

# Metrics the dashboards read that redis_exporter does not emit (metric truth lists them).
EXTERNAL = (
    "ALERTS",  # Prometheus
    "container_cpu_cfs_periods_total",  # cAdvisor
    "container_cpu_cfs_throttled_periods_total",
    "container_cpu_usage_seconds_total",
    "container_fs_usage_bytes",
    "container_memory_working_set_bytes",
    "kube_pod_container_resource_limits",  # kube-state-metrics
    "kube_pod_container_resource_requests",
    "kube_pod_container_status_last_terminated_reason",
    "kube_pod_container_status_restarts_total",
)

CONTAINERS = f'{PODS},{POD},container!=""'
BY = "sum by (pod, container)"


def _kube(metric: str, resource: str) -> str:
    # kube-state-metrics writes the resource name with an underscore (ephemeral_storage)
    return f'{BY} ({metric}{{{PODS},{POD},resource="{resource}"}})'


def _resource(title: str, usage: str, resource: str, unit: str) -> Row:
    requests = _kube("kube_pod_container_resource_requests", resource)
    limits = _kube("kube_pod_container_resource_limits", resource)
    return (
        title,
        [
            series(
                f"{title}: usage, requests and limits",
                "Per container of the release's pods.",
                [
                    (usage, "{{pod}}/{{container}} used"),
                    (requests, "{{pod}}/{{container}} request"),
                    (limits, "{{pod}}/{{container}} limit"),
                ],
                unit=unit,
            ),
            series(
                f"{title}: % of the limit",
                "Usage against the container's limit.",
                [(f"{usage} / {limits} * 100", "{{pod}}/{{container}}")],
                unit="percent",
            ),
        ],
    )


def resources(uid: str, title: str) -> Board:
    cpu = f"{BY} (rate(container_cpu_usage_seconds_total{{{CONTAINERS}}}[{RATE}]))"
    memory = f"{BY} (container_memory_working_set_bytes{{{CONTAINERS}}})"
    disk = f"{BY} (container_fs_usage_bytes{{{CONTAINERS}}})"
    throttled = (
        f"{BY} (rate(container_cpu_cfs_throttled_periods_total{{{CONTAINERS}}}[{RATE}])) / "
        f"{BY} (rate(container_cpu_cfs_periods_total{{{CONTAINERS}}}[{RATE}])) * 100"
    )
    restarts: Row = (
        "Restarts",
        [
            series(
                "CPU throttling",
                "Share of CFS periods in which the container was throttled at its CPU limit.",
                [(throttled, "{{pod}}/{{container}}")],
                unit="percent",
                width=8,
            ),
            series(
                "Restarts in the last hour",
                "Container restarts (kube-state-metrics).",
                [
                    (
                        f"{BY} (increase(kube_pod_container_status_restarts_total{{{PODS},"
                        f"{POD}}}[1h]))",
                        "{{pod}}/{{container}}",
                    )
                ],
                width=8,
            ),
            series(
                "Last termination OOMKilled",
                "1 while a container's last termination was an OOM kill.",
                [
                    (
                        f"{BY} (kube_pod_container_status_last_terminated_reason{{{PODS},{POD},"
                        'reason="OOMKilled"})',
                        "{{pod}}/{{container}}",
                    )
                ],
                width=8,
            ),
        ],
    )
    return Board(
        name="resources",
        uid=uid,
        title=title,
        description="CPU, memory and ephemeral storage of the release's Redis, cache and "
        "Sentinel pods against their requests and limits (cAdvisor and kube-state-metrics, "
        "selected by namespace and pod name; ephemeral storage from container_fs_usage_bytes, "
        "which not every container runtime reports).",
        rows=[
            _resource("CPU", cpu, "cpu", "short"),
            _resource("Memory", memory, "memory", "bytes"),
            _resource("Ephemeral storage", disk, "ephemeral_storage", "bytes"),
            restarts,
        ],
    )


def release_alerts(extra: str = "") -> str:
    """ALERTS of this release's rules: exporter alerts carry namespace and service, the
    resource alerts namespace and pod (and no service)."""
    names = "|".join(alert.name for alert in ALERTS)
    tail = f",{extra}" if extra else ""
    by_service = f'ALERTS{{{ALL},alertname=~"{names}"{tail}}}'
    by_pod = f'ALERTS{{{PODS},service="",alertname=~"{names}"{tail}}}'
    return f"({by_service} or {by_pod})"


def alert_status(uid: str, title: str) -> Board:
    firing = 'alertstate="firing"'
    counts = [
        single(
            f"Firing {severity}",
            f"{severity.capitalize()} alerts of the release firing now.",
            f"count({release_alerts(firing + f',severity={quoted}')}) or vector(0)",
            steps=((None, "green"), (1, colour)),
            width=8,
        )
        for severity, colour in (("critical", "red"), ("warning", "orange"), ("info", "blue"))
        for quoted in (f'"{severity}"',)
    ]
    return Board(
        name="alerts",
        uid=uid,
        title=title,
        description="The release's alerts (chart README, Runbook) as Prometheus evaluates them.",
        rows=[
            (
                "Now",
                [*counts, listing("Firing and pending", "One row per alert.", release_alerts())],
            ),
            (
                "Over time",
                [
                    series(
                        "Firing alerts",
                        "Firing alerts by name and severity.",
                        [
                            (
                                f"count by (alertname, severity) ({release_alerts(firing)})",
                                "{{alertname}} ({{severity}})",
                            )
                        ],
                        width=24,
                    )
                ],
            ),
        ],
    )
