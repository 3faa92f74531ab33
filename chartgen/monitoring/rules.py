"""The alert list rendered two ways from one walk: as the Helm named template of the rule groups
(placeholders become template code, Prometheus' own {{ }} escaped), and as one environment's
plain rule groups (placeholders become that environment's values) for promtool."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from chartgen.monitoring.alerts import SEVERITY_GROUPS, Alert
from chartgen.monitoring.groups import SCOPES, Scope, replicas
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
    model: Topology
    sessions_db: str
    cache_db: str
    runbook_url: str

    @property
    def ha(self) -> bool:
        return self.model.ha

    def inputs(self, scope: Scope = SCOPES["sessions"]) -> dict[str, Any]:
        """What the test series builders read: thresholds and derived figures."""
        return {
            **self.thresholds,
            "quorum": self.quorum,
            "replicas1": replicas(self.model, scope) - 1,
            "sessionsDb": self.sessions_db,
            "cacheDb": self.cache_db,
        }

    def variants(self, alert: Alert) -> list[Scope]:
        """The alert's scopes that exist in this environment, one rule each."""
        if alert.ha_only and not self.ha:
            return []
        return [SCOPES[name] for name in alert.scopes if SCOPES[name].applies(self.model)]


def concrete(model: Topology, target: Target, runbook_url: str) -> Concrete:
    return Concrete(
        target=target,
        thresholds=dict(model.monitoring.alerts),
        quorum=model.sentinel.effective_quorum,
        model=model,
        sessions_db=f"db{model.sessions.index}",
        cache_db=f"db{model.cache.index}",
        runbook_url=runbook_url,
    )


def _matchers(target: Target) -> dict[str, str]:
    """Matchers of `target`'s group (@data@, @pods@) and of the fixed sets."""
    ns = f'namespace="{target.namespace}"'
    sessions, sentinel = target.of("redis").data_service, target.sentinel_service
    return {
        "data": f'{ns},service="{target.data_service}"',
        "sentinel": f'{ns},service="{sentinel}"',
        "all": f'{ns},service=~"{sessions}|{sentinel}"',
        "pods": f'{ns},pod=~"{target.fullname}-{target.group}-[0-9]+"',
    }


def concrete_text(text: str, values: Concrete, scope: Scope = SCOPES["sessions"]) -> str:
    matchers = _matchers(values.target.of(scope.component))
    inputs = values.inputs(scope)

    def replace(match: re.Match[str]) -> str:
        name, arg = match.group(1), match.group(2)
        if name == "t":
            return str(values.thresholds[arg])
        if name in matchers:
            return matchers[name]
        return str(inputs[name])

    return _PLACEHOLDER.sub(replace, text)


def helm_text(text: str, helper: str, model: Topology, scope: Scope = SCOPES["sessions"]) -> str:
    escaped = _PROMETHEUS_TEMPLATE.sub(lambda m: "{{`" + m.group(0) + "`}}", text)
    group = {"redis": "data", "cache": "cache", "sentinel": "sentinel"}[scope.component]
    code = {
        "data": f'{{{{ include "{helper}.monitoring.{group}" . }}}}',
        "sentinel": f'{{{{ include "{helper}.monitoring.sentinel" . }}}}',
        "all": f'{{{{ include "{helper}.monitoring.all" . }}}}',
        "pods": f'{{{{ include "{helper}.monitoring.podsOf" (list . "{scope.component}") }}}}',
        "quorum": f'{{{{ include "{helper}.sentinel.quorum" . }}}}',
        "replicas1": f"{{{{ sub (int {scope.replicas or '.Values.redis.replicas'}) 1 }}}}",
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


def _rule(alert: Alert, scope: Scope, text: Callable[[str], str], runbook: str) -> dict[str, Any]:
    return {
        "alert": alert.name,
        "expr": text(alert.expr),
        "for": text(alert.for_),
        "labels": {"severity": alert.severity, "group": scope.label},
        "annotations": {
            "summary": text(alert.summary),
            "description": text(alert.description),
            "runbook_url": f"{runbook}#{alert.anchor}",
        },
    }


def _concrete_rule(alert: Alert, scope: Scope, values: Concrete) -> dict[str, Any]:
    return _rule(alert, scope, lambda raw: concrete_text(raw, values, scope), values.runbook_url)


def rule_groups(values: Concrete, group_prefix: str) -> dict[str, Any]:
    """One environment's rule groups, as promtool reads them (a PrometheusRule's .spec)."""
    return {
        "groups": [
            {
                "name": f"{group_prefix}-{severity}",
                "rules": [
                    _concrete_rule(alert, scope, values)
                    for alert in alerts
                    for scope in values.variants(alert)
                ],
            }
            for severity, alerts in SEVERITY_GROUPS
        ]
    }


def _condition(alert: Alert, scope: Scope) -> str:
    """The Helm condition of one variant ("" always)."""
    parts = [c for c in ('eq .Values.mode "ha"' if alert.ha_only else "", scope.helm) if c]
    if len(parts) == 2 and parts[0] != parts[1]:
        return f"and ({parts[0]}) ({parts[1]})"
    return parts[0] if parts else ""


def _block(key: str, value: str, pad: str) -> Iterator[str]:
    yield f"{pad}{key}: |-"
    yield f"{pad}  {value}"


def helm_groups(helper: str, model: Topology) -> str:
    """The body of the named template `<helper>.monitoring.groups`: the rule groups with the
    thresholds and selectors as Helm template code."""

    lines = ["groups:"]
    for severity, alerts in SEVERITY_GROUPS:
        lines.append(f'  - name: {{{{ include "{helper}.fullname" . }}}}-{severity}')
        lines.append("    rules:")
        for alert in alerts:
            for scope in (SCOPES[name] for name in alert.scopes):
                lines.extend(_helm_rule(alert, scope, helper, model))
    return "\n".join(lines)


def _helm_rule(alert: Alert, scope: Scope, helper: str, model: Topology) -> Iterator[str]:
    rule = _rule(
        alert,
        scope,
        lambda raw: helm_text(raw, helper, model, scope),
        "{{ .Values.monitoring.runbookUrl }}",
    )
    condition = _condition(alert, scope)
    if condition:
        yield f"      {{{{- if {condition} }}}}"
    yield f"      - alert: {rule['alert']}"
    yield from _block("expr", rule["expr"], "        ")
    yield f"        for: {rule['for']}"
    yield "        labels:"
    for key, value in rule["labels"].items():
        yield f"          {key}: {value}"
    yield "        annotations:"
    for key, value in rule["annotations"].items():
        yield from _block(key, value, "          ")
    if condition:
        yield "      {{- end }}"
