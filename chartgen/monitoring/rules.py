"""The alert list rendered two ways from one walk: as the Helm named template of the rule groups
(placeholders become template code, Prometheus' own {{ }} escaped), and as one environment's
plain rule groups (placeholders become that environment's values) for promtool."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from chartgen.monitoring.alerts import SEVERITY_GROUPS, Alert
from chartgen.monitoring.series import Target
from chartgen.topology.model import Topology

_PLACEHOLDER = re.compile(r"@([a-zA-Z0-9]+)(?::([A-Za-z0-9]+))?@")
_PROMETHEUS_TEMPLATE = re.compile(r"\{\{.*?\}\}")


@dataclass(frozen=True)
class Concrete:
    """One environment's values for the placeholders, for one release."""

    target: Target
    thresholds: dict[str, int]
    quorum: int
    replicas: int
    ha: bool
    sessions_db: str
    cache_db: str
    runbook_url: str

    def inputs(self) -> dict[str, Any]:
        """What the test series builders read: thresholds and derived figures."""
        return {
            **self.thresholds,
            "quorum": self.quorum,
            "replicas1": self.replicas - 1,
            "sessionsDb": self.sessions_db,
            "cacheDb": self.cache_db,
        }


def concrete(model: Topology, target: Target, runbook_url: str) -> Concrete:
    return Concrete(
        target=target,
        thresholds=dict(model.monitoring.alerts),
        quorum=model.sentinel.effective_quorum,
        replicas=model.redis.replicas,
        ha=model.ha,
        sessions_db=f"db{model.sessions.index}",
        cache_db=f"db{model.cache.index}",
        runbook_url=runbook_url,
    )


def _matchers(target: Target) -> dict[str, str]:
    ns = f'namespace="{target.namespace}"'
    data, sentinel = target.data_service, target.sentinel_service
    return {
        "data": f'{ns},service="{data}"',
        "sentinel": f'{ns},service="{sentinel}"',
        "all": f'{ns},service=~"{data}|{sentinel}"',
        "pods": f'{ns},pod=~"{target.fullname}-(redis|sentinel)-[0-9]+"',
    }


def concrete_text(text: str, values: Concrete) -> str:
    matchers = _matchers(values.target)
    inputs = values.inputs()

    def replace(match: re.Match[str]) -> str:
        name, arg = match.group(1), match.group(2)
        if name == "t":
            return str(values.thresholds[arg])
        if name in matchers:
            return matchers[name]
        return str(inputs[name])

    return _PLACEHOLDER.sub(replace, text)


def helm_text(text: str, helper: str, model: Topology) -> str:
    escaped = _PROMETHEUS_TEMPLATE.sub(lambda m: "{{`" + m.group(0) + "`}}", text)
    code = {
        "data": f'{{{{ include "{helper}.monitoring.data" . }}}}',
        "sentinel": f'{{{{ include "{helper}.monitoring.sentinel" . }}}}',
        "all": f'{{{{ include "{helper}.monitoring.all" . }}}}',
        "pods": f'{{{{ include "{helper}.monitoring.pods" . }}}}',
        "quorum": f'{{{{ include "{helper}.sentinel.quorum" . }}}}',
        "replicas1": "{{ sub (int .Values.redis.replicas) 1 }}",
        "sessionsDb": f"db{model.sessions.index}",
        "cacheDb": f"db{model.cache.index}",
    }

    def replace(match: re.Match[str]) -> str:
        name, arg = match.group(1), match.group(2)
        if name == "t":
            return f"{{{{ int .Values.monitoring.alerts.{arg} }}}}"
        return code[name]

    # `{{{` would lex as an action opening on a brace: keep the selector's brace apart, and
    # let `{{-` trim the space again.
    return _PLACEHOLDER.sub(replace, escaped).replace("{{{", "{ {{-")


def _rule(alert: Alert, text: Callable[[str], str], runbook: str) -> dict[str, Any]:
    return {
        "alert": alert.name,
        "expr": text(alert.expr),
        "for": text(alert.for_),
        "labels": {"severity": alert.severity},
        "annotations": {
            "summary": text(alert.summary),
            "description": text(alert.description),
            "runbook_url": f"{runbook}#{alert.anchor}",
        },
    }


def rule_groups(values: Concrete, group_prefix: str) -> dict[str, Any]:
    """One environment's rule groups, as promtool reads them (a PrometheusRule's .spec)."""

    def text(raw: str) -> str:
        return concrete_text(raw, values)

    return {
        "groups": [
            {
                "name": f"{group_prefix}-{severity}",
                "rules": [
                    _rule(alert, text, values.runbook_url)
                    for alert in alerts
                    if values.ha or not alert.ha_only
                ],
            }
            for severity, alerts in SEVERITY_GROUPS
        ]
    }


def _block(key: str, value: str, pad: str) -> Iterator[str]:
    yield f"{pad}{key}: |-"
    yield f"{pad}  {value}"


def helm_groups(helper: str, model: Topology) -> str:
    """The body of the named template `<helper>.monitoring.groups`: the rule groups with the
    thresholds and selectors as Helm template code."""

    def text(raw: str) -> str:
        return helm_text(raw, helper, model)

    lines = ["groups:"]
    for severity, alerts in SEVERITY_GROUPS:
        lines.append(f'  - name: {{{{ include "{helper}.fullname" . }}}}-{severity}')
        lines.append("    rules:")
        for alert in alerts:
            rule = _rule(alert, text, "{{ .Values.monitoring.runbookUrl }}")
            if alert.ha_only:
                lines.append('      {{- if eq .Values.mode "ha" }}')
            lines.append(f"      - alert: {rule['alert']}")
            lines.extend(_block("expr", rule["expr"], "        "))
            lines.append(f"        for: {rule['for']}")
            lines.append("        labels:")
            lines.append(f"          severity: {alert.severity}")
            lines.append("        annotations:")
            for key, value in rule["annotations"].items():
                lines.extend(_block(key, value, "          "))
            if alert.ha_only:
                lines.append("      {{- end }}")
    return "\n".join(lines)
