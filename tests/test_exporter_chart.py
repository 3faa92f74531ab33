"""The exporter sidecar, its Services, ServiceMonitor and NetworkPolicy as the real Helm engine
renders them for every environment, the monitor role's key-check rights, and the spec rule on
the scrape timeouts. The sidecar running for real: tests/test_live_monitoring_pipeline.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.monitoring import exporter
from chartgen.security.acl import MONITOR_ROLE, data_users
from chartgen.security.acl_eval import allowed
from chartgen.topology.model import build_model
from chartgen.topology.resolve import resolve
from tests.conftest import CHART, ENVIRONMENTS, SPEC, install_values
from tests.test_validate import TEMPLATES, edit, validate

DATA_SETS = ("sessions-session-database-redis", "sessions-session-database-cache")
SENTINEL_SET = "sessions-session-database-sentinel"
KEY_CHECKS = exporter.key_check_flags(build_model(resolve(SPEC).base))[1]


def render(environment: str, extra: dict[str, Any] | None = None) -> list[helm.RenderedObject]:
    return helm.render(CHART, environment, extra=install_values(environment, extra))


def sidecars(objects: list[helm.RenderedObject]) -> dict[str, dict[str, Any]]:
    """StatefulSet name -> its `metrics` container (absent: not in the dict)."""
    found = {}
    for obj in objects:
        if obj.kind == "StatefulSet":
            for container in obj.body["spec"]["template"]["spec"]["containers"]:
                if container["name"] == "metrics":
                    found[obj.name] = container
    return found


def flag(container: dict[str, Any], name: str) -> str | None:
    args = container["args"]
    return args[args.index(name) + 1] if name in args else None


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("layout", ["shared", "separate"])
def test_every_data_and_sentinel_pod_has_the_exporter(environment: str, layout: str) -> None:
    objects = render(environment, {"cache": {"group": layout}})
    values = helm.merged_values(CHART, environment)
    found = sidecars(objects)
    # the data and Sentinel StatefulSets (not the bundled Prometheus and Alertmanager)
    statefulsets = {
        o.name
        for o in objects
        if o.kind == "StatefulSet"
        and o.body["metadata"]["labels"]["app.kubernetes.io/component"]
        in ("redis", "cache", "sentinel")
    }
    found_pods = {
        o.name: o.body["spec"]["template"]["spec"] for o in objects if o.kind == "StatefulSet"
    }
    assert set(found) == statefulsets and statefulsets >= {DATA_SETS[0]}
    assert (DATA_SETS[1] in found) == (layout == "separate")
    assert (SENTINEL_SET in found) == (environment != "development")
    tls = values["tls"]["enabled"]
    for name, container in found.items():
        image = values["monitoring"]["exporter"]["image"]
        assert container["image"] == f"{image['repository']}:{image['tag']}"
        assert container["image"] == "oliver006/redis_exporter:v1.45.0-alpine"
        assert flag(container, "-redis.user") == MONITOR_ROLE
        assert flag(container, "-config-command") == "-"
        assert flag(container, "-connection-timeout") == "5s"
        assert flag(container, "-web.listen-address") == ":9121"
        port = 26379 if name == SENTINEL_SET else 6379
        scheme = "rediss" if tls else "redis"
        assert flag(container, "-redis.addr") == f"{scheme}://localhost:{port}"
        mount = "/etc/sentinel-tls" if name == SENTINEL_SET else "/etc/redis-tls"
        assert flag(container, "-tls-ca-cert-file") == (f"{mount}/ca.crt" if tls else None)
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts == {
            "exporter-scripts": "/exporter-scripts",
            "exporter-auth": "/etc/exporter-auth",
            "auth-state": "/run/auth-state",
            **({"tls": mount} if tls else {}),
        }
        keys = flag(container, "-check-single-keys")
        assert keys == (None if name == SENTINEL_SET else KEY_CHECKS)
        # the wrapper that follows rotation runs the exporter; the password is never in the
        # pod spec, and the sidecar sees the monitor role's Secret key only
        assert container["command"] == [
            "/bin/sh",
            "/exporter-scripts/run-exporter.sh",
            "/redis_exporter",
        ]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env == {
            "AUTH_DIR": "/etc/exporter-auth",
            "AUTH_FILE": "MONITOR_PASSWORD",
            "AUTH_STATE_DIR": "/run/auth-state",
        }
        pod = found_pods[name]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["exporter-auth"]["secret"]["items"] == [
            {"key": "MONITOR_PASSWORD", "path": "MONITOR_PASSWORD"}
        ]
        assert "-redis.password-file" not in container["args"]  # a JSON map in 1.45
        assert container["ports"] == [{"name": "metrics", "containerPort": 9121, "protocol": "TCP"}]
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory", "ephemeral-storage"}
        assert container["livenessProbe"] != container["readinessProbe"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_key_checks_are_the_cleanup_and_backup_result_keys() -> None:
    model = build_model(resolve(SPEC).base)
    keys = exporter.key_check_flags(model)[1].split(",")
    assert len(keys) == 8 + 5
    assert "db0=cleanup:result:sessions:last_success" in keys
    assert "db1=cleanup:result:cache:failures" in keys
    # the backup's record: in the sessions' DB
    assert "db0=backup:result:last_success" in keys and "db0=backup:result:bytes" in keys


def test_the_monitor_role_reads_the_result_keys_and_nothing_else() -> None:
    model = build_model(resolve(SPEC).environments["production"])
    (monitor,) = [u for u in data_users(model) if u.name == MONITOR_ROLE]
    assert set(exporter.key_check_rules(model)) <= set(monitor.rules)
    for db in (0, 1):
        for command in ("get", "type", "strlen"):
            assert allowed(monitor.rules, command, key="cleanup:result:cache:removed", db=db)
        assert not allowed(monitor.rules, "set", key="cleanup:result:cache:removed", db=db)
        assert allowed(monitor.rules, "get", key="backup:result:last_success", db=db)
        assert not allowed(monitor.rules, "set", key="backup:result:last_success", db=db)
        assert not allowed(monitor.rules, "get", key="session:abc", db=db)
    assert not allowed(monitor.rules, "select", "2")
    assert not allowed(monitor.rules, "config", "get")


def test_headless_services_and_the_service_monitor() -> None:
    objects = render("production", {"cache": {"group": "separate"}})
    services = {o.name: o.body for o in objects if o.kind == "Service"}
    with_metrics = {
        name
        for name, body in services.items()
        if any(p["name"] == "metrics" for p in body["spec"]["ports"])
    }
    assert with_metrics == {
        "sessions-session-database-redis-headless",
        "sessions-session-database-cache-headless",
        "sessions-session-database-sentinel-headless",
    }
    (monitor,) = [o.body for o in objects if o.kind == "ServiceMonitor"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    selector = monitor["spec"]["selector"]
    selected = {
        name
        for name, body in services.items()
        if selector["matchLabels"].items() <= body["metadata"]["labels"].items()
        and body["metadata"]["labels"]["app.kubernetes.io/component"]
        in selector["matchExpressions"][0]["values"]
    }
    # every Service with the port is selected; the others selected have no `metrics` endpoint
    assert with_metrics <= selected
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["interval"], endpoint["scrapeTimeout"]) == (
        "metrics",
        "30s",
        "10s",
    )
    assert {r["targetLabel"] for r in endpoint["relabelings"]} == {
        "namespace",
        "service",
        "pod",
        "instance",
    }


def test_mode_none_renders_no_exporter() -> None:
    objects = render("production", {"monitoring": {"mode": "none"}})
    assert sidecars(objects) == {}
    assert not [o for o in objects if o.kind == "ServiceMonitor"]
    assert not [o for o in objects if o.name.endswith("-metrics")]
    for obj in objects:
        if obj.kind == "Service":
            assert all(p["name"] != "metrics" for p in obj.body["spec"]["ports"])


def test_bundled_mode_keeps_the_exporters_without_a_service_monitor() -> None:
    objects = render("production", {"monitoring": {"mode": "bundled"}})
    assert len(sidecars(objects)) == 3  # sessions' group, cache group (production), Sentinels
    assert not [o for o in objects if o.kind == "ServiceMonitor"]


def test_prometheus_shut_out_of_the_metrics_port_is_found(project: Path) -> None:
    path = project / TEMPLATES / "networkpolicy.yaml"
    edit(
        path,
        "        {{- toYaml .Values.networkPolicy.prometheus | nindent 8 }}",
        "        - podSelector: {matchLabels: {nobody: here}}",
    )
    out = validate(project).stdout
    assert (
        "blocked (ingress): prometheus {'app.kubernetes.io/name': 'prometheus'} in monitoring "
        "-> sentinel port 9121/TCP (Prometheus scrapes the Sentinels' exporters) [network-flows]"
    ) in out, out
    assert "-> redis port 9121/TCP (Prometheus scrapes the data pods' exporters)" in out


def test_a_connection_timeout_above_the_scrape_timeout_is_an_error(workspace: Path) -> None:
    overlay = workspace / "values/environments/production.yaml"
    overlay.write_text(
        overlay.read_text() + "monitoring:\n  exporter:\n    connectionTimeout: 15s\n"
    )
    line = overlay.read_text().splitlines().index("    connectionTimeout: 15s") + 1
    result = subprocess.run(
        [sys.executable, "-m", "chartgen", "build", "--check"],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"values/environments/production.yaml:{line}:5: monitoring.exporter.connectionTimeout: 15s "
        "is not below monitoring.scrape.timeout 10s"
    ) in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
