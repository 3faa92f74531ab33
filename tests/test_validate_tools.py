"""CRD schemas, promtool and amtool checks on objects a chart emits, with the real tools."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chartgen.engines.tools import Tools
from chartgen.validate.checks.crd_schema import check as crd_check
from chartgen.validate.checks.promtool import check as promtool_check
from chartgen.validate.context import ValidateContext
from tests.test_validate import TEMPLATES, validate

GOOD = """\
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: redis-rules
spec:
  groups:
    - name: redis
      rules:
        - alert: RedisDown
          expr: redis_up == 0
          for: 1m
          labels: {severity: critical}
          annotations: {summary: "Redis is down"}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: redis
spec:
  selector: {matchLabels: {app: redis}}
  endpoints:
    - port: metrics
      interval: 30s
      scrapeTimeout: 10s
---
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata:
  name: redis
spec:
  selector: {matchLabels: {app: redis}}
  podMetricsEndpoints: [{port: metrics}]
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: redis-ca
spec:
  ca: {secretName: redis-ca}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: redis-tls
spec:
  secretName: redis-tls
  issuerRef: {name: redis-ca, kind: Issuer}
  dnsNames: [redis.example.svc]
  duration: 2160h
  privateKey: {algorithm: ECDSA, size: 256}
---
apiVersion: external-secrets.io/v1
kind: SecretStore
metadata:
  name: vault
spec:
  provider:
    vault:
      server: https://vault.example:8200
      path: secret
      version: v2
      auth: {kubernetes: {mountPath: kubernetes, role: redis}}
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: redis-users
spec:
  refreshInterval: 1h
  secretStoreRef: {name: vault, kind: SecretStore}
  target: {name: redis-users, creationPolicy: Owner}
  data:
    - secretKey: app
      remoteRef: {key: redis/users, property: app}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: sessions
spec:
  project: default
  source:
    repoURL: oci://registry.example/charts
    chart: session-database
    targetRevision: 0.1.0
    helm: {valueFiles: [values-production.yaml]}
  destination: {server: "https://kubernetes.default.svc", namespace: sessions}
  syncPolicy: {automated: {prune: true, selfHeal: true}, syncOptions: [CreateNamespace=true]}
