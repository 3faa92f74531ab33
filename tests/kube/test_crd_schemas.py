"""The shipped CRD schemas (schemas/crds/, derived by scripts/derive_crd_schemas.py) and the real
API server with the upstream CRDs agree on a corpus of good and broken objects: what the chart
renders for every environment, the generated Argo CD objects, hand-written objects of every kind
and breakages of each (unknown, nested unknown and metadata fields, wrong types, missing required
fields, bad enums, int-or-string, patterns, formats, null). The server's verdict is a server-side
apply dry-run with fieldValidation=Strict. Objects that break only a CEL rule
(x-kubernetes-validations), which JSON Schema cannot evaluate, are listed as known differences:
the schema accepts them, the server refuses them, and the test asserts exactly that."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.engines.manifests import load_objects
from chartgen.validate.checks.crd_schema import validator
from chartgen.validate.checks.kube_schema import is_crd_kind
from tests.conftest import CHART, ENVIRONMENTS, REPO, install_values
from tests.kube.controlplane import ControlPlane
from tests.kube.strict_apply import strict_dry_run

NAMESPACE = "crd-corpus"
ARGOCD = REPO / "generated" / "k8s" / "argocd"
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Case:
    id: str
    obj: dict[str, Any]
    accepted: bool  # the verdict both must give
    cel_only: bool = False  # broken only by a CEL rule: schema accepts, server refuses


def obj(api_version: str, kind: str, spec: dict[str, Any], namespaced: bool = True) -> Any:
    meta: dict[str, Any] = {"name": f"corpus-{kind.lower()}"}
    if namespaced:
        meta["namespace"] = NAMESPACE
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec}


def set_at(path: Path_, value: Any) -> Callable[[Any], None]:
    def change(body: Any) -> None:
        node = body
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


def drop(path: Path_) -> Callable[[Any], None]:
    def change(body: Any) -> None:
        node = body
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return change


VAULT = {
    "provider": {
        "vault": {
            "server": "https://vault.example.com",
            "path": "secret",
            "version": "v2",
            "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token"}},
        }
    }
}
CERT = {
    "secretName": "corpus-tls",
    "issuerRef": {"name": "corpus-issuer", "kind": "Issuer"},
    "dnsNames": ["redis.example.com"],
    "duration": "2160h",
}
GOOD: dict[str, dict[str, Any]] = {
    "PrometheusRule": obj(
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        {
            "groups": [
                {
                    "name": "redis",
                    "rules": [
                        {
                            "alert": "RedisDown",
                            "expr": "redis_up == 0",
                            "for": "5m",
                            "labels": {"severity": "critical"},
                        }
                    ],
                }
            ]
        },
    ),
    "ServiceMonitor": obj(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        {
            "selector": {"matchLabels": {"app": "redis"}},
            "endpoints": [{"port": "metrics", "interval": "30s", "scheme": "http"}],
        },
    ),
    "PodMonitor": obj(
        "monitoring.coreos.com/v1",
        "PodMonitor",
        {
            "selector": {"matchLabels": {"app": "redis"}},
            "podMetricsEndpoints": [{"port": "metrics", "interval": "30s"}],
        },
    ),
    "AlertmanagerConfig": obj(
        "monitoring.coreos.com/v1alpha1",
        "AlertmanagerConfig",
        {"route": {"receiver": "ops", "groupBy": ["alertname"]}, "receivers": [{"name": "ops"}]},
    ),
    "Certificate": obj("cert-manager.io/v1", "Certificate", CERT),
    "Issuer": obj("cert-manager.io/v1", "Issuer", {"selfSigned": {}}),
    "ClusterIssuer": obj(
        "cert-manager.io/v1", "ClusterIssuer", {"ca": {"secretName": "ca"}}, False
    ),
    "ExternalSecret": obj(
        "external-secrets.io/v1",
        "ExternalSecret",
        {
            "refreshInterval": "1h",
            "secretStoreRef": {"name": "vault-backend", "kind": "SecretStore"},
            "target": {"name": "session-database-secret"},
            "data": [
                {
                    "secretKey": "redis-password",
                    "remoteRef": {"key": "session-database", "property": "redis-password"},
                }
            ],
        },
    ),
    "SecretStore": obj("external-secrets.io/v1", "SecretStore", VAULT),
    "ClusterSecretStore": obj("external-secrets.io/v1", "ClusterSecretStore", VAULT, False),
    "AppProject": obj(
        "argoproj.io/v1alpha1",
        "AppProject",
        {
            "sourceRepos": ["*"],
            "destinations": [
                {"server": "https://kubernetes.default.svc", "namespace": "session-database"}
            ],
        },
    ),
}

# Breakages every kind gets (paths that exist in every object above).
COMMON: list[tuple[str, Callable[[Any], None]]] = [
    ("unknown-top-level-field", set_at(("bogus",), 1)),
    ("unknown-spec-field", set_at(("spec", "bogusField"), "x")),
    ("unknown-metadata-field", set_at(("metadata", "bogus"), "x")),
    ("bad-name", set_at(("metadata", "name"), "Not_A_Name")),
    ("label-value-not-a-string", set_at(("metadata", "labels"), {"app": 1})),
    ("bad-label-value", set_at(("metadata", "labels"), {"app": "two words"})),
    ("annotation-not-a-string", set_at(("metadata", "annotations"), {"a": True})),
    ("spec-not-an-object", set_at(("spec",), "text")),
    ("wrong-kind-version", set_at(("apiVersion",), "example.invalid/v1")),
]

# Breakages of one kind: (kind, id, change, accepted).
SPECIFIC: list[tuple[str, str, Callable[[Any], None], bool]] = [
    ("PrometheusRule", "missing-expr", drop(("spec", "groups", 0, "rules", 0, "expr")), False),
    (
        "PrometheusRule",
        "expr-int-or-string",
        set_at(("spec", "groups", 0, "rules", 0, "expr"), 1),
        True,
    ),
    ("PrometheusRule", "expr-list", set_at(("spec", "groups", 0, "rules", 0, "expr"), [1]), False),
    (
        "PrometheusRule",
        "bad-duration",
        set_at(("spec", "groups", 0, "rules", 0, "for"), "5 min"),
        False,
    ),
    (
        "PrometheusRule",
        "nested-unknown",
        set_at(("spec", "groups", 0, "rules", 0, "severity"), "x"),
        False,
    ),
    (
        "PrometheusRule",
        "labels-not-strings",
        set_at(("spec", "groups", 0, "rules", 0, "labels"), {"a": 1}),
        False,
    ),
    ("ServiceMonitor", "bad-scheme-enum", set_at(("spec", "endpoints", 0, "scheme"), "ftp"), False),
    (
        "ServiceMonitor",
        "target-port-int",
        set_at(("spec", "endpoints", 0, "targetPort"), 9121),
        True,
    ),
    (
        "ServiceMonitor",
        "target-port-name",
        set_at(("spec", "endpoints", 0, "targetPort"), "metrics"),
        True,
    ),
    (
        "ServiceMonitor",
        "target-port-bool",
        set_at(("spec", "endpoints", 0, "targetPort"), True),
        False,
    ),
    ("ServiceMonitor", "missing-selector", drop(("spec", "selector")), False),
    ("ServiceMonitor", "endpoints-null", set_at(("spec", "endpoints"), None), False),
    ("PodMonitor", "port-as-int", set_at(("spec", "podMetricsEndpoints", 0, "port"), 9121), False),
    (
        "PodMonitor",
        "nested-unknown",
        set_at(("spec", "podMetricsEndpoints", 0, "portName"), "x"),
        False,
    ),
    ("AlertmanagerConfig", "receiver-without-name", set_at(("spec", "receivers", 0), {}), False),
    ("Certificate", "missing-secret-name", drop(("spec", "secretName")), False),
    ("Certificate", "duration-int", set_at(("spec", "duration"), 5), False),
    ("Certificate", "duration-null", set_at(("spec", "duration"), None), False),
    (
        "Certificate",
        "bad-key-algorithm",
        set_at(("spec", "privateKey"), {"algorithm": "DSA"}),
        False,
    ),
    ("Certificate", "is-ca-string", set_at(("spec", "isCA"), "true"), False),
    ("Certificate", "history-float", set_at(("spec", "revisionHistoryLimit"), 1.5), False),
    (
        "Certificate",
        "history-int32-overflow",
        set_at(("spec", "revisionHistoryLimit"), 2**40),
        False,
    ),
    ("Certificate", "nested-unknown", set_at(("spec", "issuerRef", "namespace"), "x"), False),
    ("Issuer", "two-issuer-types", set_at(("spec", "ca"), {"secretName": "ca"}), True),
    ("Issuer", "vault-missing-server", set_at(("spec",), {"vault": {"path": "pki"}}), False),
    ("ClusterIssuer", "ca-secret-int", set_at(("spec", "ca", "secretName"), 1), False),
    (
        "ExternalSecret",
        "bad-store-kind",
        set_at(("spec", "secretStoreRef", "kind"), "Vault"),
        False,
    ),
    (
        "ExternalSecret",
        "remote-ref-unknown",
        set_at(("spec", "data", 0, "remoteRef", "field"), "x"),
        False,
    ),
    ("ExternalSecret", "missing-remote-key", drop(("spec", "data", 0, "remoteRef", "key")), False),
    (
        "ExternalSecret",
        "bad-creation-policy",
        set_at(("spec", "target", "creationPolicy"), "Always"),
        False,
    ),
    (
        "SecretStore",
        "vault-version-enum",
        set_at(("spec", "provider", "vault", "version"), "v3"),
        False,
    ),
    ("SecretStore", "vault-missing-server", drop(("spec", "provider", "vault", "server")), False),
    ("ClusterSecretStore", "conditions-not-list", set_at(("spec", "conditions"), {"a": 1}), False),
    (
        "AppProject",
        "destination-unknown",
        set_at(("spec", "destinations", 0, "cluster"), "x"),
        False,
    ),
    ("AppProject", "source-repos-string", set_at(("spec", "sourceRepos"), "*"), False),
]

# Broken only by a CEL rule: the schema cannot see it, the server refuses it.
CEL_ONLY: list[tuple[str, str, Callable[[Any], None]]] = [
    (
        "Issuer",
        "venafi-two-backends",
        set_at(
            ("spec",),
            {
                "venafi": {
                    "zone": "z",
                    "tpp": {"url": "https://tpp.example.com", "credentialsRef": {"name": "c"}},
                    "cloud": {"apiTokenSecretRef": {"name": "t", "key": "k"}},
                }
            },
        ),
    ),
    (
        "SecretStore",
        "crd-provider-without-auth",
        set_at(
            ("spec", "provider"),
            {"crd": {"resource": {"group": "example.com", "version": "v1", "kind": "Thing"}}},
        ),
    ),
]

# Breakages of the generated Argo CD objects (file, id, change).
ARGO_BROKEN: list[tuple[str, str, Callable[[Any], None]]] = [
    (
        "application.yaml",
        "prune-string",
        set_at(("spec", "syncPolicy", "automated", "prune"), "yes"),
    ),
    (
        "application.yaml",
        "sync-unknown",
        set_at(("spec", "syncPolicy", "automated", "force"), True),
    ),
    ("application.yaml", "missing-destination", drop(("spec", "destination"))),
    ("application.yaml", "missing-project", drop(("spec", "project"))),
    (
        "application.yaml",
        "value-files-string",
        set_at(("spec", "source", "helm", "valueFiles"), "v.yaml"),
    ),
    (
        "application.yaml",
        "ns-labels-not-strings",
        set_at(("spec", "syncPolicy", "managedNamespaceMetadata", "labels"), {"a": 1}),
    ),
    ("applicationset.yaml", "missing-template", drop(("spec", "template"))),
    ("applicationset.yaml", "list-unknown", set_at(("spec", "generators", 0, "list", "items"), [])),
    (
        "applicationset.yaml",
        "template-spec-unknown",
        set_at(("spec", "template", "spec", "sources2"), []),
    ),
]


def _namespaced(body: dict[str, Any]) -> dict[str, Any]:
    """The object in the corpus namespace (the chart renders into its release namespace)."""
    body = copy.deepcopy(body)
    if "namespace" in body.get("metadata", {}):
        body["metadata"]["namespace"] = NAMESPACE
    return body


def chart_objects() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every custom resource the chart renders, for every environment."""
    for env in ("defaults", *ENVIRONMENTS):
        name = None if env == "defaults" else env
        for rendered in helm.render(CHART, name, extra=install_values(name)):
            if is_crd_kind(rendered.body["apiVersion"]):
                yield f"chart-{env}-{rendered.kind}-{rendered.name}", _namespaced(rendered.body)


