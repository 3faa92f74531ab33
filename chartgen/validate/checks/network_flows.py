from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from chartgen.engines.helm import RenderedObject
from chartgen.engines.netpol import Pod, Policy, blocked_side, matches_selector, peer_matches
from chartgen.engines.workloads import pod_template
from chartgen.errors import Problem
from chartgen.validate.context import ValidateContext
from chartgen.validate.flows_bundled import bundled_egress

ID = "network-flows"
SEVERITY = "error"

COMPONENT = "app.kubernetes.io/component"
NAME_LABEL = "kubernetes.io/metadata.name"
DNS = Pod(
    "kube-dns",
    "kube-system",
    {"k8s-app": "kube-dns"},
    "10.96.0.10",
    {NAME_LABEL: "kube-system"},
    {"dns": (53, "UDP"), "dns-tcp": (53, "TCP")},
)


@dataclass(frozen=True)
class Flow:
    """A flow the topology needs: from one component to a named port of another."""

    source: str
    target: str
    port_name: str
    why: str


# What exists decides what must flow; later components (exporter, jobs) add their rows here.
REQUIRED = (
    Flow("redis", "redis", "redis", "replication between data pods"),
    Flow("sentinel", "redis", "redis", "Sentinel monitors and reconfigures data pods"),
    Flow("sentinel", "sentinel", "sentinel", "Sentinel gossip and failover votes"),
    Flow("redis", "sentinel", "sentinel", "a starting data pod asks the Sentinels for the master"),
    Flow("client", "redis", "redis", "clients use the data pods"),
    Flow("client", "sentinel", "sentinel", "clients discover the master"),
    Flow("client", "endpoint", "redis", "clients that do not speak Sentinel use the endpoint"),
    Flow("endpoint", "redis", "redis", "the endpoint checks role:master and forwards"),
    # the cache's own group (cache.group: separate); absent components are skipped
    Flow("cache", "cache", "redis", "replication between cache pods"),
    Flow("sentinel", "cache", "redis", "Sentinel monitors and reconfigures cache pods"),
    Flow("cache", "sentinel", "sentinel", "a starting cache pod asks the Sentinels for its master"),
    Flow("client", "cache", "redis", "clients use the cache pods"),
    Flow("client", "endpoint", "cache", "clients reach the cache through its endpoint"),
    Flow("endpoint", "cache", "redis", "the endpoint checks the cache's role:master and forwards"),
    # the exporter sidecars (monitoring.mode operator or bundled), networkPolicy.prometheus
    Flow("prometheus", "redis", "metrics", "Prometheus scrapes the data pods' exporters"),
    Flow("prometheus", "cache", "metrics", "Prometheus scrapes the cache pods' exporters"),
    Flow("prometheus", "sentinel", "metrics", "Prometheus scrapes the Sentinels' exporters"),
    Flow("maintenance", "redis", "redis", "the cleanup jobs work on the master"),
    Flow("maintenance", "sentinel", "sentinel", "cleanup jobs ask Sentinels for the master"),
    Flow("maintenance", "cache", "redis", "the cache cleanup job works on the cache master"),
    # backup CronJob and restore Job: the RDB stream, and which replica to take it from
    Flow("backup", "redis", "redis", "the backup streams an RDB from a data pod"),
    Flow("backup", "sentinel", "sentinel", "the backup asks the Sentinels for an in-sync replica"),
    # helm test pod
    Flow("test", "endpoint", "redis", "helm test reaches the master through its endpoint"),
    Flow("test", "endpoint", "cache", "helm test reaches the cache through its endpoint"),
    Flow("test", "redis", "redis", "helm test checks the master Sentinel names"),
    Flow("test", "sentinel", "sentinel", "helm test asks the Sentinels for the master"),
    # the bundled stack (monitoring.mode bundled); the ingress controller only to exposed UIs
    Flow("bundled-prometheus", "alertmanager", "http", "Prometheus sends alerts to Alertmanager"),
    Flow("grafana", "prometheus", "http", "Grafana queries Prometheus"),
    Flow("ingress", "grafana", "http", "the ingress controller serves Grafana"),
    Flow("ingress", "prometheus", "http", "the ingress controller serves Prometheus"),
    Flow("ingress", "alertmanager", "http", "the ingress controller serves Alertmanager"),
)


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """The rendered NetworkPolicies, evaluated by the networking.k8s.io/v1 rules, let every flow
    the topology needs through (replication, Sentinel to data pods and to Sentinels, data pods to
    Sentinels, clients from `networkPolicy.clients` to both and to the master endpoint, the
    endpoint to the data pods, Prometheus from `networkPolicy.prometheus` to every exporter's
    metrics port, DNS over UDP and TCP from every pod; with the bundled stack its Prometheus to
    the exporters, Alertmanager and the API server, Grafana to Prometheus, the ingress controller
    to each exposed UI, Alertmanager to its receivers)
    and keep pods of the namespace that are not clients away from Redis and Sentinel."""
    for env, result in ctx.renders.items():
        if isinstance(result, str):
            continue
        policies = [
            Policy(o.name, o.namespace or "default", o.body["spec"])
            for o in result
            if o.kind == "NetworkPolicy"
        ]
        if not policies:
            continue  # the network-policy check reports the missing default deny
        yield from _check_environment(ctx, env, result, policies)


