"""Alert rules and Alertmanager routing with the real tools: the generated promtool unit tests
pass (and fail when a rule loses its release selector), the chart renders exactly the generated
rules in both modes with the real Helm v3 CLI, amtool accepts and routes both Alertmanager
configurations, and every alert's runbook link lands on a section of the chart README."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from chartgen.engines import helm
from chartgen.monitoring.alerts import ALERTS
from chartgen.monitoring.promtool_tests import dump
from chartgen.validate.checks.crd_schema import validator
from tests.conftest import CHART, ENVIRONMENTS, MONITORING, install_values
from tests.tools import go_tool

RELEASE = NAMESPACE = "session-database"  # the guide's names, as the generated files assume
YAML_SAFE = YAML(typ="safe")


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: install Debian's {package} (.ci/run does)"
    return found


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, check=False, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def render(environment: str, extra: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    objects = helm.render_cli(
        go_tool("helm"),
        CHART,
        environment,
        release=RELEASE,
        namespace=NAMESPACE,
        extra=install_values(environment, extra),
    )
    return [o.body for o in objects]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def configmap(objects: list[dict[str, Any]]) -> dict[str, str]:
    """The bundled mode's ConfigMap data."""
    (found,) = [o for o in objects if o["metadata"]["name"] == f"{RELEASE}-monitoring"]
    data: dict[str, str] = found["data"]
    return data


def generated(environment: str, name: str) -> Any:
    return YAML_SAFE.load(MONITORING / environment / name)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_generated_rules_pass_promtool_check_and_their_unit_tests(
    tmp_path: Path, environment: str
) -> None:
    promtool = tool("promtool", "prometheus")
    shutil.copytree(MONITORING / environment, tmp_path / environment)
    folder = tmp_path / environment
    checked = run(promtool, "check", "rules", "rules.yaml", cwd=folder)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run(promtool, "test", "rules", "rules.test.yaml", cwd=folder)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_alert_has_a_firing_case_and_a_silent_case(environment: str) -> None:
    """Per variant: each (alert, group) rule fires once on its own group's series and stays
    silent in each of its silent cases."""
    rules = generated(environment, "rules.yaml")
    variants = [
        (rule["alert"], rule["labels"]["group"])
        for group in rules["groups"]
        for rule in group["rules"]
    ]
    ha = environment != "development"
    # only production runs the cache on its own group, the one RedisCacheEvictions watches
    cache_only = {"RedisCacheEvictions"} if environment != "production" else set()
    assert {name for name, _ in variants} == {
        a.name for a in ALERTS if ha or not a.ha_only
    } - cache_only
    assert [g["name"] for g in rules["groups"]] == [
        f"{RELEASE}-{severity}" for severity in ("critical", "warning", "info")
    ]
    fires: set[tuple[str, str]] = set()
    silent: set[tuple[str, str]] = set()
    for case in generated(environment, "rules.test.yaml")["tests"]:
        (check,) = case["alert_rule_test"]
        label = re.search(r" \((\w+)\) (fires|silent)", case["name"])
        group = label.group(1) if label else "sessions"
        if check["exp_alerts"]:
            (expected,) = check["exp_alerts"]
            assert expected["exp_labels"]["group"] == group, case["name"]
            fires.add((check["alertname"], group))
        else:
            silent.add((check["alertname"], group))
    # (the shared layout's hit-rate rule is labelled sessions: the group holding DB 1)
    assert fires == silent == set(variants)


def test_unit_tests_fail_when_a_rule_loses_its_release_selector(tmp_path: Path) -> None:
    """The silent cases send another release's firing series: a rule that matched every
    namespace would fire on them."""
    promtool = tool("promtool", "prometheus")
    shutil.copytree(MONITORING / "production", tmp_path / "p")
    rules = tmp_path / "p" / "rules.yaml"
    text = rules.read_text()
    rules.write_text(text.replace(f'namespace="{NAMESPACE}",', ""))
    tested = run(promtool, "test", "rules", "rules.test.yaml", cwd=tmp_path / "p")
    assert tested.returncode != 0
    failed = set(re.findall(r"alertname: (\w+),", tested.stdout + tested.stderr))
    assert failed == {a.name for a in ALERTS}, tested.stdout


def test_unit_tests_fail_when_a_threshold_moves(tmp_path: Path) -> None:
    promtool = tool("promtool", "prometheus")
    shutil.copytree(MONITORING / "production", tmp_path / "p")
    rules = tmp_path / "p" / "rules.yaml"
    rules.write_text(rules.read_text().replace("* 100 > 95", "* 100 > 99.5"))
    tested = run(promtool, "test", "rules", "rules.test.yaml", cwd=tmp_path / "p")
    assert tested.returncode != 0
    assert "RedisMemoryExhaustion fires" in tested.stdout + tested.stderr


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_chart_renders_exactly_the_generated_rules(environment: str) -> None:
    objects = render(environment, {"monitoring": {"mode": "operator"}})  # staging: bundled
    rule = one(objects, "PrometheusRule")
    assert rule["spec"] == generated(environment, "rules.yaml")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    for obj in (rule, one(objects, "AlertmanagerConfig")):
        found = validator(obj["apiVersion"], obj["kind"])
        assert found is not None
        assert [e.message for e in found.iter_errors(obj)] == []
    assert not [o for o in objects if o["metadata"]["name"].endswith("-monitoring")]