---
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: sessions
spec:
  generators: [{list: {elements: [{env: staging}, {env: production}]}}]
  template:
    metadata: {name: "sessions-{{ `{{env}}` }}"}
    spec:
      project: default
      source: {repoURL: "oci://registry.example/charts", chart: session-database,
               targetRevision: 0.1.0}
      destination: {server: "https://kubernetes.default.svc", namespace: "sessions-{{ `{{env}}` }}"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: alertmanager
data:
  alertmanager.yaml: |
    route:
      receiver: oncall
      group_by: [namespace, service]
    receivers:
      - name: oncall
"""

# Each breakage: (text in GOOD, replacement, expected fragment of the finding)
BREAKAGES = [
    (
        "          for: 1m",
        "          for: 1m\n          severity: high",
        "PrometheusRule/redis-rules.spec.groups.0.rules.0: Additional properties are not allowed "
        "('severity' was unexpected)",
    ),
    (
        "      scrapeTimeout: 10s",
        "      scrapeTimeout: 10 seconds",
        "ServiceMonitor/redis.spec.endpoints.0.scrapeTimeout: '10 seconds' does not match",
    ),
    ("  ca: {secretName: redis-ca}", "  ca: {secret: redis-ca}", "Issuer/redis-ca.spec.ca"),
    (
        "  privateKey: {algorithm: ECDSA, size: 256}",
        "  privateKey: {algorithm: DSA}",
        "Certificate/redis-tls.spec.privateKey.algorithm: 'DSA' is not one of",
    ),
    ("      version: v2", "      version: v3", "SecretStore/vault.spec.provider.vault.version"),
    (
        "  target: {name: redis-users, creationPolicy: Owner}",
        "  target: {name: redis-users, creationPolicy: Always}",
        "ExternalSecret/redis-users.spec.target.creationPolicy",
    ),
    (
        "  project: default\n  source:",
        "  source:",
        "Application/sessions.spec: 'project' is a required property",
    ),
    (
        "  generators: [{list:",
        "  generator: [{list:",
        "ApplicationSet/sessions.spec: Additional properties are not allowed ('generator' was",
    ),
]


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    from tests.conftest import CHART

    target = tmp_path / "generated/helm/session-database"
    shutil.copytree(CHART, target)
    shutil.copytree(CHART.parents[2] / "values", tmp_path / "values")
    return target


def context(chart: Path, tools: Tools | None = None) -> ValidateContext:
    root = chart.parents[2]
    return ValidateContext(
        spec=root / "values/topology.yaml",
        chart_root=chart.parent,
        environments=("production",),
        kube_versions=("1.25.0",),
        tools=tools or Tools(),
        root=root,
    )


def test_crd_kinds_the_chart_may_emit_pass_their_schemas(chart: Path) -> None:
    (chart / "templates/extra.yaml").write_text(GOOD)
    assert list(crd_check(context(chart))) == []


@pytest.mark.parametrize(("old", "new", "expected"), BREAKAGES, ids=[b[2][:30] for b in BREAKAGES])
def test_each_crd_breakage_is_found(chart: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    (chart / "templates/extra.yaml").write_text(GOOD.replace(old, new, 1))
    problems = list(crd_check(context(chart)))
    assert any(expected in f"{p.key}: {p.message}" for p in problems), problems
    assert all(p.location.file.endswith("templates/extra.yaml") for p in problems)
    lines = GOOD.replace(old, new, 1).splitlines()
    kind = expected.split("/", maxsplit=1)[0]
    first_line = next(i for i, text in enumerate(lines, 1) if text == f"kind: {kind}")
    assert all(p.location.line > first_line for p in problems), problems


def test_every_crd_schema_records_its_provenance() -> None:
    from chartgen.validate.checks.crd_schema import crd_schema

    kinds = [
        ("monitoring.coreos.com/v1", k) for k in ("PrometheusRule", "ServiceMonitor", "PodMonitor")
    ]
    kinds += [
        ("cert-manager.io/v1", "Certificate"),
        ("cert-manager.io/v1", "Issuer"),
        ("external-secrets.io/v1", "ExternalSecret"),
        ("external-secrets.io/v1", "SecretStore"),
        ("argoproj.io/v1alpha1", "Application"),
        ("argoproj.io/v1alpha1", "ApplicationSet"),
    ]
    for api_version, kind in kinds:
        schema = crd_schema(api_version, kind)
        assert schema is not None, kind
        assert {"project", "tag", "commit", "upstreamPath", "sha256"} <= set(schema["x-provenance"])


def test_promtool_and_amtool_run_on_what_the_chart_ships(chart: Path) -> None:
    promtool, amtool = shutil.which("promtool"), shutil.which("amtool")
    assert promtool and amtool, "install prometheus and prometheus-alertmanager (.ci/run)"
    broken = GOOD.replace("expr: redis_up == 0", "expr: redis_up ==").replace(
        "      receiver: oncall", "      receiver: nobody"
    )
    (chart / "templates/extra.yaml").write_text(broken)
    result = validate(chart.parents[2], "--env", "production", "--format", "json")
    problems = json.loads(result.stdout)["problems"]
    by_check = {p["check"]: p for p in problems if p["check"] in ("promtool", "amtool")}
    assert "expr" in by_check["promtool"]["message"].lower()
    assert by_check["promtool"]["file"] == f"{TEMPLATES}/extra.yaml"
    assert 'undefined receiver "nobody"' in by_check["amtool"]["message"]

    (chart / "templates/extra.yaml").write_text(GOOD)
    result = validate(chart.parents[2], "--env", "production", "--format", "json")
    checks = {p["check"] for p in json.loads(result.stdout)["problems"]}
    assert not checks & {"promtool", "amtool", "crd-schema"}, result.stdout


def test_missing_promtool_is_said_not_hidden(chart: Path) -> None:
    (chart / "templates/extra.yaml").write_text(GOOD)
    problems = list(promtool_check(context(chart, Tools(promtool=None))))
    assert [p.severity for p in problems] == ["info"]
    assert "skipped: promtool is not on PATH" in problems[0].message