def _check_environment(
    ctx: ValidateContext, env: str, objects: list[RenderedObject], policies: list[Policy]
) -> Iterator[Problem]:
    pods = _workload_pods(objects)
    if not pods:
        return
    namespace = next(iter(pods.values()))[1].namespace
    peers = _client_peers(ctx, env)
    scrapers = _client_peers(ctx, env, "prometheus")

    def problem(workload: RenderedObject, side: str, message: str) -> Problem:
        return _problem(ctx, env, objects, workload, side, message)

    ingress = (ctx.values(env).get("monitoring") or {}).get("ingress") or {}
    exposed = [
        ui for ui, host in (ingress.get("hosts") or {}).items() if host and ingress.get("enabled")
    ]
    controller = [p for p in ingress.get("controller") or [] if isinstance(p, dict)]
    yield from _required_flows(
        problem,
        policies,
        pods,
        _client_pods(peers, namespace),
        _client_pods(scrapers, namespace, "prometheus"),
        (_client_pods(controller, namespace, "ingress"), exposed),
    )
    yield from bundled_egress(problem, policies, pods, ctx.values(env))
    dns = (ctx.values(env).get("networkPolicy") or {}).get("dns") or {}
    yield from _dns(problem, policies, pods, dns, namespace)
    yield from _closed_to_others(problem, policies, pods, peers, namespace)


ProblemAt = Callable[[RenderedObject, str, str], Problem]


def _required_flows(
    problem: ProblemAt,
    policies: list[Policy],
    pods: dict[str, tuple[RenderedObject, Pod]],
    clients: list[Pod],
    scrapers: list[Pod],
    controllers: tuple[list[Pod], list[str]],
) -> Iterator[Problem]:
    members: dict[str, list[tuple[RenderedObject | None, Pod]]] = {
        component: [entry] for component, entry in pods.items()
    }
    members["client"] = [(None, client) for client in clients]
    # the bundled Prometheus (a workload) beside networkPolicy.prometheus
    members["prometheus"] = [
        *members.get("prometheus", []),
        *((None, scraper) for scraper in scrapers),
    ]
    members["bundled-prometheus"] = [e for e in members["prometheus"] if e[0] is not None]
    members["ingress"] = [(None, controller) for controller in controllers[0]]
    for flow in REQUIRED:
        if flow.source == "ingress" and flow.target not in controllers[1]:
            continue
        for source_obj, source in members.get(flow.source, []):
            for target_obj, target in members.get(flow.target, []):
                port = target.named_ports.get(flow.port_name)
                if port is None or target_obj is None:
                    continue
                blocked = blocked_side(policies, source, target, *port)
                if not blocked:
                    continue
                # blame the side that blocks; a synthetic client has no template to point at
                on_source = blocked != "ingress" and source_obj is not None
                yield problem(
                    source_obj if on_source and source_obj is not None else target_obj,
                    "egress" if on_source else "ingress",
                    f"blocked ({blocked}): {_name(flow.source, source, source_obj)} -> "
                    f"{flow.target} port {port[0]}/{port[1]} ({flow.why})",
                )


