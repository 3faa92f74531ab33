"""NetworkPolicy flows: the evaluator follows the networking.k8s.io/v1 rules (cases from the
Kubernetes documentation), and `chartgen validate` finds the flows a broken policy blocks or
leaves open, at the policy's template line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines.netpol import Pod, Policy, blocked_side
from tests.test_validate import TEMPLATES, edit, validate

NS = {"kubernetes.io/metadata.name": "db"}
REDIS = Pod("redis", "db", {"app": "redis"}, "10.0.0.1", NS, {"redis": (6379, "TCP")})
CLIENT = Pod("api", "db", {"role": "client"}, "10.0.0.2", NS)
OTHER_NS = Pod("api", "web", {"role": "client"}, "10.1.0.2", {"team": "web"})
DENY_ALL = Policy("deny", "db", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def ingress(
    peers: list[dict[str, Any]] | None, ports: list[dict[str, Any]] | None = None
) -> Policy:
    rule: dict[str, Any] = {}
    if peers is not None:
        rule["from"] = peers
    if ports is not None:
        rule["ports"] = ports
    return Policy(
        "allow", "db", {"podSelector": {"matchLabels": {"app": "redis"}}, "ingress": [rule]}
    )


def test_no_policy_means_not_isolated() -> None:
    assert blocked_side([], CLIENT, REDIS, 6379, "TCP") == ""


def test_default_deny_blocks_both_sides() -> None:
    assert blocked_side([DENY_ALL], CLIENT, REDIS, 6379, "TCP") == "both"


def test_policy_types_default_to_ingress_only_without_egress_rules() -> None:
    only_ingress = Policy("i", "db", {"podSelector": {}, "ingress": []})
    assert blocked_side([only_ingress], REDIS, CLIENT, 80, "TCP") == "ingress"
    assert blocked_side([only_ingress], REDIS, OTHER_NS, 80, "TCP") == ""  # other namespace


def pods(**labels: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": labels}}


def namespaces(**labels: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": labels}}


def expression(key: str, operator: str, *values: str) -> dict[str, Any]:
    found: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        found["values"] = list(values)
    return {"podSelector": {"matchExpressions": [found]}}


def block(cidr: str, *excepted: str) -> dict[str, Any]:
    return {"ipBlock": {"cidr": cidr, "except": list(excepted)}}


# (policy, source, port, protocol, verdict); "" = the flow passes
INGRESS_CASES = [
    (ingress([pods(role="client")]), CLIENT, 6379, "TCP", ""),
    # a podSelector alone means pods of the policy's own namespace
    (ingress([pods(role="client")]), OTHER_NS, 6379, "TCP", "ingress"),
    # namespaceSelector and podSelector in one peer: both must match (AND) ...
    (ingress([namespaces(team="web") | pods(role="x")]), OTHER_NS, 6379, "TCP", "ingress"),
    # ... as two peers: either may (OR)
    (ingress([namespaces(team="web"), pods(role="x")]), OTHER_NS, 6379, "TCP", ""),
    (ingress([expression("role", "In", "client", "job")]), CLIENT, 6379, "TCP", ""),
    (ingress([expression("role", "NotIn", "client")]), CLIENT, 6379, "TCP", "ingress"),
    (ingress([expression("tier", "DoesNotExist")]), CLIENT, 6379, "TCP", ""),
    (ingress([expression("tier", "Exists")]), CLIENT, 6379, "TCP", "ingress"),
    (ingress([block("10.0.0.0/16", "10.0.0.0/30")]), CLIENT, 6379, "TCP", "ingress"),
    (ingress([block("10.0.0.0/16", "10.0.1.0/24")]), CLIENT, 6379, "TCP", ""),
    # no `from`: every source; ports still apply
    (ingress(None, [{"port": 6379}]), OTHER_NS, 6379, "TCP", ""),
    (ingress(None, [{"port": 6379}]), OTHER_NS, 6380, "TCP", "ingress"),
    (ingress(None, [{"port": 6379, "protocol": "UDP"}]), CLIENT, 6379, "TCP", "ingress"),
    # a named port is the destination container's
    (ingress(None, [{"port": "redis"}]), CLIENT, 6379, "TCP", ""),
    (ingress(None, [{"port": "metrics"}]), CLIENT, 6379, "TCP", "ingress"),
    (ingress(None, [{"port": 6000, "endPort": 6400}]), CLIENT, 6379, "TCP", ""),
]


@pytest.mark.parametrize(("policy", "source", "port", "proto", "verdict"), INGRESS_CASES)
def test_ingress_rules(policy: Policy, source: Pod, port: int, proto: str, verdict: str) -> None:
    assert blocked_side([policy], source, REDIS, port, proto) == verdict


def test_egress_needs_its_own_allowance() -> None:
    egress = Policy(
        "out",
        "db",
        {
            "podSelector": {"matchLabels": {"role": "client"}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"podSelector": {"matchLabels": {"app": "redis"}}}],
                    "ports": [{"port": 6379}],
                }
            ],
        },
    )
    assert blocked_side([DENY_ALL, ingress(None), egress], CLIENT, REDIS, 6379, "TCP") == ""
    assert blocked_side([DENY_ALL, ingress(None)], CLIENT, REDIS, 6379, "TCP") == "egress"


def test_committed_chart_lets_every_needed_flow_through_and_no_other(project: Path) -> None:
    result = validate(project, "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert "network-flows" in report["checks"]  # it ran, and found nothing
    assert [p for p in report["problems"] if p["check"].startswith("network")] == []


def _flow_lines(out: str) -> list[str]:
    return [
        ln for ln in out.splitlines() if ln.endswith("[network-flows]") and "[production]" in ln
    ]


def test_dns_only_over_udp_is_found(project: Path) -> None:
    path = project / TEMPLATES / "_helpers.tpl"
    tcp = "    - port: {{ int .Values.networkPolicy.dns.port }}\n      protocol: TCP\n"
    assert tcp in path.read_text()
    path.write_text(path.read_text().replace(tcp, ""))
    lines = _flow_lines(validate(project).stdout)
    assert any(
        ln.startswith(f"{TEMPLATES}/networkpolicy.yaml:")
        and "NetworkPolicy/sessions-session-database-sentinel.spec.egress: "
        "blocked: sentinel -> DNS 53/TCP"
        in ln
        for ln in lines
    ), lines
    # redis, sentinel, endpoint, production's cache group, maintenance, backup and helm test
    # pods, TCP only
    assert len(lines) == 7


def test_sentinel_peers_forgotten_are_found(project: Path) -> None:
    path = project / TEMPLATES / "networkpolicy.yaml"
    text = path.read_text()
    sentinel_doc = text.index("name: {{ $fullname }}-sentinel")
    ingress_at = text.index("  ingress:", sentinel_doc)
    # the Sentinel policy's ingress: drop the peer entry that names the Sentinels themselves
    peer = (
        "        - podSelector:\n"
        "            matchLabels:\n"
        "              {{- $sentinel | nindent 14 }}\n"
    )
    cut = text.index(peer, ingress_at)
    path.write_text(text[:cut] + text[cut + len(peer) :])
    ingress_line = text[:ingress_at].count("\n") + 1
    lines = _flow_lines(validate(project).stdout)
    assert (
        f"{TEMPLATES}/networkpolicy.yaml:{ingress_line}:3: [production] NetworkPolicy/"
        "sessions-session-database-sentinel.spec.ingress: blocked (ingress): sentinel -> "
        "sentinel port 26379/TCP (Sentinel gossip and failover votes) [network-flows]"
    ) in lines, lines


def test_endpoint_forgotten_by_redis_is_found(project: Path) -> None:
    path = project / TEMPLATES / "networkpolicy.yaml"
    peer = (
        "        - podSelector:\n"
        "            matchLabels:\n"
        "              {{- $endpoint | nindent 14 }}\n"
    )
    edit(path, peer, "")
    lines = _flow_lines(validate(project).stdout)
    assert any(
        "NetworkPolicy/sessions-session-database-redis.spec.ingress: blocked (ingress): "
        "endpoint -> redis port 6379/TCP (the endpoint checks role:master and forwards)" in ln
        for ln in lines
    ), lines


def test_endpoint_closed_to_clients_is_found(project: Path) -> None:
    path = project / TEMPLATES / "networkpolicy.yaml"
    edit(
        path,
        "  {{- with .Values.networkPolicy.clients }}\n  ingress:",
        "  {{- with list }}\n  ingress:",
    )
    lines = _flow_lines(validate(project).stdout)
    assert any(
        # no ingress rule left to point at: the finding names the endpoint's pods
        "Deployment/sessions-session-database-endpoint" in ln
        and "blocked (ingress): client" in ln
        and "-> endpoint port 6379/TCP (clients that do not speak Sentinel use the endpoint)" in ln
        for ln in lines
    ), lines


def test_redis_open_to_the_whole_namespace_is_found(project: Path) -> None:
    path = project / TEMPLATES / "networkpolicy.yaml"
    edit(path, "      from:\n", "      from:\n        - podSelector: {}\n")
    lines = _flow_lines(validate(project).stdout)
    assert any(
        "NetworkPolicy/sessions-session-database-redis" in ln
        and "open: a pod of namespace session-db that is no client reaches redis port 6379/TCP"
        in ln
        for ln in lines
    ), lines


def test_default_deny_by_match_expressions_is_understood(project: Path) -> None:
    """network-policy evaluates selectors as network-flows does: a default deny written with
    matchExpressions still selects every pod of the release."""
    edit(
        project / TEMPLATES / "networkpolicy.yaml",
        "  podSelector:\n    matchLabels:\n"
        '      {{- include "session-database.selectorLabels" (dict "context" $) | nindent 6 }}\n'
        "  policyTypes: [Ingress, Egress]",
        "  podSelector:\n    matchExpressions:\n"
        "      - {key: app.kubernetes.io/instance, operator: In, values: [{{ .Release.Name }}]}\n"
        "  policyTypes: [Ingress, Egress]",
    )
    result = validate(project, "--format", "json", "--env", "production")
    report = json.loads(result.stdout)
    assert "network-policy" in report["checks"]
    assert [p for p in report["problems"] if p["check"] == "network-policy"] == []
    # it is read: the same deny without any selector match is reported
    edit(
        project / TEMPLATES / "networkpolicy.yaml",
        "operator: In, values: [{{ .Release.Name }}]}",
        "operator: In, values: [another-release]}",
    )
    result = validate(project, "--format", "json", "--env", "production")
    found = [p for p in json.loads(result.stdout)["problems"] if p["check"] == "network-policy"]
    # redis, sentinel, the master endpoint's, production's cache group's, the two cleanup
    # CronJobs' and the backup job's pods
    assert len(found) == 7 and all("no default-deny" in p["message"] for p in found)


def _set_values(project: Path, env: str, text: str) -> None:
    values = project / "generated/helm/session-database" / f"values-{env}.yaml"
    values.write_text(values.read_text() + text)


def test_dns_open_to_any_address_is_found(project: Path) -> None:
    _set_values(
        project,
        "production",
        "networkPolicy:\n  dns:\n    peers: [{ipBlock: {cidr: 0.0.0.0/0}}]\n",
    )
    lines = _flow_lines(validate(project, "--env", "production").stdout)
    assert any("open: redis -> any address on port 53/UDP" in ln for ln in lines), lines
    assert any("open: sentinel -> any address on port 53/UDP" in ln for ln in lines), lines


def test_openshift_dns_is_reached_and_nothing_else(project: Path) -> None:
    _set_values(
        project,
        "production",
        "networkPolicy:\n  dns:\n    port: 5353\n    peers:\n"
        "      - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: openshift-dns}}\n"
        "        podSelector: {matchLabels: {dns.operator.openshift.io/daemonset-dns: default}}\n",
    )
    result = validate(project, "--env", "production", "--format", "json")
    report = json.loads(result.stdout)
    flows = [p for p in report["problems"] if p["check"] == "network-flows"]
    assert "network-flows" in report["checks"] and flows == []


def test_a_port_that_is_no_integer_is_a_finding_not_a_crash(project: Path) -> None:
    path = project / TEMPLATES / "redis/statefulset.yaml"
    edit(path, "containerPort: {{ int .Values.redis.port }}", 'containerPort: "redis-port"')
    done = validate(project)
    assert done.returncode == 1, done.stderr
    assert "internal error" not in done.stderr
    assert "containerPort" in done.stdout