def test_bundled_mode_ships_the_same_rules_and_an_alertmanager_yml_amtool_accepts(
    tmp_path: Path,
) -> None:
    amtool = tool("amtool", "prometheus-alertmanager")
    receivers = {
        "critical": {"webhookUrls": ["http://pager.example:8080/hook"]},
        "warning": {"webhookUrls": ["http://chat.example:8080/hook"]},
    }
    objects = render(
        "production",
        {"monitoring": {"mode": "bundled", "alertmanager": {"receivers": receivers}}},
    )
    assert not [o for o in objects if o["apiVersion"].startswith("monitoring.coreos.com")]
    data = configmap(objects)
    assert YAML_SAFE.load(data["rules.yaml"]) == generated("production", "rules.yaml")
    config = tmp_path / "alertmanager.yml"
    config.write_text(data["alertmanager.yml"])
    checked = run(amtool, "check-config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    parsed = YAML_SAFE.load(data["alertmanager.yml"])
    hooks = {r["name"]: r.get("webhook_configs", []) for r in parsed["receivers"]}
    assert hooks["critical"] == [{"url": "http://pager.example:8080/hook", "send_resolved": True}]
    assert hooks["info"] == []
    _assert_routes(amtool, config)


def _assert_routes(amtool: str, config: Path) -> None:
    """amtool's own route evaluation: each severity reaches its receiver."""
    for severity in ("critical", "warning", "info"):
        routed = run(
            amtool, "config", "routes", "test", f"--config.file={config}",
            f"severity={severity}", "namespace=session-database", "alertname=RedisDown",
        )  # fmt: skip
        assert routed.returncode == 0, routed.stderr
        assert routed.stdout.strip() == severity


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    """An AlertmanagerConfig spec as alertmanager.yml, field by field as the Prometheus
    Operator translates the fields the chart uses (without its namespace matcher)."""

    def matchers(items: list[dict[str, str]]) -> list[str]:
        return [f'{m["name"]}{m.get("matchType", "=")}"{m["value"]}"' for m in items]

    route = config["route"]
    return {
        "route": {
            "receiver": route["receiver"],
            "group_by": route["groupBy"],
            "group_wait": route["groupWait"],
            "group_interval": route["groupInterval"],
            "repeat_interval": route["repeatInterval"],
            "routes": [
                {"receiver": r["receiver"], "matchers": matchers(r["matchers"])}
                for r in route["routes"]
            ],
        },
        "receivers": [
            {
                "name": r["name"],
                **(
                    {
                        "webhook_configs": [
                            {"url": w["url"], "send_resolved": w["sendResolved"]}
                            for w in r["webhookConfigs"]
                        ]
                    }
                    if "webhookConfigs" in r
                    else {}
                ),
            }
            for r in config["receivers"]
        ],
        "inhibit_rules": [
            {
                "source_matchers": matchers(i["sourceMatch"]),
                "target_matchers": matchers(i["targetMatch"]),
                "equal": i["equal"],
            }
            for i in config["inhibitRules"]
        ],
    }


def test_operator_mode_alertmanagerconfig_matches_the_bundled_routing(tmp_path: Path) -> None:
    """Same source: the AlertmanagerConfig, translated as the operator does, is the bundled
    alertmanager.yml; amtool accepts it and routes by severity."""
    amtool = tool("amtool", "prometheus-alertmanager")
    receivers = {"info": {"webhookUrls": ["https://hooks.example/info"]}}
    extra = {"monitoring": {"mode": "operator", "alertmanager": {"receivers": receivers}}}
    operator = one(render("staging", extra), "AlertmanagerConfig")["spec"]
    bundled_extra = {"monitoring": {**extra["monitoring"], "mode": "bundled"}}
    bundled = configmap(render("staging", bundled_extra))["alertmanager.yml"]
    assert _plain(operator) == YAML_SAFE.load(bundled)
    config = tmp_path / "alertmanager.yml"
    config.write_bytes(dump(_plain(operator)))
    checked = run(amtool, "check-config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    _assert_routes(amtool, config)


def test_selector_labels_are_values_and_mode_none_renders_no_monitoring() -> None:
    labels = {"release": "prom", "team": "platform"}
    objects = render("development", {"monitoring": {"selectorLabels": labels}})
    for kind in ("PrometheusRule", "AlertmanagerConfig"):
        assert labels.items() <= one(objects, kind)["metadata"]["labels"].items()
    none = render("development", {"monitoring": {"mode": "none"}})
    assert not [o for o in none if "monitoring" in o["apiVersion"]]
    assert not [o for o in none if o["metadata"]["name"].endswith("-monitoring")]


def test_every_runbook_link_lands_on_a_readme_section() -> None:
    readme = (CHART / "README.md").read_text()
    headings = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", readme, re.M)
    }
    rules = generated("production", "rules.yaml")
    for group in rules["groups"]:
        for rule in group["rules"]:
            url = rule["annotations"]["runbook_url"]
            assert url.split("#")[0].endswith("generated/helm/session-database/README.md")
            assert url.split("#")[1] in headings, url
            for key in ("summary", "description"):
                assert rule["annotations"][key].strip()