def _dns(
    problem: ProblemAt,
    policies: list[Policy],
    pods: dict[str, tuple[RenderedObject, Pod]],
    dns: dict[str, Any],
    namespace: str,
) -> Iterator[Problem]:
    """Every pod reaches the cluster DNS (`networkPolicy.dns`) over UDP and TCP, and no other
    address on that port."""
    port = int(dns.get("port", 53))
    servers = _client_pods([p for p in dns.get("peers", []) if isinstance(p, dict)], namespace)
    elsewhere = Pod("not-the-cluster-dns", "elsewhere", {}, "203.0.113.53", {NAME_LABEL: "x"})
    for component, (obj, pod) in pods.items():
        for server in servers or [DNS]:
            for proto in ("UDP", "TCP"):
                if blocked_side(policies, pod, server, port, proto):
                    yield problem(
                        obj,
                        "egress",
                        f"blocked: {component} -> DNS {port}/{proto} (pod and Service names "
                        "resolve over UDP, large answers over TCP)",
                    )
        if not blocked_side(policies, pod, elsewhere, port, "UDP"):
            yield problem(
                obj,
                "egress",
                f"open: {component} -> any address on port {port}/UDP, not only the cluster DNS",
            )


def _closed_to_others(
    problem: ProblemAt,
    policies: list[Policy],
    pods: dict[str, tuple[RenderedObject, Pod]],
    peers: list[dict[str, Any]],
    namespace: str,
) -> Iterator[Problem]:
    outsider = Pod(
        "not-a-client", namespace, {"app": "unrelated"}, "10.244.250.250", {NAME_LABEL: namespace}
    )
    if any(_peer_selects(peer, namespace, outsider) for peer in peers):
        return  # every pod of the namespace is a client by configuration
    for component, (obj, pod) in pods.items():
        for port in pod.named_ports.values():
            if not blocked_side(policies, outsider, pod, *port):
                yield problem(
                    obj,
                    "ingress",
                    f"open: a pod of namespace {namespace} that is no client reaches "
                    f"{component} port {port[0]}/{port[1]}",
                )


def _name(role: str, pod: Pod, workload: RenderedObject | None) -> str:
    """A workload by its component; a peer from the values (no workload) by what it selects."""
    if workload is None:
        return f"{role} {dict(pod.labels)} in {pod.namespace}"
    return role


def _template(obj: RenderedObject) -> dict[str, Any] | None:
    """A workload's pod template, or a bare Pod (the helm test pod) as its own template."""
    return obj.body if obj.kind == "Pod" else pod_template(obj.body)


def _labels(obj: RenderedObject) -> dict[str, str]:
    template = _template(obj) or {}
    labels: dict[str, str] = template.get("metadata", {}).get("labels", {})
    return labels


def _workload_pods(objects: list[RenderedObject]) -> dict[str, tuple[RenderedObject, Pod]]:
    """One representative pod per component, from the workloads' pod templates."""
    pods: dict[str, tuple[RenderedObject, Pod]] = {}
    for index, obj in enumerate(objects):
        template = _template(obj)
        if template is None:
            continue
        labels = _labels(obj)
        component = labels.get(COMPONENT, obj.name)
        namespace = obj.namespace or "default"
        # A port that is not an integer is kube-schema's finding; here it names no port.
        named = {
            port["name"]: (port["containerPort"], port.get("protocol", "TCP"))
            for container in template["spec"].get("containers", [])
            for port in container.get("ports", [])
            if "name" in port
            and isinstance(port.get("containerPort"), int)
            and not isinstance(port.get("containerPort"), bool)
        }
        ip = f"10.244.{index // 250}.{index % 250 + 1}"
        pods[component] = (
            obj,
            Pod(obj.name, namespace, labels, ip, {NAME_LABEL: namespace}, named),
        )
    return pods


