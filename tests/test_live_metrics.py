"""Metric truth: every metric the alert rules and dashboards read exists in the output of the real
redis_exporter (Debian's prometheus-redis-exporter) scraping a real master, replica and Sentinel
on 127.0.0.1 as the chart's monitor ACL user, with the flags chartgen.monitoring.exporter sets.
Metrics of kube-state-metrics, cAdvisor and Prometheus itself are the alerts' and dashboards'
declared `external` ones."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from chartgen.monitoring import dashboards, exporter
from chartgen.monitoring.alerts import ALERTS
from chartgen.security.acl import MONITOR_ROLE, acl_lines, data_users, sentinel_users
from chartgen.topology.model import Topology, build_model
from chartgen.topology.resolve import resolve
from tests import promql
from tests.conftest import MONITORING, SPEC
from tests.live.ports import free_port
from tests.promql import metric_names

pytestmark = pytest.mark.live

WRITER = "cleanup-writer"  # test-only: records results as a cleanup job would
KEY_USER = "monitor-keys"


def rule_metrics() -> set[str]:
    """Metric names in every environment's generated rules."""
    names: set[str] = set()
    for rules in sorted(MONITORING.glob("*/rules.yaml")):
        for group in YAML(typ="safe").load(rules)["groups"]:
            for rule in group["rules"]:
                names |= metric_names(rule["expr"])
    return names


def dashboard_metrics() -> set[str]:
    """Metric names in every environment's generated dashboards: panel and annotation
    queries, and the selectors of the query variables."""
    names: set[str] = set()
    for path in promql.files():
        board = promql.load(path)
        for _, expr in promql.expressions(board):
            names |= metric_names(expr)
        for variable in promql.variables(board).values():
            if variable["type"] == "query":
                selector, _ = promql.label_values(variable["query"])
                names |= metric_names(selector)
    return names


def used_metrics() -> set[str]:
    return rule_metrics() | dashboard_metrics()


def external_metrics() -> set[str]:
    """Declared as not redis_exporter's: the alerts' and the dashboards' lists."""
    return {m for alert in ALERTS for m in alert.external} | set(dashboards.EXTERNAL)


def test_rule_metric_names_are_read_off_the_rules() -> None:
    names = rule_metrics()
    assert {"redis_up", "redis_key_value", "container_cpu_usage_seconds_total"} <= names
    assert not names & {"namespace", "service", "pod", "instance", "key", "container"}


def test_dashboard_metric_names_are_read_off_the_dashboards() -> None:
    names = dashboard_metrics()
    assert promql.files(), "no generated dashboards: run chartgen build"
    assert {"redis_up", "redis_sentinel_master_ok_sentinels", "redis_key_value", "ALERTS"} <= names
    # variables and Grafana's built-ins are not metrics
    assert not names & {"namespace", "release", "pod", "max_sessions_per_user", "__rate_interval"}
    assert {"vector", "time", "changes"}.isdisjoint(names)


class Servers:
    def __init__(self, root: Path, model: Topology) -> None:
        self.root, self.model = root, model
        self.processes: list[subprocess.Popen[bytes]] = []
        self.passwords = {
            u.name: [f"pw-{u.name}"] for u in (*data_users(model), *sentinel_users(model))
        }

    def start(self, command: list[str], name: str, env: dict[str, str] | None = None) -> None:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - kept open for the process
        environment = {**os.environ, **(env or {})}
        self.processes.append(subprocess.Popen(command, stdout=log, stderr=log, env=environment))

    def data_acl(self) -> Path:
        """The data pods' users as the chart renders them, plus a copy of the monitor user
        with the key-check rights (the exporter of the cleanup results)."""
        users = data_users(self.model)
        (monitor,) = [u for u in users if u.name == MONITOR_ROLE]
        lines = acl_lines(users, self.passwords)
        extended = " ".join((*monitor.rules, *exporter.key_check_rules(self.model)))
        lines.append(f"user {KEY_USER} resetpass >pw-{KEY_USER} {extended}")
        lines.append(f"user {WRITER} on resetpass >pw-{WRITER} ~cleanup:result:* +set +select")
        path = self.root / "data.acl"
        path.write_text("\n".join(lines) + "\n")
        return path

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            process.wait(timeout=10)


