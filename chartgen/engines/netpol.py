"""What rendered NetworkPolicies allow, by the rules of networking.k8s.io/v1.

No cluster or CNI runs here, so flows are decided by the API's documented semantics: a pod is
isolated for a direction once any policy of its namespace selects it for that direction; a flow
passes when the source's egress and the destination's ingress both allow it (or are not isolated).
Peers: podSelector (in the policy's namespace), namespaceSelector, both (pods in those
namespaces), ipBlock (CIDR minus except). Ports: number or named container port of the
destination, protocol (default TCP), endPort ranges.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Pod:
    """A pod as policies see it: namespace (with its labels), labels, IP and named ports."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    ip: str
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    named_ports: Mapping[str, tuple[int, str]] = field(default_factory=dict)  # name -> port, proto


@dataclass(frozen=True)
class Policy:
    name: str
    namespace: str
    spec: Mapping[str, Any]

    def types(self) -> set[str]:
        declared = self.spec.get("policyTypes")
        if declared:
            return set(declared)
        return {"Ingress", "Egress"} if "egress" in self.spec else {"Ingress"}


def matches_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector; an empty one selects everything."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = set(expression.get("values") or [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def peer_matches(peer: Mapping[str, Any], policy: Policy, pod: Pod) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        address = ipaddress.ip_address(pod.ip)
        if address not in ipaddress.ip_network(block["cidr"], strict=False):
            return False
        return not any(
            address in ipaddress.ip_network(cidr, strict=False) for cidr in block.get("except", [])
        )
    pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
    if namespaces is None and pod.namespace != policy.namespace:
        return False
    if namespaces is not None and not matches_selector(namespaces, pod.namespace_labels):
        return False
    return matches_selector(pods, pod.labels)


def _port_matches(
    rule_ports: Iterable[Mapping[str, Any]] | None, port: int, proto: str, to: Pod
) -> bool:
    entries = list(rule_ports or [])
    if not entries:
        return True
    for entry in entries:
        if entry.get("protocol", "TCP") != proto:
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        if isinstance(wanted, str):
            named = to.named_ports.get(wanted)
            if named == (port, proto):
                return True
            continue
        if int(wanted) <= port <= int(entry.get("endPort", wanted)):
            return True
    return False


def _allowed(
    policies: Iterable[Policy],
    subject: Pod,
    peer: Pod,
    direction: str,
    port: int,
    proto: str,
    to: Pod,
) -> bool:
    """Whether `subject`'s policies let this flow through in `direction` (Ingress or Egress)."""
    selecting = [
        p
        for p in policies
        if p.namespace == subject.namespace
        and direction in p.types()
        and matches_selector(p.spec.get("podSelector") or {}, subject.labels)
    ]
    if not selecting:
        return True  # not isolated in this direction
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in selecting:
        for rule in policy.spec.get(rules_key) or []:
            peers = rule.get(peers_key)
            if peers and not any(peer_matches(item, policy, peer) for item in peers):
                continue
            if _port_matches(rule.get("ports"), port, proto, to):
                return True
    return False


def blocked_side(policies: list[Policy], source: Pod, target: Pod, port: int, proto: str) -> str:
    """Which side blocks the flow: 'egress', 'ingress' or 'both'; '' when it passes."""
    egress = _allowed(policies, source, target, "Egress", port, proto, target)
    ingress = _allowed(policies, target, source, "Ingress", port, proto, target)
    if egress and ingress:
        return ""
    if not egress and not ingress:
        return "both"
    return "ingress" if egress else "egress"
