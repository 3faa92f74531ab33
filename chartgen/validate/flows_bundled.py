"""The bundled monitoring stack's flows out of the namespace (network-flows): Prometheus to the
Kubernetes API for service discovery, Alertmanager to its receivers. Their peers and ports are
Helm values (monitoring.bundled.*), so the check asks what the values name to be open."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from typing import Any

from chartgen.engines.helm import RenderedObject
from chartgen.engines.netpol import Pod, Policy, blocked_side
from chartgen.errors import Problem

ProblemAt = Callable[[RenderedObject, str, str], Problem]
# (component, values key below monitoring.bundled.<component>, what flows)
EGRESS = (
    ("prometheus", "apiServer", "service discovery asks the Kubernetes API for its targets"),
    ("alertmanager", "egress", "Alertmanager notifies its receivers"),
)


def _peer_pods(peers: list[Any]) -> list[Pod]:
    """An address inside each ipBlock peer (selector peers are pods elsewhere: skipped, the
    API server and receivers are addresses)."""
    found = []
    for index, peer in enumerate(peers):
        if isinstance(peer, dict) and "ipBlock" in peer:
            network = ipaddress.ip_network(peer["ipBlock"]["cidr"], strict=False)
            host = next(iter(network.hosts()), network.network_address)
            found.append(Pod(f"peer-{index}", "outside", {}, str(host)))
    return found


def bundled_egress(
    problem: ProblemAt,
    policies: list[Policy],
    pods: dict[str, tuple[RenderedObject, Pod]],
    values: dict[str, Any],
) -> Iterator[Problem]:
    monitoring = values.get("monitoring") or {}
    if monitoring.get("mode") != "bundled":
        return
    bundled = monitoring.get("bundled") or {}
    for component, key, why in EGRESS:
        if component not in pods:
            continue
        obj, pod = pods[component]
        settings = (bundled.get(component) or {}).get(key) or {}
        for target in _peer_pods(settings.get("peers") or []):
            for port in settings.get("ports") or []:
                if blocked_side(policies, pod, target, int(port), "TCP"):
                    yield problem(
                        obj,
                        "egress",
                        f"blocked: {component} -> {target.ip} port {port}/TCP ({why})",
                    )
