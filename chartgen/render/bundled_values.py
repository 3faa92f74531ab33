"""Helm values of the bundled monitoring stack (monitoring.bundled: Prometheus, Alertmanager,
Grafana in the release namespace) and of its Ingress (monitoring.ingress, set by the spec)."""

from __future__ import annotations

from typing import Any

from chartgen.render.extension_values import DIGEST
from chartgen.render.params import Group, Node, Param
from chartgen.render.value_parts import FREE_OBJECT, PORT, QUANTITY, STRING
from chartgen.topology.constraints import spec_property
from chartgen.topology.ingress import SPEC, UIS, Ingress

PEERS: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
DURATION: dict[str, Any] = {"type": "string", "pattern": "^([0-9]+(ms|s|m|h|d|w|y))+$"}
# Pinned releases (kube-score and checkov ask for a digest too: monitoring.bundled.*.image.digest).
IMAGES = {
    "prometheus": ("prom/prometheus", "v2.53.4"),
    "alertmanager": ("prom/alertmanager", "v0.28.1"),
    "grafana": ("grafana/grafana", "12.0.2"),
}
# requests, limits: cpu, memory, ephemeral-storage (the emptyDirs of /tmp and the logs)
RESOURCES = {
    "prometheus": (("200m", "1Gi", "64Mi"), ("1", "2Gi", "256Mi")),
    "alertmanager": (("20m", "64Mi", "32Mi"), ("200m", "128Mi", "64Mi")),
    "grafana": (("100m", "256Mi", "64Mi"), ("500m", "512Mi", "256Mi")),
}
STORAGE = {"prometheus": "10Gi", "alertmanager": "1Gi", "grafana": "2Gi"}
ANYWHERE = [{"ipBlock": {"cidr": "0.0.0.0/0"}}]


def _image(component: str) -> Group:
    repository, tag = IMAGES[component]
    return Group(
        f"The {component} image (pulled with image.pullPolicy).",
        {
            "repository": Param(
                repository, "Image repository.", {"type": "string", "minLength": 1}
            ),
            "tag": Param(
                tag,
                "Pinned image tag.",
                {"type": "string", "minLength": 1, "not": {"enum": ["latest"]}},
            ),
            "digest": Param(
                "", "Image digest (sha256:...).", {"type": "string", "pattern": DIGEST}
            ),
        },
    )


def _resources(component: str) -> Group:
    names = ("cpu", "memory", "ephemeral-storage")

    def pair(values: tuple[str, str, str], what: str) -> Group:
        return Group(
            what,
            {n: Param(v, f"{n} quantity.", QUANTITY) for n, v in zip(names, values, strict=True)},
        )

    requests, limits = RESOURCES[component]
    return Group(
        f"{component.capitalize()} container resources.",
        {
            "requests": pair(requests, "Reserved by the scheduler."),
            "limits": pair(limits, "Hard limits."),
        },
    )


def _storage(component: str, what: str) -> Group:
    return Group(
        f"The {component} volume: {what}.",
        {
            "size": Param(STORAGE[component], "Claim size.", QUANTITY),
            "storageClass": Param("", "StorageClass; empty: the cluster's default.", STRING),
        },
    )


def _component(component: str, what: str, extra: dict[str, Node]) -> Group:
    return Group(
        what,
        {
            "image": _image(component),
            "resources": _resources(component),
            **extra,
        },
    )