def _client_peers(ctx: ValidateContext, env: str, key: str = "clients") -> list[dict[str, Any]]:
    """The peers of `networkPolicy.<key>`: the clients, or the Prometheus that scrapes."""
    values = ctx.values(env)
    network = values.get("networkPolicy") or {}
    peers = network.get(key) or []
    return [p for p in peers if isinstance(p, dict)]


def _peer_selects(peer: dict[str, Any], namespace: str, pod: Pod) -> bool:
    """Whether a `networkPolicy.clients` entry (a peer of the release's policies) selects `pod`."""
    return peer_matches(peer, Policy("clients", namespace, {}), pod)


def _satisfying_labels(selector: dict[str, Any] | None) -> dict[str, str]:
    """Labels a pod would carry to be selected (matchLabels, In, Exists)."""
    labels = dict((selector or {}).get("matchLabels") or {})
    for expression in (selector or {}).get("matchExpressions") or []:
        if expression["operator"] == "In":
            labels[expression["key"]] = expression["values"][0]
        elif expression["operator"] == "Exists":
            labels[expression["key"]] = "present"
    return labels if matches_selector(selector, labels) else {}


def _client_pods(peers: list[dict[str, Any]], namespace: str, kind: str = "client") -> list[Pod]:
    """One pod per `networkPolicy.clients` (or `.prometheus`) entry, carrying the labels that
    entry selects."""
    clients = []
    for index, peer in enumerate(peers):
        if "ipBlock" in peer:
            network = ipaddress.ip_network(peer["ipBlock"]["cidr"], strict=False)
            host = next(iter(network.hosts()), network.network_address)
            clients.append(Pod(f"{kind}-{index}", "outside", {}, str(host)))
            continue
        labels = _satisfying_labels(peer.get("podSelector"))
        client_namespace, namespace_labels = namespace, {NAME_LABEL: namespace}
        if "namespaceSelector" in peer:
            namespace_labels = _satisfying_labels(peer["namespaceSelector"])
            client_namespace = namespace_labels.get(NAME_LABEL, f"{kind}s-{index}")
            namespace_labels.setdefault(NAME_LABEL, client_namespace)
        clients.append(
            Pod(
                f"{kind}-{index}",
                client_namespace,
                labels,
                f"10.245.{1 if kind == 'prometheus' else 0}.{index + 1}",
                namespace_labels,
            )
        )
    return clients


def _problem(
    ctx: ValidateContext,
    env: str,
    objects: list[RenderedObject],
    workload: RenderedObject,
    side: str,
    message: str,
) -> Problem:
    """At the component's own policy (its podSelector names the component) that selects the
    workload's pods for that side, else at the workload. A policy shared by several components
    (the jobs' ingress) only adds flows: it is never the place to fix a missing one."""
    labels = _labels(workload)
    direction = "Ingress" if side == "ingress" else "Egress"
    for obj in objects:
        if obj.kind != "NetworkPolicy":
            continue
        policy = Policy(obj.name, obj.namespace or "default", obj.body["spec"])
        selector = obj.body["spec"].get("podSelector") or {}
        if (
            direction in policy.types()
            and obj.body["spec"].get(side)
            and COMPONENT in (selector.get("matchLabels") or {})
            and matches_selector(selector, labels)
        ):
            return ctx.object_problem(env, obj, f"spec.{side}", message)
    return ctx.object_problem(env, workload, "", message)
