"""Helm values of the monitoring section (monitoring.*): mode, selector labels, runbook URL,
alert thresholds and Alertmanager routing, each set by its spec key."""

from __future__ import annotations

from typing import Any

from chartgen.render.bundled_values import bundled_values, ingress_values
from chartgen.render.extension_values import DIGEST
from chartgen.render.params import Group, Node, Param
from chartgen.render.value_parts import resources
from chartgen.topology.constraints import spec_property
from chartgen.topology.model import Resources, Topology
from chartgen.topology.monitoring import SEVERITIES, Dashboards, Exporter

SPEC = ("monitoring",)


def _schema(*path: str) -> dict[str, Any]:
    node = spec_property((*SPEC, *path))
    return {k: v for k, v in node.items() if k not in ("description", "default")}


def _param(value: Any, *path: str) -> Param:
    return Param(
        value, spec_property((*SPEC, *path))["description"], _schema(*path), (*SPEC, *path)
    )


def runbook_url(model: Topology) -> str:
    """The chart README as the alerts link it: the spec's URL, else the README in the git
    repository Argo CD deploys from (GitHub and GitLab both serve /blob/<rev>/<path>), else
    its path in the chart."""
    if model.monitoring.runbook_url:
        return model.monitoring.runbook_url
    argo = model.argocd
    if argo is not None and argo.source.kind == "git":
        repo = argo.source.repo_url.removesuffix(".git").rstrip("/")
        path = argo.source.path.strip("/")
        return f"{repo}/blob/{argo.source.target_revision}/{path}/README.md"
    return "README.md"


def _exporter(exporter: Exporter) -> dict[str, Node]:
    requests, limits = exporter.quantities("requests"), exporter.quantities("limits")
    res = Resources(requests[0], requests[1], limits[0], limits[1], requests[2], limits[2])
    return {
        "metricsPort": Param(
            exporter.port,
            "redis_exporter port (the `metrics` port of the pods and headless Services).",
            {"type": "integer", "minimum": 1, "maximum": 65535},
            ("ports", "metrics"),
        ),
        "exporter": Group(
            spec_property((*SPEC, "exporter"))["description"],
            {
                "image": Group(
                    "The exporter image (pulled with image.pullPolicy).",
                    {
                        "repository": _param(
                            exporter.repository, "exporter", "image", "repository"
                        ),
                        "tag": _param(exporter.tag, "exporter", "image", "tag"),
                        "digest": Param(
                            "",
                            "Image digest (sha256:...); when set, the sidecar runs "
                            "repository:tag@digest.",
                            {"type": "string", "pattern": DIGEST},
                        ),
                    },
                ),
                "connectionTimeout": _param(
                    exporter.connection_timeout, "exporter", "connectionTimeout"
                ),
                "resources": resources(res, "exporter", (*SPEC, "exporter", "resources")),
            },
        ),
        "scrape": Group(
            spec_property((*SPEC, "scrape"))["description"],
            {
                "interval": _param(exporter.scrape_interval, "scrape", "interval"),
                "timeout": _param(exporter.scrape_timeout, "scrape", "timeout"),
            },
        ),
    }


def _dashboards(dashboards: Dashboards) -> Group:
    return Group(
        spec_property((*SPEC, "dashboards"))["description"],
        {
            "enabled": _param(dashboards.enabled, "dashboards", "enabled"),
            "sidecarLabel": _param(dict(dashboards.sidecar_label), "dashboards", "sidecarLabel"),
            "folder": _param(dashboards.folder, "dashboards", "folder"),
            "folderAnnotation": _param(
                dashboards.folder_annotation, "dashboards", "folderAnnotation"
            ),
        },
    )


def monitoring_values(model: Topology) -> dict[str, Node]:
    mon = model.monitoring
    receivers = dict(mon.receivers)
    return {
        "monitoring": Group(
            spec_property(SPEC)["description"],
            {
                "mode": _param(mon.mode, "mode"),
                "selectorLabels": _param(dict(mon.selector_labels), "selectorLabels"),
                "runbookUrl": Param(
                    runbook_url(model),
                    "URL of the chart README; each alert's runbook_url adds #<alert name in "
                    "lower case>.",
                    {"type": "string", "minLength": 1},
                    (*SPEC, "runbookUrl"),
                ),
                **_exporter(mon.exporter),
                "dashboards": _dashboards(mon.dashboards),
                "alerts": Group(
                    spec_property((*SPEC, "alerts"))["description"],
                    {name: _param(value, "alerts", name) for name, value in mon.alerts},
                ),
                "alertmanager": Group(
                    spec_property((*SPEC, "alertmanager"))["description"],
                    {
                        "groupWait": _param(mon.group_wait, "alertmanager", "groupWait"),
                        "groupInterval": _param(
                            mon.group_interval, "alertmanager", "groupInterval"
                        ),
                        "repeatInterval": _param(
                            mon.repeat_interval, "alertmanager", "repeatInterval"
                        ),
                        "receivers": Group(
                            "Receivers by severity.",
                            {
                                severity: Group(
                                    f"Receiver of {severity} alerts.",
                                    {
                                        "webhookUrls": _param(
                                            list(receivers[severity]),
                                            "alertmanager",
                                            "receivers",
                                            severity,
                                            "webhookUrls",
                                        )
                                    },
                                )
                                for severity in SEVERITIES
                            },
                        ),
                    },
                ),
                **bundled_values(),
                **ingress_values(mon.ingress),
            },
        )
    }
