"""The local control plane judges as a cluster does: Pod Security admission, strict fields, the
upstream CRDs served."""

from __future__ import annotations

import pytest

from chartgen.engines.kube_api import KubeAPIError
from tests.kube.controlplane import ControlPlane, crd_documents


def test_restricted_namespace_refuses_a_root_pod(kube: ControlPlane) -> None:
    client = kube.client()
    labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    client.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "psa-smoke", "labels": labels},
        }
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root", "namespace": "psa-smoke"},
        "spec": {"containers": [{"name": "c", "image": "redis:7.0.15-alpine"}]},
    }
    with pytest.raises(KubeAPIError) as refused:
        client.apply(pod, dry_run=True)
    assert refused.value.status == 403
    assert 'violates PodSecurity "restricted' in refused.value.message


def test_every_upstream_crd_is_served(kube: ControlPlane) -> None:
    client = kube.client()
    for crd in crd_documents():
        group = crd["spec"]["group"]
        for version in (v["name"] for v in crd["spec"]["versions"] if v.get("served")):
            resource = client.resource(f"{group}/{version}", crd["spec"]["names"]["kind"])
            assert resource.plural == crd["spec"]["names"]["plural"]
