"""The bundled stack's own configuration, live: the rendered prometheus.yml, rules.yaml and
alertmanager.yml (production with monitoring.mode bundled) checked by promtool and amtool, then
run by the real Prometheus and Alertmanager against the production topology on 127.0.0.1 with a
real redis_exporter per pod (each from its rendered sidecar).

No cluster runs here, so the scrape job's `kubernetes_sd_configs` (role endpointslice) is
replaced by static targets carrying the `__meta_kubernetes_*` labels that discovery gives an
endpoint: namespace, Service name and labels (read from the rendered Services), endpoint port
name and pod name. Everything else of the job — its `keep` filter and relabelling — runs as
rendered: two decoys (the client Service's `redis` port, another release's exporter) must be
dropped, every exporter kept with the labels the rules read."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from chartgen.engines import helm
from tests.conftest import CHART
from tests.live.ports import free_port
from tests.live.prometheus import EXPORTER, Processes, Target, api, start_exporters, write_yaml
from tests.live.topology import (
    CACHE_SET,
    REDIS_SET,
    SENTINEL_SET,
    LocalTopology,
    require_binaries,
    wait_for,
)

pytestmark = pytest.mark.live

RULES_PATH = "/etc/prometheus/rules.yaml"  # where the Prometheus pod mounts rules.yaml
VALUES = {
    "tls": {"enabled": False},
    "monitoring": {
        "mode": "bundled",
        "scrape": {"interval": "2s", "timeout": "2s"},
        "exporter": {"connectionTimeout": "1s"},
        "bundled": {"prometheus": {"evaluationInterval": "2s"}},
    },
}


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: install Debian's {package} (.ci/run does)"
    return found


@dataclass
class Stack:
    objects: list[helm.RenderedObject]
    data: dict[str, str]  # the bundled ConfigMap
    targets: list[Target]
    prometheus: int
    alertmanager: int
    root: Path


def _meta(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def discovered(
    objects: list[helm.RenderedObject], target: Target, port_name: str
) -> dict[str, str]:
    """The `__meta_kubernetes_*` labels endpointslice discovery gives this endpoint."""
    service = next(o.body for o in objects if o.kind == "Service" and o.name == target.service)
    labels = {
        f"__meta_kubernetes_service_label_{_meta(k)}": v
        for k, v in service["metadata"]["labels"].items()
    }
    return {
        **labels,
        "__meta_kubernetes_namespace": target.namespace,
        "__meta_kubernetes_service_name": target.service,
        "__meta_kubernetes_pod_name": target.pod_name,
        "__meta_kubernetes_endpointslice_port_name": port_name,
    }


def run_config(
    stack_objects: list[helm.RenderedObject],
    rendered: str,
    targets: list[Target],
    rules: Path,
    manager: int,
) -> dict[str, Any]:
    """The rendered prometheus.yml with discovery replaced by its static equivalent, the rules
    at their local path and Alertmanager at its local port; nothing else changed."""
    config: dict[str, Any] = YAML(typ="safe").load(rendered)
    (job,) = config["scrape_configs"]
    (sd,) = job.pop("kubernetes_sd_configs")
    assert sd == {"role": "endpointslice", "namespaces": {"names": [targets[0].namespace]}}
    statics = [
        {"targets": [f"127.0.0.1:{t.port}"], "labels": discovered(stack_objects, t, "metrics")}
        for t in targets
    ]
    # decoys: the client Service's redis port of a data pod, and another release's exporter
    first = targets[0]
    client = Target(first.pod, first.pod.port, first.namespace, REDIS_SET, first.pod_name)
    decoy = discovered(stack_objects, client, "redis")
    other = discovered(stack_objects, first, "metrics")
    other["__meta_kubernetes_service_label_app_kubernetes_io_instance"] = "another-release"
    statics += [
        {"targets": [f"127.0.0.1:{first.pod.port}"], "labels": decoy},
        {"targets": [f"127.0.0.1:{free_port()}"], "labels": other},
    ]
    job["static_configs"] = statics
    assert config["rule_files"] == [RULES_PATH]
    config["rule_files"] = [str(rules)]
    (am,) = config["alerting"]["alertmanagers"]
    am["static_configs"] = [{"targets": [f"127.0.0.1:{manager}"]}]
    return config


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_binaries()
    for binary, package in (
        ("prometheus", "prometheus"),
        ("prometheus-alertmanager", "prometheus-alertmanager"),
        (EXPORTER, "prometheus-redis-exporter"),
    ):
        tool(binary, package)
    root = tmp_path_factory.mktemp("bundled")
    objects = helm.render(CHART, "production", extra=VALUES)
    data = next(
        o.body for o in objects if o.kind == "ConfigMap" and o.name.endswith("-monitoring")
    )["data"]
    local = LocalTopology(root / "topology", objects)
    local.build(replicas=3, sentinels=3, cache=2)
    procs = Processes(root)
    try:
        local.start_all()
        namespace = next(o.namespace for o in objects if o.kind == "StatefulSet")
        assert namespace
        targets = start_exporters(
            local,
            procs,
            namespace,
            [(REDIS_SET, local.redis), (CACHE_SET, local.cache), (SENTINEL_SET, local.sentinels)],
        )
        manager, prometheus = free_port(), free_port()
        (root / "alertmanager.yml").write_text(data["alertmanager.yml"])
        rules = root / "rules.yaml"
        rules.write_text(data["rules.yaml"])
        procs.start(
            "alertmanager",
            [
                "prometheus-alertmanager",
                f"--config.file={root / 'alertmanager.yml'}",
                f"--storage.path={root / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{manager}",
                "--cluster.listen-address=",
            ],
        )
        config = run_config(objects, data["prometheus.yml"], targets, rules, manager)
        procs.start(
            "prometheus",
            [
                "prometheus",
                f"--config.file={write_yaml(root / 'prometheus.yml', config)}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus}",
            ],
        )
        yield Stack(objects, data, targets, prometheus, manager, root)
    except AssertionError:
        print(local.logs(), procs.logs())
        raise
    finally:
        procs.stop()
        local.stop()


def test_promtool_and_amtool_accept_the_rendered_files(stack: Stack, tmp_path: Path) -> None:
    # Debian's promtool (like its prometheus) is built without Kubernetes discovery: it checks
    # the file Prometheus runs here, the rendered one with discovery replaced as above
    config = stack.root / "prometheus.yml"
    checked = subprocess.run(
        [tool("promtool", "prometheus"), "check", "config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr
    (tmp_path / "alertmanager.yml").write_text(stack.data["alertmanager.yml"])
    am = subprocess.run(
        [
            tool("amtool", "prometheus-alertmanager"),
            "check-config",
            str(tmp_path / "alertmanager.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert am.returncode == 0, am.stdout + am.stderr


def _active(stack: Stack) -> list[dict[str, Any]]:
    try:
        found: list[dict[str, Any]] = api(stack.prometheus, "/api/v1/targets")["activeTargets"]
    except OSError:
        return []
    return found


def test_discovery_keeps_every_exporter_with_the_rules_labels(stack: Stack) -> None:
    wait_for(
        lambda: (
            len(_active(stack)) == len(stack.targets)
            and all(t["health"] == "up" for t in _active(stack))
        ),
        "every exporter up",
        timeout=60,
    )
    active = _active(stack)
    assert {(t["labels"]["service"], t["labels"]["pod"]) for t in active} == {
        (t.service, t.pod_name) for t in stack.targets
    }
    services = {t["labels"]["service"] for t in active}
    assert services == {f"{s}-headless" for s in (REDIS_SET, CACHE_SET, SENTINEL_SET)}
    for target in active:
        assert target["labels"]["namespace"] == stack.targets[0].namespace
        assert target["labels"]["instance"] == target["scrapeUrl"].split("/")[2]
    dropped = api(stack.prometheus, "/api/v1/targets")["droppedTargets"]
    assert len(dropped) == 2, dropped
    # the exporters reach their servers: redis_up 1 on every target
    wait_for(
        lambda: (
            len(api(stack.prometheus, "/api/v1/query?query=redis_up%3D%3D1")["result"])
            == len(stack.targets)
        ),
        "redis_up 1 on every target",
    )


def test_rules_load_and_evaluate_and_alerts_go_to_alertmanager(stack: Stack) -> None:
    expected = YAML(typ="safe").load(stack.data["rules.yaml"])
    groups = api(stack.prometheus, "/api/v1/rules")["groups"]
    assert sorted(g["name"] for g in groups) == sorted(g["name"] for g in expected["groups"])

    def rules() -> list[dict[str, Any]]:
        return [r for g in api(stack.prometheus, "/api/v1/rules")["groups"] for r in g["rules"]]

    wait_for(lambda: all(r["health"] != "unknown" for r in rules()), "every rule evaluated")
    assert [(r["name"], r.get("lastError")) for r in rules() if r["health"] != "ok"] == []
    assert len(rules()) == sum(len(g["rules"]) for g in expected["groups"])

    def managers() -> list[str]:
        found = api(stack.prometheus, "/api/v1/alertmanagers")["activeAlertmanagers"]
        return [m["url"] for m in found]

    # the notifier takes its Alertmanagers from discovery, which updates every 5 s
    wait_for(lambda: bool(managers()), "Prometheus' Alertmanager", timeout=30)
    assert managers() == [f"http://127.0.0.1:{stack.alertmanager}/api/v2/alerts"]
    with urllib.request.urlopen(
        f"http://127.0.0.1:{stack.alertmanager}/api/v2/status", timeout=5
    ) as reply:
        status = json.loads(reply.read())
    # Alertmanager runs the rendered routing (it reports it with its defaults filled in)
    loaded = YAML(typ="safe").load(status["config"]["original"])
    rendered = YAML(typ="safe").load(stack.data["alertmanager.yml"])
    assert loaded["route"]["receiver"] == rendered["route"]["receiver"]
    assert loaded["route"]["group_by"] == rendered["route"]["group_by"]
    assert [r["receiver"] for r in loaded["route"]["routes"]] == [
        r["receiver"] for r in rendered["route"]["routes"]
    ]
    assert [r["name"] for r in loaded["receivers"]] == ["critical", "warning", "info"]
    assert loaded["inhibit_rules"][0]["equal"] == rendered["inhibit_rules"][0]["equal"]


def test_grafana_reads_prometheus_through_its_service(stack: Stack) -> None:
    (datasource,) = YAML(typ="safe").load(stack.data["grafana-datasources.yaml"])["datasources"]
    service = next(
        o for o in stack.objects if o.kind == "Service" and o.name.endswith("prometheus-service")
    )
    assert datasource["url"] == (
        f"http://{service.name}.{service.namespace}.svc.cluster.local:"
        f"{service.body['spec']['ports'][0]['port']}"
    )
