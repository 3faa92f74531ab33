"""Shared fixtures: the repository's spec and chart, a scratch copy of the spec, free ports."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
