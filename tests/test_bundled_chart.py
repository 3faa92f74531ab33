"""The bundled monitoring stack as rendered (staging runs it): the seed's Service names for the
guide's release, the Ingress refused without authentication (spec rule ingress-auth at its
file:line:column, and the chart itself for values given to Helm), Grafana never admin/admin,
and network-flows finding each of the stack's flows a broken policy blocks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from chartgen.engines import helm
from chartgen.errors import RenderError
from tests.conftest import CHART, install_values
from tests.kube.cluster import helm_binary
from tests.test_cli import run
from tests.test_validate import TEMPLATES, edit, validate

STAGING = "values/environments/staging.yaml"
POLICIES = "bundled-networkpolicy.yaml"
SEED = {"prometheus-service": 9090, "alertmanager-service": 9093, "grafana-service": 3000}


def services(release: str) -> dict[str, int]:
    objects = helm.render(CHART, "staging", release=release, extra=install_values("staging"))
    return {
        o.name: o.body["spec"]["ports"][0]["port"]
        for o in objects
        if o.kind == "Service" and o.body["spec"].get("clusterIP") != "None"
    }


def test_the_guides_release_answers_as_the_seeds_services() -> None:
    assert SEED.items() <= services("session-database").items()
    # any other release keeps its fullname prefix: two releases never share a Service
    other = services("other")
    assert not set(SEED) & set(other)
    assert other["other-session-database-prometheus-service"] == 9090


def helm_template(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_binary(), "template", "session-database", str(CHART), "--kube-version", "1.33.0",
         "-f", str(CHART / "values-staging.yaml"), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_helm_v3_renders_the_stack_and_refuses_unauthenticated_ui_or_admin_admin() -> None:
    done = helm_template()
    assert done.returncode == 0, done.stderr
    assert "nginx.ingress.kubernetes.io/auth-type: basic" in done.stdout
    for args, message in (
        (["--set", "monitoring.ingress.auth.type=none"], "monitoring.ingress.auth.type: none"),
        (
            ["--set", "monitoring.ingress.auth.type=external"],
            "monitoring.ingress.auth.url: external authentication needs",
        ),
        (["--set", "monitoring.bundled.grafana.adminPassword=admin"], "admin/admin"),
    ):
        refused = helm_template(*args)
        assert refused.returncode != 0 and message in refused.stderr, (args, refused.stderr)
    # without Prometheus and Alertmanager hosts nothing needs the controller's authentication
    grafana_only = helm_template(
        "--set", "monitoring.ingress.auth.type=none",
        "--set", "monitoring.ingress.hosts.prometheus=",
        "--set", "monitoring.ingress.hosts.alertmanager=",
    )  # fmt: skip
    assert grafana_only.returncode == 0, grafana_only.stderr
    assert "auth-type" not in grafana_only.stdout


def test_grafana_password_is_derived_never_admin() -> None:
    objects = helm.render(
        CHART, "production", extra=install_values(None, {"monitoring": {"mode": "bundled"}})
    )
    secret = next(o for o in objects if o.kind == "Secret" and o.name.endswith("-grafana"))
    password = secret.body["data"]["GRAFANA_ADMIN_PASSWORD"]
    assert password and password != "YWRtaW4="  # base64 of admin
    with pytest.raises(RenderError, match="admin/admin"):
        helm.render(
            CHART,
            "production",
            extra={
                "monitoring": {
                    "mode": "bundled",
                    "bundled": {"grafana": {"adminPassword": "admin"}},
                }
            },
        )


def _overlay_line(workspace: Path, text: str) -> tuple[int, int]:
    lines = (workspace / STAGING).read_text().splitlines()
    row = next(i for i, ln in enumerate(lines, 1) if ln.strip() == text)
    return row, lines[row - 1].index(text) + 1


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ("type: basic", "type: none", "monitoring.ingress.auth.type", "none would expose"),
        (
            "type: basic",
            "type: external",
            "monitoring.ingress.auth",
            "external authentication in front of prometheus and alertmanager needs",
        ),
    ],
)
def test_spec_rule_refuses_an_unauthenticated_ingress(
    workspace: Path, old: str, new: str, key: str, message: str
) -> None:
    edit(workspace / STAGING, old, new)
    row, column = _overlay_line(workspace, new)
    built = run("build", "--out", "generated/helm", cwd=workspace)
    assert built.returncode == 1, built.stdout + built.stderr
    assert "Traceback" not in built.stderr
    lines = [ln for ln in built.stderr.splitlines() if ln.endswith("[ingress-auth]")]
    assert len(lines) == 1, built.stderr
    if key.endswith(".type"):
        assert lines[0].startswith(f"{STAGING}:{row}:{column}: {key}: "), lines
    else:
        assert lines[0].startswith(f"{STAGING}:"), lines  # a missing key: at its section
    assert message in lines[0]


def _flow_lines(out: str) -> list[str]:
    return [ln for ln in out.splitlines() if ln.endswith("[network-flows]") and "[staging]" in ln]


@pytest.mark.parametrize(
    ("old", "new", "finding"),
    [
        # Prometheus' ingress without Grafana
        (
            "      from:\n        - podSelector:\n            matchLabels:\n"
            "              {{- $grafana | nindent 14 }}\n",
            "      from:\n",
            "NetworkPolicy/sessions-session-database-prometheus.spec.ingress: blocked (ingress): "
            "grafana -> prometheus port 9090/TCP (Grafana queries Prometheus)",
        ),
        # Alertmanager's ingress without the bundled Prometheus
        (
            "      from:\n        - podSelector:\n            matchLabels:\n"
            "              {{- $prometheus | nindent 14 }}\n",
            "      from:\n",
            "NetworkPolicy/sessions-session-database-alertmanager.spec.ingress: blocked "
            "(ingress): bundled-prometheus -> alertmanager port 9093/TCP",
        ),
        # Prometheus without egress to the API server
        (
            "        {{- range $b.prometheus.apiServer.ports }}",
            "        {{- range list 1 }}",
            "NetworkPolicy/sessions-session-database-prometheus.spec.egress: blocked: "
            "prometheus -> 0.0.0.1 port 443/TCP (service discovery",
        ),
        # Grafana closed to the ingress controller
        (
            "  {{- if $exposed.grafana }}",
            "  {{- if false }}",
            "blocked (ingress): ingress {'app.kubernetes.io/name': 'ingress-nginx'} in "
            "ingress-nginx -> grafana port 3000/TCP",
        ),
        # the exporters closed to the bundled Prometheus (the shared metrics policy)
        (
            '        {{- if include "session-database.bundled.enabled" . }}\n'
            "        # the bundled Prometheus",
            "        {{- if false }}\n        # the bundled Prometheus",
            "blocked (ingress): prometheus -> redis port 9121/TCP",
        ),
    ],
    ids=["grafana-prometheus", "prometheus-alertmanager", "apiserver", "ingress-grafana", "scrape"],
)
def test_a_missing_bundled_flow_is_found(project: Path, old: str, new: str, finding: str) -> None:
    path = (
        project
        / TEMPLATES
        / (
            "networkpolicy.yaml"
            if "metrics" in old or "bundled Prometheus" in old
            else f"monitoring/{POLICIES}"
        )
    )
    edit(path, old, new)
    lines = _flow_lines(validate(project, "--env", "staging").stdout)
    assert any(finding in ln for ln in lines), lines
