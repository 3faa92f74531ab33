"""Helm values of the monitoring section (monitoring.*): mode, selector labels, runbook URL,
alert thresholds and Alertmanager routing, each set by its spec key."""

from __future__ import annotations

from typing import Any

from chartgen.render.params import Group, Node, Param
from chartgen.topology.constraints import spec_property
from chartgen.topology.model import Topology
from chartgen.topology.monitoring import SEVERITIES

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
            },
        )
    }
