"""The committed chart rendered by the real Helm engine, for every environment, and validated
against the strict Kubernetes schemas of the oldest supported and the newest shipped version."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.engines.kube_schema import (
    DEFAULT_VERSIONS,
    KubeValidator,
    SchemaFinding,
    resolve_version,
)
from chartgen.errors import RenderError
from chartgen.validate.checks.kube_schema import is_crd_kind
from tests.conftest import CHART, ENVIRONMENTS, install_values

ALL = (None, *ENVIRONMENTS)


def validate_objects(objects: list[helm.RenderedObject], version: str) -> list[SchemaFinding]:
    """Findings of the strict Kubernetes schemas (CRD kinds are the crd-schema check's)."""
    validator = KubeValidator(resolve_version(version))
    return [
        finding
        for obj in objects
        if not is_crd_kind(str(obj.body["apiVersion"]))
        for finding in validator.validate(obj.body)
    ]


def by_kind(objects: list[helm.RenderedObject], kind: str) -> dict[str, dict[str, Any]]:
    return {o.name: o.body for o in objects if o.kind == kind}


@pytest.mark.parametrize("environment", ALL)
def test_helm_lint_has_no_errors_or_warnings(environment: str | None) -> None:
    report = helm.lint(CHART, environment, extra=install_values(environment))
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == []


@pytest.mark.parametrize("version", DEFAULT_VERSIONS)
@pytest.mark.parametrize("environment", ALL)
def test_every_object_is_valid_under_strict_kubernetes_schemas(
    environment: str | None, version: str
) -> None:
    objects = helm.render(CHART, environment, extra=install_values(environment))
    assert len(objects) >= 6
    assert validate_objects(objects, version) == []


def test_the_validator_rejects_what_kubernetes_rejects() -> None:
    objects = helm.render(CHART, "production", extra=install_values("production"))
    broken = [
        helm.RenderedObject(o.template, {**o.body, "spec": {**o.body["spec"], "replica": 3}})
        if o.kind == "StatefulSet"
        else o
        for o in objects
    ]
    findings = validate_objects(broken, "1.25.0")
    assert {f.kind for f in findings} == {"StatefulSet"}
    assert all("replica" in f.message and f.path == "spec" for f in findings)


def test_ha_topology_objects() -> None:
    objects = helm.render(CHART, "production", extra=install_values("production"))
    sets = by_kind(objects, "StatefulSet")
    redis, sentinel = (
        sets["sessions-session-database-redis"],
        sets["sessions-session-database-sentinel"],
    )
    assert redis["spec"]["replicas"] == 3
    assert sentinel["spec"]["replicas"] == 3
    assert sentinel["spec"]["podManagementPolicy"] == "OrderedReady"
    assert redis["spec"]["podManagementPolicy"] == "Parallel"
    pdbs = by_kind(objects, "PodDisruptionBudget")
    assert pdbs["sessions-session-database-sentinel"]["spec"]["minAvailable"] == 2
    assert pdbs["sessions-session-database-redis"]["spec"]["maxUnavailable"] == 1
    headless = by_kind(objects, "Service")["sessions-session-database-redis-headless"]
    assert headless["spec"]["publishNotReadyAddresses"] is True
    claim = redis["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    container = redis["spec"]["template"]["spec"]["containers"][0]
    # Guaranteed QoS: requests equal limits; ephemeral-storage from the base spec
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "6Gi", "ephemeral-storage": "128Mi"},
        "limits": {"cpu": "2", "memory": "6Gi", "ephemeral-storage": "512Mi"},
    }


def test_production_redis_settings_reach_redis_conf() -> None:
    objects = helm.render(CHART, "production", extra=install_values("production"))
    conf = by_kind(objects, "ConfigMap")["sessions-session-database-redis"]["data"]["redis.conf"]
    for line in (
        "maxmemory 4gb",
        "maxmemory-policy noeviction",
        "save 900 1 300 10 60 10000",
        "tcp-keepalive 300",
    ):
        assert line in conf.splitlines()


def test_session_and_cache_settings_for_applications() -> None:
    settings = by_kind(helm.render(CHART, extra=install_values(None)), "ConfigMap")[
        "sessions-session-database-settings"
    ]
    assert settings["data"] == {
        "REDIS_MODE": "ha",
        "REDIS_HOST": "sessions-session-database-service.session-db.svc.cluster.local",
        "REDIS_PORT": "6379",
        "REDIS_TLS": "false",
        "REDIS_SENTINEL_HOST": "sessions-session-database-sentinel.session-db.svc.cluster.local",
        "REDIS_SENTINEL_PORT": "26379",
        "REDIS_SENTINEL_MASTER_SET": "sessiondb",
        "SESSION_DB": "0",
        "SESSION_TTL_SECONDS": "3600",
        "REFRESH_TOKEN_TTL_SECONDS": "604800",
        "MAX_SESSIONS_PER_USER": "5",
        "MAX_REFRESH_TOKENS_PER_USER": "3",
        "CLEANUP_INTERVAL_SECONDS": "300",
        # the cache shares the sessions' group by default: same endpoint
        "CACHE_HOST": "sessions-session-database-service.session-db.svc.cluster.local",
        "CACHE_PORT": "6379",
        "CACHE_SENTINEL_MASTER_SET": "sessiondb",
        "CACHE_DB": "1",
        "CACHE_DEFAULT_TTL_SECONDS": "86400",
        "CACHE_CLEANUP_INTERVAL_SECONDS": "600",
        "CACHE_CLEANUP_BATCH_SIZE": "200",
        "CACHE_MAX_ENTRIES_PER_SERVICE": "10000",
        # session-health-check.sh's thresholds: the alerts' own
        "HEALTH_MEMORY_WARNING_PERCENT": "85",
        "HEALTH_MEMORY_CRITICAL_PERCENT": "95",
        "HEALTH_MAX_LAG_SECONDS": "5",
        "HEALTH_CLEANUP_MAX_AGE_SECONDS": "3600",
        "HEALTH_CLEANUP_FAILURES": "3",
        "HEALTH_BACKUP_MAX_AGE_SECONDS": "25200",
        "HEALTH_BACKUP_CRITICAL_AGE_SECONDS": "90000",
        "HEALTH_BACKUP_FAILURES": "1",
    }