def argo_objects() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(ARGOCD.glob("*.yaml")):
        (body,) = load_objects(path.read_text("utf-8"))
        found[path.name] = body
    assert "application.yaml" in found, "run `chartgen build`: generated/k8s/argocd is missing"
    return found


def corpus() -> list[Case]:
    cases = [Case(f"good-{kind}", body, True) for kind, body in GOOD.items()]
    cases += [Case(name, body, True) for name, body in chart_objects()]
    argo = argo_objects()
    cases += [Case(f"argocd-{name}", body, True) for name, body in argo.items()]
    for kind, body in GOOD.items():
        for label, change in COMMON:
            broken = copy.deepcopy(body)
            change(broken)
            cases.append(Case(f"{kind}-{label}", broken, False))
    for kind, label, change, accepted in SPECIFIC:
        broken = copy.deepcopy(GOOD[kind])
        change(broken)
        cases.append(Case(f"{kind}-{label}", broken, accepted))
    for kind, label, change in CEL_ONLY:
        broken = copy.deepcopy(GOOD[kind])
        change(broken)
        cases.append(Case(f"{kind}-{label}", broken, False, cel_only=True))
    for name, label, change in ARGO_BROKEN:
        broken = copy.deepcopy(argo[name])
        change(broken)
        cases.append(Case(f"argocd-{name}-{label}", broken, False))
    return cases


