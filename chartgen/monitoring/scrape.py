"""Critical alerts on the scrape itself: every other alert reads exporter series, so a pod whose
exporter cannot be scraped, or a group with no target at all, would silence them all. Prometheus'
own `up` series tells both apart from a healthy release: a pod that lost its node keeps its
endpoint (the headless Services publish not-ready addresses) and is scraped as down; a group
whose pods are all gone, or that Prometheus no longer discovers, has no `up` series left."""

from __future__ import annotations

from chartgen.monitoring.alert import Alert, data_labels, group, steady
from chartgen.monitoring.groups import ALL
from chartgen.monitoring.series import Series, Target, data

GROUPS = ("redis", "cache", "sentinel")  # Target.group of each group of pods


def _others_up(t: Target) -> list[Series]:
    """Everything but `t`'s group scraped fine: the release's other groups (each variant of
    the alert sees only its own) and two other releases (absent() must see this one only)."""
    groups = [t.of(name) for name in GROUPS if name != t.group]
    return [data(other, "up", steady(1)) for other in (*groups, *t.neighbours())]


SCRAPE_CRITICAL = (
    Alert(
        "RedisExporterUnreachable",
        "critical",
        "up{@data@} == 0",
        "2m",
        "Pod {{ $labels.pod }} cannot be scraped",
        "Prometheus cannot scrape the exporter of {{ $labels.pod }} ({{ $labels.service }}, "
        "namespace {{ $labels.namespace }}) for two minutes: the pod is unreachable, so its "
        "Redis or Sentinel is unobserved and every other alert on it is silent.",
        "The pod is still an endpoint of its headless Service but its exporter does not answer: "
        "the node is lost or partitioned, the pod is being deleted, or a NetworkPolicy stops "
        "Prometheus. RedisDown cannot fire here: it needs the exporter.",
        (
            "`kubectl get pods -o wide` and `kubectl get nodes`: NotReady node, pod Terminating "
            "or Unknown.",
            "`kubectl logs <pod> -c metrics`: the exporter started and listens on 9121.",
            "The `<fullname>-metrics` NetworkPolicy admits this Prometheus "
            "(networkPolicy.prometheus, or the bundled stack's own).",
        ),
        lambda t, th: [data(t, "up", steady(0))],
        (("scraped", lambda t, th: [data(t, "up", steady(1))]),),
        data_labels(),
        external=("up",),  # Prometheus' own series of each target
        scopes=ALL,
    ),
    Alert(
        "RedisTargetsMissing",
        "critical",
        "absent(up{@data@})",
        "5m",
        "No target of {{ $labels.service }} is scraped",
        "Prometheus has no scrape target of {{ $labels.service }} (namespace "
        "{{ $labels.namespace }}) for five minutes: its pods are all gone, or it is not "
        "discovered, and no other alert can fire for it.",
        "Not one pod of the group is scraped: the StatefulSet was scaled to zero or deleted, "
        "all its pods lost their addresses, or the ServiceMonitor (operator mode) or the "
        "bundled discovery no longer finds the headless Service.",
        (
            "`kubectl get statefulset,pods -l app.kubernetes.io/instance=<release>`.",
            "Operator mode: the ServiceMonitor exists and carries the labels the Prometheus "
            "selects (monitoring.selectorLabels); Prometheus' Targets page.",
            "The headless Service keeps its `metrics` port and the pods their labels.",
        ),
        lambda t, th: _others_up(t),
        (("scraped", lambda t, th: [data(t, "up", steady(1)), *_others_up(t)]),),
        group("data"),
        external=("up",),
        scopes=ALL,
    ),
)
