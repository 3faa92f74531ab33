"""The Helm values of the NetworkPolicies: who may reach Redis and Sentinel, and where DNS is."""

from __future__ import annotations

from typing import Any

from chartgen.render.params import Group, Node, Param
from chartgen.render.value_parts import BOOLEAN, PORT


def cluster_dns() -> dict[str, Any]:
    """Where kube-dns / CoreDNS runs on most clusters, as a NetworkPolicy peer."""
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }


def network_policy_values(chart_name: str) -> dict[str, Node]:
    return {
        "networkPolicy": Group(
            "NetworkPolicies: default deny plus one policy per traffic flow.",
            {
                "enabled": Param(True, "Create the NetworkPolicies.", BOOLEAN),
                "clients": Param(
                    [{"podSelector": {"matchLabels": {f"{chart_name}-client": "true"}}}],
                    "Peers (NetworkPolicy `from` entries) allowed to reach Redis and Sentinel; "
                    "label client pods to match, or add namespaceSelectors.",
                    {"type": "array", "items": {"type": "object"}},
                ),
                "prometheus": Param(
                    [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                            },
                            "podSelector": {
                                "matchLabels": {"app.kubernetes.io/name": "prometheus"}
                            },
                        }
                    ],
                    "Peers (NetworkPolicy `from` entries) allowed to scrape the exporters "
                    "(monitoring.mode operator or bundled) on the metrics port; the default is "
                    "kube-prometheus-stack's Prometheus in namespace monitoring.",
                    {"type": "array", "minItems": 1, "items": {"type": "object"}},
                ),
                "dns": Group(
                    "The cluster DNS, the only place pods may send DNS queries.",
                    {
                        "peers": Param(
                            [cluster_dns()],
                            "NetworkPolicy `to` peers of the DNS servers (OpenShift: namespace "
                            "openshift-dns, pods dns.operator.openshift.io/daemonset-dns; "
                            "node-local DNS: an ipBlock of its address).",
                            {"type": "array", "minItems": 1, "items": {"type": "object"}},
                        ),
                        "port": Param(53, "DNS port (OpenShift: 5353).", PORT),
                    },
                ),
            },
        )
    }