CORPUS = corpus()


def schema_verdict(body: dict[str, Any]) -> tuple[bool, str]:
    found = validator(str(body.get("apiVersion")), str(body.get("kind")))
    if found is None:
        return False, "no schema for this apiVersion/kind"
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in found.iter_errors(body)
    ]
    return not errors, "; ".join(errors)


def cel_messages(body: dict[str, Any]) -> list[str]:
    """The messages of every CEL rule the shipped schema records for the object's kind."""
    from chartgen.validate.checks.crd_schema import crd_schema

    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for rule in node.get("x-kubernetes-validations", []):
                found.append(str(rule.get("message") or rule["rule"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(crd_schema(str(body["apiVersion"]), str(body["kind"])))
    return found


@pytest.fixture(scope="module")
def corpus_kube(kube: ControlPlane) -> ControlPlane:
    client = kube.client()
    for name in (NAMESPACE, "argocd"):
        client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return kube


def server_verdict(kube: ControlPlane, body: dict[str, Any]) -> tuple[bool, str]:
    from chartgen.engines.kube_api import KubeAPIError

    client = kube.client()
    try:
        verdict = strict_dry_run(client, body)
    except KubeAPIError as error:  # discovery: the server serves no such apiVersion/kind
        assert error.status == 404, error
        return False, error.message
    return verdict.accepted, verdict.message


def test_the_corpus_covers_every_kind_and_the_chart() -> None:
    kinds = {case.obj["kind"] for case in CORPUS if case.accepted}
    assert kinds >= {*GOOD, "Application", "ApplicationSet"}
    chart = [c for c in CORPUS if c.id.startswith("chart-")]
    assert {c.obj["kind"] for c in chart} >= {"Certificate", "Issuer", "ExternalSecret"}
    assert sum(not c.accepted for c in CORPUS) >= 140


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_schema_and_api_server_agree(corpus_kube: ControlPlane, case: Case) -> None:
    schema_ok, schema_why = schema_verdict(case.obj)
    server_ok, server_why = server_verdict(corpus_kube, case.obj)
    if case.cel_only:
        # known difference: JSON Schema cannot evaluate CEL
        assert (schema_ok, server_ok) == (True, False), (schema_why, server_why)
        rules = cel_messages(case.obj)
        assert any(message in server_why for message in rules), (server_why, rules)
        return
    assert schema_ok == case.accepted, f"schema: {schema_why or 'accepted'}"
    assert server_ok == case.accepted, f"server: {server_why or 'accepted'}"


def test_generated_argocd_objects_are_stored_as_written(corpus_kube: ControlPlane) -> None:
    """Applied for real (not a dry run), the generated Application and ApplicationSet objects
    come back from the server with the spec exactly as written: nothing pruned or rewritten."""
    client = corpus_kube.client()
    for name, body in argo_objects().items():
        reply = strict_dry_run(client, body)  # Strict first: an unknown field would be pruned
        assert reply.accepted, (name, reply.message)
        client.apply(body)
        stored = client.get(body)
        assert stored["spec"] == body["spec"], name
        assert stored["metadata"]["labels"] == body["metadata"]["labels"], name
