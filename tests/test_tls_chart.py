"""TLS in the rendered chart: cert-manager objects where TLS is on (a self-signed CA bootstrap or a
given issuer), SANs derived from the topology, the certificate Secret mounted by every pod, TLS
only in the scripts' configuration, and NetworkPolicies unchanged (same ports)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from chartgen.engines import helm
from chartgen.validate.checks.crd_schema import crd_schema
from tests.conftest import CHART, install_values

NS, FULL = helm.NAMESPACE, f"{helm.RELEASE}-session-database"
SUFFIX = f"{NS}.svc.cluster.local"


def render(environment: str, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [
        o.body for o in helm.render(CHART, environment, extra=install_values(environment, extra))
    ]


def cert_manager(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (o["kind"], o["metadata"]["name"]): o
        for o in objects
        if o["apiVersion"].startswith("cert-manager.io/")
    }


def test_production_bootstraps_a_ca_and_issues_the_server_certificate() -> None:
    objects = cert_manager(render("production"))
    assert set(objects) == {
        ("Issuer", f"{FULL}-selfsigned"),
        ("Certificate", f"{FULL}-ca"),
        ("Issuer", f"{FULL}-ca"),
        ("Certificate", f"{FULL}-tls"),
    }
    for obj in objects.values():
        assert obj["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1"
        schema = crd_schema(obj["apiVersion"], obj["kind"])
        assert schema is not None
        assert list(jsonschema.Draft7Validator(schema).iter_errors(obj)) == []
    ca = objects[("Certificate", f"{FULL}-ca")]["spec"]
    assert ca["isCA"] is True and ca["issuerRef"]["name"] == f"{FULL}-selfsigned"
    assert objects[("Issuer", f"{FULL}-ca")]["spec"]["ca"]["secretName"] == ca["secretName"]
    server = objects[("Certificate", f"{FULL}-tls")]["spec"]
    assert server["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "Issuer",
        "name": f"{FULL}-ca",
    }
    assert (server["duration"], server["renewBefore"]) == ("2160h", "360h")
    # the master endpoint passes client TLS through: its Service name is the server's too
    # (production keeps the cache on a group of its own: its pods and its endpoint Service)
    services = [f"{FULL}-redis", f"{FULL}-service", f"{FULL}-sentinel", f"{FULL}-cache-service"]
    assert set(server["dnsNames"]) == {
        f"*.{FULL}-redis-headless.{SUFFIX}",
        f"*.{FULL}-sentinel-headless.{SUFFIX}",
        f"*.{FULL}-cache-headless.{SUFFIX}",
        "localhost",
        *(f"{s}{tail}" for s in services for tail in ("", f".{NS}", f".{NS}.svc", f".{SUFFIX}")),
    }
    assert set(server["ipAddresses"]) == {"127.0.0.1", "::1"}


def test_pod_names_announced_by_the_scripts_are_covered() -> None:
    objects = render("production")
    (server,) = [
        o for o in objects if o["kind"] == "Certificate" and o["metadata"]["name"].endswith("-tls")
    ]
    wildcards = {n[2:] for n in server["spec"]["dnsNames"] if n.startswith("*.")}
    for sts in (o for o in objects if o["kind"] == "StatefulSet"):
        env = {
            e["name"]: e.get("value")
            for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["ANNOUNCE_HOST"].split(".", 1)[1] in wildcards


def test_a_given_issuer_signs_and_no_ca_is_bootstrapped() -> None:
    extra = {"tls": {"issuer": {"kind": "ClusterIssuer", "name": "corp-ca"}}}
    objects = cert_manager(render("production", extra))
    assert set(objects) == {("Certificate", f"{FULL}-tls")}
    assert objects[("Certificate", f"{FULL}-tls")]["spec"]["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": "corp-ca",
    }


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_every_pod_mounts_the_certificate_and_gets_tls_dir(environment: str) -> None:
    # the Redis StatefulSets (not staging's bundled Prometheus and Alertmanager, which speak
    # plain HTTP inside their NetworkPolicies)
    statefulsets = [
        o
        for o in render(environment)
        if o["kind"] == "StatefulSet"
        and o["metadata"]["labels"]["app.kubernetes.io/component"] in ("redis", "cache", "sentinel")
    ]
    # production runs the cache on a group of its own: a third StatefulSet
    assert len(statefulsets) == (3 if environment == "production" else 2)
    for sts in statefulsets:
        pod = sts["spec"]["template"]["spec"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "tls"]
        assert volume["secret"]["secretName"] == f"{FULL}-tls"
        assert volume["secret"]["defaultMode"] == 0o440
        assert {i["key"] for i in volume["secret"]["items"]} == {"tls.crt", "tls.key", "ca.crt"}
        container = pod["containers"][0]
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "tls"]
        assert mount["readOnly"] is True
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["TLS_DIR"] == mount["mountPath"]


def test_development_renders_no_tls() -> None:
    objects = render("development")
    assert not cert_manager(objects)
    for sts in (o for o in objects if o["kind"] == "StatefulSet"):
        pod = sts["spec"]["template"]["spec"]
        assert "tls" not in {v["name"] for v in pod["volumes"]}
        assert "TLS_DIR" not in {e["name"] for e in pod["containers"][0]["env"]}


def test_network_policies_and_ports_do_not_change_with_tls() -> None:
    def ports_and_policies(tls: bool) -> list[dict[str, Any]]:
        objects = render("production", {"tls": {"enabled": tls}})
        return [
            o if o["kind"] == "NetworkPolicy" else o["spec"]
            for o in objects
            if o["kind"] in ("NetworkPolicy", "Service")
        ]

    assert ports_and_policies(True) == ports_and_policies(False)


def test_the_scripts_serve_tls_only_when_tls_dir_is_set() -> None:
    (configmap,) = [
        o
        for o in render("production")
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == f"{FULL}-redis"
    ]
    auth = configmap["data"]["auth.sh"]
    for line in ("port 0", "tls-port $1", "tls-replication yes", "tls-auth-clients no"):
        assert f'echo "{line}"' in auth
    assert 'set -- --tls --cacert "$TLS_DIR/ca.crt" "$@"' in auth
    watcher = configmap["data"]["watch-auth.sh"]
    assert "CONFIG SET tls-cert-file" in watcher
