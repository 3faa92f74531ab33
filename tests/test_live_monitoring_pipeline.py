"""The monitoring pipeline, live: the rendered production topology (3 data pods, the cache's
own group of 2, 3 Sentinels, TLS off) on 127.0.0.1 with a real redis_exporter per pod started
from the rendered sidecar's args and env, a real Prometheus loaded with the rendered rules and a
scrape job derived from the rendered ServiceMonitor (static targets carrying the
`__meta_kubernetes_*` labels its relabelling reads), and a real Alertmanager with the rendered
alertmanager.yml sending to a webhook receiver of the test. Killing the master fires RedisDown
through Alertmanager; it resolves when the pod is back. Killing the cache's master fires
RedisDown labelled `group: cache`, and nothing of the sessions' group. Intervals are shortened
through the chart's values (scrape, Alertmanager grouping) and Prometheus' evaluation interval;
the rules' own `for` durations are kept."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from ruamel.yaml import YAML

from chartgen.engines import helm
from tests.conftest import CHART
from tests.live.ports import free_port
from tests.live.prometheus import (
    EXPORTER,
    Processes,
    Target,
    Webhook,
    api,
    scrape_job,
    start_exporters,
    write_yaml,
)
from tests.live.topology import (
    CACHE_SET,
    REDIS_SET,
    SENTINEL_SET,
    LocalTopology,
    require_binaries,
    wait_for,
)

pytestmark = pytest.mark.live

EVALUATION = "2s"
MONITORING = {
    "scrape": {"interval": "2s", "timeout": "2s"},
    "exporter": {"connectionTimeout": "1s"},
}
TOPOLOGY = {
    "tls": {"enabled": False},
    "sentinel": {"downAfterMilliseconds": 1000, "failoverTimeout": 10000},
}
BINARIES = ("prometheus", "prometheus-alertmanager", EXPORTER)


@dataclass
class Pipeline:
    local: LocalTopology
    targets: list[Target]
    webhook: Webhook
    prometheus: int
    rules: dict[str, Any]


def _renders(webhook: Webhook) -> tuple[list[helm.RenderedObject], list[helm.RenderedObject]]:
    """The operator render (sidecars, ServiceMonitor, PrometheusRule) and the bundled one
    (alertmanager.yml with the webhook as every severity's receiver)."""
    operator = helm.render(
        CHART, "production", extra={**TOPOLOGY, "monitoring": {**MONITORING, "mode": "operator"}}
    )
    receivers = {s: {"webhookUrls": [webhook.url(s)]} for s in ("critical", "warning", "info")}
    manager = {"groupWait": "1s", "groupInterval": "2s", "repeatInterval": "1h"}
    bundled = helm.render(
        CHART,
        "production",
        extra={
            **TOPOLOGY,
            "monitoring": {
                **MONITORING,
                "mode": "bundled",
                "alertmanager": {**manager, "receivers": receivers},
            },
        },
    )
    return operator, bundled


def _one(objects: list[helm.RenderedObject], kind: str) -> dict[str, Any]:
    (body,) = [o.body for o in objects if o.kind == kind]
    return body


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    require_binaries()
    for binary in BINARIES:
        assert shutil.which(binary), (
            f"{binary} is missing: install Debian's prometheus, prometheus-alertmanager and "
            "prometheus-redis-exporter (.ci/run does)"
        )
    root = tmp_path_factory.mktemp("pipeline")
    webhook = Webhook()
    operator, bundled = _renders(webhook)
    configmap = next(o.body for o in bundled if o.name.endswith("-monitoring"))
    rules = YAML(typ="safe").load(configmap["data"]["rules.yaml"])
    # the bundled rules and the PrometheusRule come from one source
    assert rules == _one(operator, "PrometheusRule")["spec"]
    monitor = _one(operator, "ServiceMonitor")
    namespace = monitor["metadata"]["namespace"]

    local = LocalTopology(root / "topology", operator)
    local.build(replicas=3, sentinels=3, cache=2)
    procs = Processes(root)
    try:
        local.start_all()
        targets = start_exporters(
            local,
            procs,
            namespace,
            [(REDIS_SET, local.redis), (CACHE_SET, local.cache), (SENTINEL_SET, local.sentinels)],
        )
        manager, prometheus = free_port(), free_port()
        # the rendered files as they are, not re-serialised
        manager_config = root / "alertmanager.yml"
        manager_config.write_text(configmap["data"]["alertmanager.yml"])
        rules_file = root / "rules.yaml"
        rules_file.write_text(configmap["data"]["rules.yaml"])
        procs.start(
            "alertmanager",
            [
                "prometheus-alertmanager",
                f"--config.file={manager_config}",
                f"--storage.path={root / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{manager}",
                "--cluster.listen-address=",
            ],
        )
        config = {
            "global": {"evaluation_interval": EVALUATION},
            "rule_files": [str(rules_file)],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{manager}"]}]}]
            },
            "scrape_configs": [scrape_job(monitor, targets)],
        }
        procs.start(
            "prometheus",
            [
                "prometheus",
                f"--config.file={write_yaml(root / 'prometheus.yml', config)}",
                f"--storage.tsdb.path={root / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prometheus}",
            ],
        )
        yield Pipeline(local, targets, webhook, prometheus, rules)
    except AssertionError:
        print(local.logs(), procs.logs())
        raise
    finally:
        procs.stop()
        local.stop()
        webhook.stop()


def _targets_up(p: Pipeline) -> bool:
    try:
        active = api(p.prometheus, "/api/v1/targets")["activeTargets"]
    except OSError:
        return False
    return len(active) == len(p.targets) and all(t["health"] == "up" for t in active)