def bundled_values() -> dict[str, Node]:
    prometheus = _component(
        "prometheus",
        "Prometheus: one replica (a StatefulSet), scraping the exporters found by Kubernetes "
        "service discovery in the release namespace only (a Role, no ClusterRole).",
        {
            "retention": Param(
                "15d", "How long series are kept (--storage.tsdb.retention.time).", DURATION
            ),
            "retentionSize": Param(
                "8GB",
                "Most disk the series may take (--storage.tsdb.retention.size); keep it below "
                "storage.size, or the volume fills before retention deletes anything.",
                {"type": "string", "pattern": "^[0-9]+(B|KB|MB|GB|TB|PB)$"},
            ),
            "evaluationInterval": Param(
                "30s", "How often the alert rules are evaluated.", DURATION
            ),
            "storage": _storage("prometheus", "the time series database"),
            "apiServer": Group(
                "Where service discovery reaches the Kubernetes API (the Prometheus pod's egress).",
                {
                    "peers": Param(
                        ANYWHERE,
                        "NetworkPolicy `to` peers of the API server; narrow this to its "
                        "address(es), e.g. [{ipBlock: {cidr: 10.0.0.1/32}}].",
                        PEERS,
                    ),
                    "ports": Param(
                        [443, 6443],
                        "API server ports: 443 through the kubernetes Service, 6443 on the "
                        "control-plane nodes (NetworkPolicies see the translated address).",
                        {"type": "array", "minItems": 1, "items": PORT},
                    ),
                },
            ),
        },
    )
    alertmanager = _component(
        "alertmanager",
        "Alertmanager: one replica (a StatefulSet; clustering off), silences and notification "
        "state on a volume; routes are monitoring.alertmanager.",
        {
            "storage": _storage("alertmanager", "silences and the notification log"),
            "egress": Group(
                "Where the receivers are (monitoring.alertmanager.receivers webhook URLs).",
                {
                    "peers": Param(ANYWHERE, "NetworkPolicy `to` peers of the receivers.", PEERS),
                    "ports": Param(
                        [443], "Receiver ports.", {"type": "array", "minItems": 1, "items": PORT}
                    ),
                },
            ),
        },
    )
    grafana = _component(
        "grafana",
        "Grafana: one replica (a Deployment with a volume), Prometheus as its datasource, the "
        "dashboards of the ConfigMap <fullname>-dashboards provisioned.",
        {
            "storage": _storage("grafana", "users, preferences and annotations"),
            "adminUser": Param(
                "admin", "Grafana's admin user name.", {"type": "string", "minLength": 1}
            ),
            "adminPassword": Param(
                "",
                "The admin password as a value (--set only); empty: from existingSecret, else "
                "the auth source's Secret key GRAFANA_ADMIN_PASSWORD (values: derived from "
                "redis.auth.password). Never `admin`.",
                STRING,
            ),
            "existingSecret": Param(
                "",
                "A Secret holding the admin password (key existingSecretKey); overrides the "
                "auth source.",
                STRING,
            ),
            "existingSecretKey": Param(
                "GRAFANA_ADMIN_PASSWORD", "Key of the password in existingSecret.", STRING
            ),
        },
    )
    return {
        "bundled": Group(
            "The bundled stack (monitoring.mode bundled): Prometheus, Alertmanager and Grafana in "
            "the release namespace, Services prometheus-service:9090, alertmanager-service:9093 "
            "and grafana-service:3000 for a release named like the chart (<fullname>-<ui>-service "
            "otherwise).",
            {"prometheus": prometheus, "alertmanager": alertmanager, "grafana": grafana},
        )
    }


def _spec_param(value: Any, *path: str) -> Param:
    node = spec_property((*SPEC, *path))
    schema = {k: v for k, v in node.items() if k not in ("description", "default")}
    return Param(value, node["description"], schema, (*SPEC, *path))


def ingress_values(ingress: Ingress) -> dict[str, Node]:
    hosts = dict(ingress.hosts)
    return {
        "ingress": Group(
            spec_property(SPEC)["description"],
            {
                "enabled": _spec_param(ingress.enabled, "enabled"),
                "className": _spec_param(ingress.class_name, "className"),
                "hosts": Group(
                    spec_property((*SPEC, "hosts"))["description"],
                    {ui: _spec_param(hosts[ui], "hosts", ui) for ui in UIS},
                ),
                "tls": Group(
                    spec_property((*SPEC, "tls"))["description"],
                    {
                        "issuerKind": _spec_param(ingress.issuer_kind, "tls", "issuerKind"),
                        "issuerName": _spec_param(ingress.issuer_name, "tls", "issuerName"),
                    },
                ),
                "auth": Group(
                    spec_property((*SPEC, "auth"))["description"],
                    {
                        "type": _spec_param(ingress.auth_type, "auth", "type"),
                        "secretName": _spec_param(ingress.auth_secret, "auth", "secretName"),
                        "url": _spec_param(ingress.auth_url, "auth", "url"),
                        "signin": _spec_param(ingress.auth_signin, "auth", "signin"),
                    },
                ),
                "annotations": Param({}, "Further annotations of the Ingresses.", FREE_OBJECT),
                "controller": Param(
                    [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}
                            },
                            "podSelector": {
                                "matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}
                            },
                        }
                    ],
                    "NetworkPolicy `from` peers of the ingress controller, admitted to the UIs' "
                    "ports (default: ingress-nginx in namespace ingress-nginx).",
                    {"type": "array", "minItems": 1, "items": {"type": "object"}},
                ),
            },
        )
    }