def test_development_is_standalone() -> None:
    objects = helm.render(CHART, "development", extra=install_values("development"))
    assert not [o for o in objects if "sentinel" in o.name]
    assert not by_kind(objects, "PodDisruptionBudget")
    assert (
        by_kind(objects, "StatefulSet")["sessions-session-database-redis"]["spec"]["replicas"] == 1
    )


@pytest.mark.parametrize("environment", ALL)
def test_pods_meet_pod_security_restricted(environment: str | None) -> None:
    for pod_set in by_kind(
        helm.render(CHART, environment, extra=install_values(environment)), "StatefulSet"
    ).values():
        pod = pod_set["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False
            assert ctx["capabilities"]["drop"] == ["ALL"]
            assert ctx["readOnlyRootFilesystem"] is True
            assert {"requests", "limits"} <= set(container["resources"])
            assert "readinessProbe" in container and "livenessProbe" in container
            assert not container["image"].endswith(":latest")


@pytest.mark.parametrize(
    ("sentinel", "needed"),
    [({"replicas": 5}, 3), ({"replicas": 5, "quorum": 2}, 3), ({"replicas": 5, "quorum": 4}, 4)],
)
def test_sentinel_pdb_keeps_what_a_failover_needs(sentinel: dict[str, int], needed: int) -> None:
    """The quorum marks the master down, then a majority of all Sentinels must authorise the
    failover: the budget keeps the larger of the two."""
    objects = helm.render(CHART, extra=install_values(None, {"sentinel": sentinel}))
    pdb = by_kind(objects, "PodDisruptionBudget")["sessions-session-database-sentinel"]
    assert pdb["spec"]["minAvailable"] == needed


def test_pod_templates_carry_no_version_labels_so_chart_bumps_roll_nothing(tmp_path: Path) -> None:
    base = helm.render(CHART, "production")
    for obj in base:
        if obj.kind == "StatefulSet":
            labels = obj.body["spec"]["template"]["metadata"]["labels"]
            assert "helm.sh/chart" not in labels and "app.kubernetes.io/version" not in labels
            assert "checksum/config" in obj.body["spec"]["template"]["metadata"]["annotations"]
    chart = tmp_path / "session-database"
    shutil.copytree(CHART, chart)
    meta = chart / "Chart.yaml"
    text = meta.read_text()
    assert 'version: "0.1.0"' in text
    meta.write_text(text.replace('version: "0.1.0"', 'version: "0.1.1"', 1))
    bumped = helm.render(chart, "production")
    assert any(o.body["metadata"]["labels"]["helm.sh/chart"].endswith("0.1.1") for o in bumped)

    def pod_templates(objects: list[helm.RenderedObject]) -> dict[str, Any]:
        return {o.name: o.body["spec"]["template"] for o in objects if o.kind == "StatefulSet"}

    assert pod_templates(bumped) == pod_templates(base)


def test_quorum_follows_sentinel_count_unless_pinned() -> None:
    five = helm.render(CHART, extra=install_values(None, {"sentinel": {"replicas": 5}}))
    assert (
        by_kind(five, "PodDisruptionBudget")["sessions-session-database-sentinel"]["spec"][
            "minAvailable"
        ]
        == 3
    )
    pinned = helm.render(
        CHART, extra=install_values(None, {"sentinel": {"replicas": 5, "quorum": 4}})
    )
    assert (
        by_kind(pinned, "PodDisruptionBudget")["sessions-session-database-sentinel"]["spec"][
            "minAvailable"
        ]
        == 4
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"sentinel": {"quorum": 4}}, "sentinel.quorum exceeds sentinel.replicas"),
        ({"mode": "standalone"}, "standalone mode runs exactly one Redis pod"),
        ({"sentinel": {"replicas": 2}}, "ha mode needs sentinel.replicas >= 3"),
        (
            {"redis": {"config": {"minReplicasToWrite": 3}}},
            "minReplicasToWrite is 3, but only 2 replicas exist",
        ),
    ],
)
def test_values_the_schema_cannot_check_fail_the_render(
    extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(RenderError, match=message):
        helm.render(CHART, extra=install_values(None, extra))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"redis": {"replicas": "three"}}, "replicas"),
        ({"redis": {"bogus": 1}}, "bogus"),
        ({"image": {"tag": "latest"}}, "tag"),
        ({"mode": "cluster"}, "mode"),
    ],
)
def test_values_schema_rejects_bad_values(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError, match=message):
        helm.render(CHART, extra=install_values(None, extra))


def test_render_is_deterministic() -> None:
    first = helm.render(CHART, "production", extra=install_values("production"))
    assert helm.render(CHART, "production", extra=install_values("production")) == first
