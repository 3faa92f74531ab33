"""Shared fixtures: the repository's spec and chart, a scratch copy of the spec, the booted HA
topology."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from tests.live.addresses import PerPodTopology
from tests.live.topology import LocalTopology, require_binaries, running

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "values" / "topology.yaml"
CHART = REPO / "generated" / "helm" / "session-database"
ARGOCD = REPO / "generated" / "k8s" / "argocd"
MONITORING = REPO / "generated" / "monitoring"
SCRIPTS = REPO / "generated" / "scripts"
ENVIRONMENTS = ("development", "staging", "production")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of values/ in a temp dir, so a test can break the spec without touching the repo."""
    shutil.copytree(REPO / "values", tmp_path / "values")
    return tmp_path


@pytest.fixture
def project(workspace: Path) -> Path:
    """values/, the committed chart, Argo CD objects, rule tests and operator scripts, copied:
    a tree a test may break."""
    shutil.copytree(CHART, workspace / "generated/helm/session-database")
    shutil.copytree(ARGOCD, workspace / "generated/k8s/argocd")
    shutil.copytree(MONITORING, workspace / "generated/monitoring")
    shutil.copytree(SCRIPTS, workspace / "generated/scripts")
    return workspace


# The deployment guide's install passes these two (`--set redis.auth.password=...`); the others
# are derived from them by the chart.
GUIDE_PASSWORDS = {"password": "guide-redis-password", "sentinel": {"password": "guide-sentinel"}}


def install_values(environment: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """`extra` plus what the guide's install command adds: the two passwords, where the
    environment takes passwords from Helm values (development and plain values.yaml)."""
    values = dict(extra or {})
    auth = helm.merged_values(CHART, environment).get("auth", {})
    if auth.get("source") == "values":
        redis = dict(values.get("redis", {}))
        redis["auth"] = GUIDE_PASSWORDS
        values["redis"] = redis
    return values


# Quick detection, but a failover timeout long enough that a loaded CI machine does not see a
# slow promotion as failed and start a second one.
FAST_FAILOVER = {"sentinel": {"downAfterMilliseconds": 1000, "failoverTimeout": 10000}}


@pytest.fixture
def pods(tmp_path: Path) -> Iterator[PerPodTopology]:
    """Production, TLS off, each pod on its own address that changes when it is recreated
    (3 session pods, the cache group's pods as rendered, 3 Sentinels)."""
    require_binaries()
    extra = {**FAST_FAILOVER, "tls": {"enabled": False}}
    local = PerPodTopology(tmp_path, helm.render(CHART, "production", extra=extra))
    local.build(replicas=3, sentinels=3)
    with running(local):
        yield local


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[LocalTopology]:
    """The production HA topology (3 data pods, 3 Sentinels) booted from the rendered chart."""
    require_binaries()
    # Without TLS (tests/test_live_tls.py boots production with it): these tests also speak the
    # deployment guide's plaintext `redis-cli -a` commands.
    extra = {**FAST_FAILOVER, "tls": {"enabled": False}}
    local = LocalTopology(tmp_path, helm.render(CHART, "production", extra=extra))
    local.build(replicas=3, sentinels=3)
    with running(local):
        yield local
