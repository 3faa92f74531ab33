"""The master endpoint as rendered: the seed's REDIS_HOST for a release named like the chart, the
HAProxy config (accepted by the real HAProxy, with and without TLS), the Service's selector in
each mode, and the spec parameters reaching the config."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from chartgen.engines import helm
from tests.conftest import CHART, install_values
from tests.live.endpoint import require_haproxy

# The deployment guide's .env for applications.
SEED_HOST = "session-database-service.session-database.svc.cluster.local"
SEED = {"release": "session-database", "namespace": "session-database"}


def objects(environment: str, extra: dict[str, Any] | None = None) -> list[helm.RenderedObject]:
    return helm.render(CHART, environment, extra=install_values(environment, extra), **SEED)


def find(rendered: list[helm.RenderedObject], kind: str, name: str) -> dict[str, Any]:
    return next(o.body for o in rendered if o.kind == kind and o.name == name)


def haproxy_config(rendered: list[helm.RenderedObject]) -> str:
    config: str = find(rendered, "ConfigMap", "session-database-endpoint")["data"]["haproxy.cfg"]
    return config


def test_the_seed_host_is_the_master_endpoint_in_every_mode() -> None:
    for environment, component in (("production", "endpoint"), ("development", "redis")):
        rendered = objects(environment)
        settings = find(rendered, "ConfigMap", "session-database-settings")["data"]
        assert settings["REDIS_HOST"] == SEED_HOST
        assert settings["REDIS_PORT"] == "6379"
        service = find(rendered, "Service", "session-database-service")
        assert service["spec"]["selector"]["app.kubernetes.io/component"] == component
    production = find(objects("production"), "ConfigMap", "session-database-settings")["data"]
    assert production["REDIS_TLS"] == "true"
    assert production["REDIS_SENTINEL_MASTER_SET"] == "sessiondb"  # Sentinel settings stay
    assert not any(o.kind == "Deployment" for o in objects("development"))


def test_tls_check_verifies_each_data_pod_and_passes_client_tls_through() -> None:
    rendered = objects("production")
    servers = [ln.strip() for ln in haproxy_config(rendered).splitlines() if "server " in ln]
    pods = [ln for ln in servers if ln.startswith("server session-database-redis-")]
    assert len(pods) == 3
    # production's cache group: its frontend's servers are checked by their own names
    cache = [ln for ln in servers if ln.startswith("server session-database-cache-")]
    assert len(cache) == 2
    assert len([ln for ln in servers if ln.startswith("server ")]) == len(pods) + len(cache)
    for index, line in enumerate(cache):
        fqdn = (
            f"session-database-cache-{index}.session-database-cache-headless."
            "session-database.svc.cluster.local"
        )
        assert line.endswith(
            f"check-ssl verify required ca-file /etc/redis-tls/ca.crt verifyhost {fqdn}"
        )
    for index, line in enumerate(pods):
        fqdn = (
            f"session-database-redis-{index}.session-database-redis-headless."
            "session-database.svc.cluster.local"
        )
        assert line == (
            f"server session-database-redis-{index} {fqdn}:6379 check-ssl verify required "
            f"ca-file /etc/redis-tls/ca.crt verifyhost {fqdn}"
        )
        assert " ssl " not in f"{line} "  # traffic: TLS from the client, passed through
    deployment = find(rendered, "Deployment", "session-database-endpoint")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]
    assert volumes["auth"]["secret"]["items"] == [
        {"key": "PROBE_PASSWORD", "path": "PROBE_PASSWORD"}
    ]
    certificate = find(rendered, "Certificate", "session-database-tls")
    assert (
        "session-database-service.session-database.svc.cluster.local"
        in (certificate["spec"]["dnsNames"])
    )


def test_plaintext_servers_have_no_tls_options() -> None:
    config = haproxy_config(objects("production", {"tls": {"enabled": False}}))
    assert "check-ssl" not in config and "ca-file" not in config


def haproxy_check(config: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    ca = tmp_path / "ca.crt"
    ca.write_text(_self_signed(tmp_path))
    path = tmp_path / "haproxy.cfg"
    path.write_text(config.replace("/etc/redis-tls/ca.crt", str(ca)))
    return subprocess.run(
        [require_haproxy(), "-c", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PROBE_PASSWORD": "p w", "PROBE_PASSWORD_BYTES": "3", "PATH": "/usr/bin:/bin"},
    )


def _self_signed(tmp_path: Path) -> str:
    key, cert = tmp_path / "ca.key", tmp_path / "ca.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=test-ca", "-keyout", str(key), "-out", str(cert)),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return cert.read_text()


def test_real_haproxy_accepts_the_rendered_configs(tmp_path: Path) -> None:
    for tls in (True, False):
        config = haproxy_config(objects("production", {"tls": {"enabled": tls}}))
        result = haproxy_check(config, tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "WARNING" not in output and "ALERT" not in output, output


def test_spec_parameters_reach_the_endpoint() -> None:
    digest = "sha256:" + "a" * 64
    extra = {
        "endpoint": {
            "replicas": 3,
            "autoscaling": {"enabled": False},  # else the autoscaler owns the count
            "image": {"digest": digest},
            "check": {"intervalMilliseconds": 500, "fall": 2, "rise": 3},
        }
    }
    rendered = objects("production", extra)
    config = haproxy_config(rendered)
    assert re.search(r"default-server check inter 500ms fall 2 rise 3 .*shutdown-sessions", config)
    assert "timeout check 500ms" in config
    deployment = find(rendered, "Deployment", "session-database-endpoint")
    assert deployment["spec"]["replicas"] == 3
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"haproxy:2.6.12-alpine@{digest}"
    assert set(container["resources"]["limits"]) == {"cpu", "memory", "ephemeral-storage"}
    assert find(rendered, "PodDisruptionBudget", "session-database-endpoint")
    # the default: two pods, so one can be rescheduled while the other serves (staging and
    # production: the autoscaler's minimum, tests/test_autoscaling.py)
    fixed = {"endpoint": {"autoscaling": {"enabled": False}}}
    for environment in ("staging", "production"):
        deployment = find(objects(environment, fixed), "Deployment", "session-database-endpoint")
        assert deployment["spec"]["replicas"] == 2
