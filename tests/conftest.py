"""Shared fixtures: the repository's spec and chart, a scratch copy of the spec, the booted HA
topology."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from chartgen.engines import helm
from tests.live.topology import LocalTopology, require_binaries

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "values" / "topology.yaml"
CHART = REPO / "generated" / "helm" / "session-database"
ENVIRONMENTS = ("development", "staging", "production")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of values/ in a temp dir, so a test can break the spec without touching the repo."""
    shutil.copytree(REPO / "values", tmp_path / "values")
    return tmp_path


@pytest.fixture
def project(workspace: Path) -> Path:
    """values/ and the committed chart, copied: a tree a test may break."""
    shutil.copytree(CHART, workspace / "generated/helm/session-database")
    return workspace


# Quick detection, but a failover timeout long enough that a loaded CI machine does not see a
# slow promotion as failed and start a second one.
FAST_FAILOVER = {"sentinel": {"downAfterMilliseconds": 1000, "failoverTimeout": 10000}}


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[LocalTopology]:
    """The production HA topology (3 data pods, 3 Sentinels) booted from the rendered chart."""
    require_binaries()
    local = LocalTopology(tmp_path, helm.render(CHART, "production", extra=FAST_FAILOVER))
    local.build(replicas=3, sentinels=3)
    try:
        local.start_all()
        yield local
    except AssertionError:
        print(local.logs())
        raise
    finally:
        local.stop()
