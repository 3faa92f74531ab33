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

import json
import re
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from ruamel.yaml import YAML

from chartgen.engines import helm
from chartgen.monitoring import dashboards, exporter
from chartgen.topology.model import build_model
from chartgen.topology.resolve import resolve
from tests import promql
from tests.conftest import CHART, SPEC
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
    cli,
    info,
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
    dashboards: dict[str, Any]  # the operator render's ConfigMap <fullname>-dashboards, parsed


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
        dashboards = next(o.body for o in operator if o.name.endswith("-dashboards"))["data"]
        boards = {key: json.loads(text) for key, text in dashboards.items()}
        yield Pipeline(local, targets, webhook, prometheus, rules, boards)
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


def _promql(p: Pipeline, path: str, **params: str) -> dict[str, Any]:
    """A Prometheus API call as Grafana makes it (POST form; GET without parameters), its
    whole answer."""
    body = urllib.parse.urlencode(params).encode() if params else None
    request = urllib.request.Request(f"http://127.0.0.1:{p.prometheus}{path}", data=body)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            answer: dict[str, Any] = json.loads(reply.read())
    except urllib.error.HTTPError as error:  # a bad query answers 400 with its error
        answer = json.loads(error.read())
    return answer


def _seed(p: Pipeline) -> None:
    """Sessions and cache entries with TTLs, lookups, and the results a cleanup run records,
    on the master: what the Sessions and Cache boards read."""
    master = next(pod for pod in p.local.redis if info(pod.port, "replication")["role"] == "master")
    model = build_model(resolve(SPEC).environments["production"])
    sessions, cache = str(model.sessions.index), str(model.cache.index)
    now = str(int(time.time()))
    assert cli(master.port, "-n", sessions, "SET", "session:s1", "u1", "EX", "3600") == "OK"
    assert cli(master.port, "-n", cache, "SET", "cache:svc:k", "v", "EX", "86400") == "OK"
    cli(master.port, "-n", cache, "GET", "cache:svc:k")
    cli(master.port, "-n", cache, "GET", "cache:svc:missing")
    for job, index in exporter.cleanup_jobs(model).items():
        for field in exporter.CLEANUP_FIELDS:
            value = "0" if field in ("removed", "failures") else now
            key = exporter.cleanup_key(job, field)
            assert cli(master.port, "-n", str(index), "SET", key, value) == "OK"


def _label_values(p: Pipeline, query: str, values: dict[str, str]) -> set[str]:
    """A query variable's options: label_values(selector, label) through the series API."""
    selector, label = promql.label_values(promql.concrete(query, values))
    answer = _promql(p, "/api/v1/series", **{"match[]": selector})
    assert answer["status"] == "success", (query, answer)
    return {series[label] for series in answer["data"] if label in series}


def test_every_dashboard_query_evaluates_against_the_real_prometheus(pipeline: Pipeline) -> None:
    wait_for(lambda: _targets_up(pipeline), "every exporter target up", timeout=60)
    _seed(pipeline)
    namespace = pipeline.targets[0].namespace
    fullname = pipeline.targets[0].service.removesuffix("-redis-headless")
    # every record key of every job, and the cache entry, scraped (a replica's exporter may
    # be scraped between two of the SETs reaching it)
    model = build_model(resolve(SPEC).environments["production"])
    records = len(exporter.cleanup_jobs(model)) * len(exporter.CLEANUP_FIELDS)
    seen = (
        'count(count by (key) (redis_key_value{key=~"cleanup:result:.+"})) == '
        f'{records} and on () count(redis_db_keys{{db="db1"}}) > 0'
    )
    wait_for(
        lambda: bool(_promql(pipeline, "/api/v1/query", query=seen)["data"]["result"]),
        "the seeded keys in Prometheus",
        timeout=60,
    )
    names = set(_promql(pipeline, "/api/v1/label/__name__/values")["data"])
    assert sorted(pipeline.dashboards) == sorted(f"{n}.json" for n in dashboards.TITLES)
    evaluated, empty = 0, []
    for key, board in sorted(pipeline.dashboards.items()):
        variables = promql.variables(board)
        # the variables find this release, as Grafana would list them
        found = _label_values(pipeline, variables["namespace"]["query"], {})
        assert namespace in found, (key, found)
        values = {"namespace": namespace}
        services = _label_values(pipeline, variables["release"]["query"], values)
        pattern = variables["release"]["regex"].strip("/")
        releases = {m.group(1) for s in services if (m := re.match(pattern, s))}
        assert releases == {fullname}, (key, services)
        values["release"] = fullname
        pods = _label_values(pipeline, variables["pod"]["query"], values)
        assert pods == {t.pod_name for t in pipeline.targets}, (key, pods)
        values = {**values, "pod": variables["pod"]["allValue"], **promql.constants(board)}
        for where, expr in promql.expressions(board):
            query = promql.concrete(expr, values)
            answer = _promql(pipeline, "/api/v1/query", query=query)
            assert answer["status"] == "success", (key, where, query, answer.get("error"))
            assert not answer.get("warnings"), (key, where, answer["warnings"])
            end = time.time()
            ranged = _promql(
                pipeline,
                "/api/v1/query_range",
                query=query,
                start=str(end - 60),
                end=str(end),
                step="2",
            )
            assert ranged["status"] == "success", (key, where, query, ranged.get("error"))
            evaluated += 1
            used = promql.metric_names(expr)
            # a query of exporter metrics only, all present, must find this release's series
            if not answer["data"]["result"]:
                assert not used or used & set(dashboards.EXTERNAL) or not used <= names, (
                    f"{key} / {where}: no series for {query}"
                )
                empty.append(f"{key}/{where}")
    print(f"\n{evaluated} dashboard queries evaluate; empty (external metrics only): {empty}")


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
    # the Alert status board counts it: its ALERTS selectors match the rule's labels
    board = pipeline.dashboards["alerts.json"]
    (expr,) = [e for where, e in promql.expressions(board) if where == "Firing critical"]
    values = {"namespace": pipeline.targets[0].namespace, "pod": ".+"}
    values["release"] = pipeline.targets[0].service.removesuffix("-redis-headless")
    answer = _promql(pipeline, "/api/v1/query", query=promql.concrete(expr, values))
    assert float(answer["data"]["result"][0]["value"][1]) >= 1, answer
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
