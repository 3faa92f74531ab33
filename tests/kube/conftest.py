"""The control plane the tests under tests/kube share: one per pytest process (xdist worker),
with the upstream CRDs installed, stopped when the session ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kube.controlplane import ControlPlane, control_plane, install_crds


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with control_plane(tmp_path_factory.mktemp("kube")) as plane:
        install_crds(plane)
        yield plane