def cli(port: int, *args: str, user: str = "default") -> str:
    result = subprocess.run(
        ["redis-cli", "--user", user, "--pass", f"pw-{user}", "--no-auth-warning",
         "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    return result.stdout.strip()


def wait_for(condition: object, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def scrape(port: int) -> dict[str, list[str]]:
    """Metric name -> its sample lines."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    samples: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            samples.setdefault(re.split(r"[{ ]", line, maxsplit=1)[0], []).append(line)
    return samples


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, list[str]]]]:
    tmp_path = tmp_path_factory.mktemp("metrics")
    for binary in ("redis-server", "redis-sentinel", "redis-cli", "prometheus-redis-exporter"):
        assert shutil.which(binary), (
            f"{binary} is missing: install Debian's redis-server, redis-sentinel, redis-tools "
            "and prometheus-redis-exporter (.ci/run does)"
        )
    model = build_model(resolve(SPEC).environments["production"])
    servers = Servers(tmp_path, model)
    acl = servers.data_acl()
    master, replica, sentinel = free_port(), free_port(), free_port()
    common = ["--bind", "127.0.0.1", "--aclfile", str(acl), "--save", "", "--maxmemory", "64mb"]
    auth = ["--masteruser", "replication", "--masterauth", "pw-replication"]
    for name, port, extra in (
        ("master", master, []),
        ("replica", replica, ["--replicaof", "127.0.0.1", str(master)]),
    ):
        folder = tmp_path / name
        folder.mkdir()
        servers.start(
            ["redis-server", "--port", str(port), "--dir", str(folder), *common, *auth, *extra],
            name,
        )
    sentinel_acl = tmp_path / "sentinel.acl"
    sentinel_acl.write_text("\n".join(acl_lines(sentinel_users(model), servers.passwords)) + "\n")
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {sentinel}\nbind 127.0.0.1\ndir {tmp_path}\naclfile {sentinel_acl}\n"
        f"sentinel monitor {model.sentinel.master_set} 127.0.0.1 {master} 1\n"
        f"sentinel auth-user {model.sentinel.master_set} sentinel\n"
        f"sentinel auth-pass {model.sentinel.master_set} pw-sentinel\n"
    )
    servers.start(["redis-sentinel", str(conf)], "sentinel")
    try:
        wait_for(
            lambda: "master_link_status:up" in cli(replica, "INFO", "replication"),
            "the replica's link",
        )
        # the results a cleanup run records, in the DB of each job
        for job, index in exporter.cleanup_jobs(model).items():
            for field in exporter.CLEANUP_FIELDS:
                key = exporter.cleanup_key(job, field)
                assert cli(master, "-n", str(index), "SET", key, "1700000000", user=WRITER) == "OK"
        targets = {
            "master": (master, MONITOR_ROLE, ()),
            "master-keys": (master, KEY_USER, exporter.key_check_flags(model)),
            "replica": (replica, MONITOR_ROLE, ()),
            "sentinel": (sentinel, MONITOR_ROLE, ()),
        }
        ports = {}
        for name, (port, user, flags) in targets.items():
            ports[name] = free_port()
            servers.start(
                [
                    "prometheus-redis-exporter",
                    "-redis.addr", f"redis://127.0.0.1:{port}",
                    "-redis.user", user,
                    *exporter.FLAGS,
                    *flags,
                    "-web.listen-address", f"127.0.0.1:{ports[name]}",
                ],
                f"exporter-{name}",
                # 1.45 reads -redis.password-file as JSON (URI -> password): the password
                # comes from the environment, as a Secret key reference would give it
                {"REDIS_PASSWORD": f"pw-{user}"},
            )  # fmt: skip
        results: dict[str, dict[str, list[str]]] = {}

        def scraped_all() -> bool:
            try:
                for name, port in ports.items():
                    results[name] = scrape(port)
            except OSError:
                return False
            sentinel_ready = "redis_sentinel_master_ok_slaves" in results["sentinel"]
            return sentinel_ready and "redis_master_link_up" in results["replica"]

        wait_for(scraped_all, "every exporter's metrics, the Sentinel seeing the replica")
        yield results
    finally:
        servers.stop()


def test_every_rule_and_dashboard_metric_exists_in_the_real_exporters_output(
    scraped: dict[str, dict[str, list[str]]],
) -> None:
    for name, samples in scraped.items():
        assert samples["redis_up"] == ["redis_up 1"], (name, samples["redis_up"])
        errors = samples["redis_exporter_last_scrape_error"]
        assert errors == ['redis_exporter_last_scrape_error{err=""} 0'], (name, errors)
    exported = set().union(*scraped.values())
    external = external_metrics()
    used = used_metrics()
    assert used - exported == external, "metrics the exporter does not emit"
    assert external.isdisjoint(exported)
    # each role emits what the role-specific rules read
    assert "redis_master_link_up" in scraped["replica"]
    assert "redis_master_link_up" not in scraped["master"]
    assert "redis_connected_slave_lag_seconds" in scraped["master"]
    assert "redis_sentinel_master_ckquorum_status" in scraped["sentinel"]
    assert 'role="master"' in scraped["master"]["redis_instance_info"][0]


def test_cleanup_results_are_published_with_the_key_check_rights(
    scraped: dict[str, dict[str, list[str]]],
) -> None:
    values = scraped["master-keys"]["redis_key_value"]
    for job, db in (("sessions", "db0"), ("cache", "db1")):
        for field in exporter.CLEANUP_FIELDS:
            key = exporter.cleanup_key(job, field)
            assert f'redis_key_value{{db="{db}",key="{key}"}} 1.7e+09' in values, values
    # the spec's monitor user alone reads no keys: the rights come from key_check_rules
    assert "redis_key_value" not in scraped["master"]