def _rules(p: Pipeline) -> list[dict[str, Any]]:
    return [r for g in api(p.prometheus, "/api/v1/rules")["groups"] for r in g["rules"]]


def test_targets_up_with_the_labels_the_rules_read(pipeline: Pipeline) -> None:
    wait_for(lambda: _targets_up(pipeline), "every exporter target up", timeout=60)
    active = api(pipeline.prometheus, "/api/v1/targets")["activeTargets"]
    labels = {(t["labels"]["service"], t["labels"]["pod"]) for t in active}
    assert labels == {(t.service, t.pod_name) for t in pipeline.targets}
    for target in active:
        assert target["labels"]["namespace"] == pipeline.targets[0].namespace
        assert target["labels"]["instance"] == target["scrapeUrl"].split("/")[2]
    print(f"\n{len(active)} targets up: {sorted(pod for _, pod in labels)}")
    # every exporter reaches its server as the monitor user (redis_up 1 on all six)
    wait_for(
        lambda: (
            len(api(pipeline.prometheus, "/api/v1/query?query=redis_up%3D%3D1")["result"])
            == len(pipeline.targets)
        ),
        "redis_up 1 on every target",
    )


def test_every_rule_group_loads_and_evaluates_without_error(pipeline: Pipeline) -> None:
    wait_for(lambda: _targets_up(pipeline), "every exporter target up", timeout=60)
    groups = api(pipeline.prometheus, "/api/v1/rules")["groups"]
    assert sorted(g["name"] for g in groups) == sorted(g["name"] for g in pipeline.rules["groups"])
    expected = sum(len(g["rules"]) for g in pipeline.rules["groups"])
    wait_for(
        lambda: all(r["health"] != "unknown" for r in _rules(pipeline)), "every rule evaluated"
    )
    rules = _rules(pipeline)
    assert len(rules) == expected
    failing = [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not failing, failing
    active = sorted({(r["name"], r["state"]) for r in rules if r["state"] != "inactive"})
    print(f"\n{len(rules)} rules in {len(groups)} groups evaluate; not inactive at start: {active}")


def test_killing_the_master_fires_redis_down_and_it_resolves(pipeline: Pipeline) -> None:
    wait_for(lambda: _targets_up(pipeline), "every exporter target up", timeout=60)
    local, hook = pipeline.local, pipeline.webhook
    master = f"{REDIS_SET}-0"
    assert hook.first("RedisDown", "firing", pod=master) is None
    killed = time.monotonic()
    local.redis[0].kill()
    wait_for(
        lambda: hook.first("RedisDown", "firing", pod=master) is not None,
        "RedisDown of the killed master at the webhook",
        timeout=180,
    )
    fired = hook.first("RedisDown", "firing", pod=master)
    assert fired is not None
    paths = {
        path
        for _, path, body in hook.received
        if body["commonLabels"].get("alertname") == "RedisDown"
    }
    assert paths == {"/critical"}, paths
    back = time.monotonic()
    local.start_redis(0)
    wait_for(
        lambda: hook.first("RedisDown", "resolved", pod=master) is not None,
        "RedisDown resolved at the webhook",
        timeout=120,
    )
    resolved = hook.first("RedisDown", "resolved", pod=master)
    assert resolved is not None
    assert hook.first("RedisDown", "firing", pod=master, group="sessions") == fired
    print(
        f"\nkill -> RedisDown at the webhook: {fired - killed:.1f}s (rule for: 1m); "
        f"pod restarted -> resolved at the webhook: {resolved - back:.1f}s; "
        f"kill -> resolved: {resolved - killed:.1f}s"
    )


def test_killing_the_cache_master_fires_redis_down_for_the_cache_group(pipeline: Pipeline) -> None:
    wait_for(lambda: _targets_up(pipeline), "every exporter target up", timeout=60)
    local, hook = pipeline.local, pipeline.webhook
    master = f"{CACHE_SET}-0"
    assert hook.first("RedisDown", "firing", pod=master) is None
    killed = time.monotonic()
    local.cache[0].kill()
    wait_for(
        lambda: hook.first("RedisDown", "firing", pod=master) is not None,
        "RedisDown of the killed cache master at the webhook",
        timeout=180,
    )
    fired = hook.first("RedisDown", "firing", pod=master, group="cache")
    assert fired is not None, "RedisDown of a cache pod is labelled group: cache"
    body = next(
        b
        for _, path, b in hook.received
        if path == "/critical" and any(a["labels"].get("pod") == master for a in b["alerts"])
    )
    assert body["commonLabels"]["group"] == "cache"
    assert body["commonLabels"]["service"] == f"{CACHE_SET}-headless"
    # nothing of the sessions' group fired meanwhile
    sessions = [
        a["labels"]
        for when, _, b in hook.received
        if when >= killed
        for a in b["alerts"]
        if a["labels"].get("group") == "sessions" and a["status"] == "firing"
    ]
    assert not sessions, sessions
    back = time.monotonic()
    local.start_cache(0)
    wait_for(
        lambda: hook.first("RedisDown", "resolved", pod=master) is not None,
        "the cache's RedisDown resolved at the webhook",
        timeout=120,
    )
    resolved = hook.first("RedisDown", "resolved", pod=master)
    assert resolved is not None
    print(
        f"\ncache master kill -> RedisDown (group cache) at the webhook: {fired - killed:.1f}s; "
        f"pod restarted -> resolved: {resolved - back:.1f}s"
    )
