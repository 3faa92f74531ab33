"""Parity with the Go tools ArgoCD users run: the Helm v3 CLI renders what the embedded Helm v4
engine renders, and kubeconform gives the embedded validator's verdicts."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.engines.kube_schema import KubeValidator, resolve_version
from chartgen.engines.kubeconform import validate_with_kubeconform
from chartgen.validate.checks.kube_schema import is_crd_kind
from tests.conftest import CHART, ENVIRONMENTS, install_values
from tests.tools import go_tool


def canonical(objects: list[helm.RenderedObject]) -> list[tuple[str, str]]:
    return sorted((o.template, json.dumps(o.body, sort_keys=True)) for o in objects)


@pytest.mark.parametrize("environment", (None, *ENVIRONMENTS))
def test_helm_v3_cli_renders_what_the_embedded_engine_renders(environment: str | None) -> None:
    cli = helm.render_cli(go_tool("helm"), CHART, environment, extra=install_values(environment))
    embedded = helm.render(CHART, environment, extra=install_values(environment))
    assert canonical(cli) == canonical(embedded)
    assert len(embedded) >= 8


def _valid_objects() -> dict[str, dict[str, Any]]:
    objects: dict[str, dict[str, Any]] = {}
    for env in ("production", "development"):
        for obj in helm.render(CHART, env, extra=install_values(env)):
            if is_crd_kind(str(obj.body["apiVersion"])):
                continue  # CRD kinds: the crd-schema check's, not kubeconform's
            objects.setdefault(f"{obj.kind}/{obj.name}", obj.body)
    return objects


def _break(key: str, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = copy.deepcopy(_valid_objects()[key])
    change(body)
    return body


STS = "StatefulSet/sessions-session-database-redis"
SVC = "Service/sessions-session-database-redis"
CM = "ConfigMap/sessions-session-database-settings"
PDB = "PodDisruptionBudget/sessions-session-database-sentinel"
NP = "NetworkPolicy/sessions-session-database-redis"
SA = "ServiceAccount/sessions-session-database-redis"


def _container(body: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = body["spec"]["template"]["spec"]["containers"][0]
    return container


INVALID: dict[str, tuple[str, Callable[[dict[str, Any]], None]]] = {
    "unknown-spec-field": (STS, lambda b: b["spec"].update(replica=3)),
    "replicas-as-string": (STS, lambda b: b["spec"].update(replicas="three")),
    "selector-missing": (STS, lambda b: b["spec"].pop("selector")),
    "container-without-name": (STS, lambda b: _container(b).pop("name")),
    "env-without-name": (STS, lambda b: _container(b)["env"][0].pop("name")),
    "mount-without-path": (STS, lambda b: _container(b)["volumeMounts"][0].pop("mountPath")),
    "limits-as-list": (STS, lambda b: _container(b)["resources"].update(limits=["1"])),
    "probe-command-string": (
        STS,
        lambda b: _container(b)["readinessProbe"]["exec"].update(command="redis-cli ping"),
    ),
    "container-port-string": (
        STS,
        lambda b: _container(b)["ports"][0].update(containerPort="redis"),
    ),
    "unknown-top-level": (SVC, lambda b: b.update(specs={})),
    "protocol-not-string": (SVC, lambda b: b["spec"]["ports"][0].update(protocol=5)),
    "cluster-ip-number": (SVC, lambda b: b["spec"].update(clusterIP=5)),
    "configmap-data-int": (CM, lambda b: b["data"].update(SESSION_DB=0)),
    "label-not-string": (CM, lambda b: b["metadata"]["labels"].update(tier=1)),
    "min-available-object": (PDB, lambda b: b["spec"].update(minAvailable={"n": 2})),
    "policy-types-string": (NP, lambda b: b["spec"].update(policyTypes="Ingress")),
    "match-labels-int": (NP, lambda b: b["spec"]["podSelector"]["matchLabels"].update(x=1)),
    "automount-string": (SA, lambda b: b.update(automountServiceAccountToken="yes")),
    "unknown-kind": (SA, lambda b: b.update(kind="ServiceAcount")),
    "removed-api-version": (PDB, lambda b: b.update(apiVersion="policy/v1beta1")),
}


def corpus() -> list[tuple[str, dict[str, Any], bool]]:
    cases = [(f"valid:{key}", body, True) for key, body in sorted(_valid_objects().items())]
    cases += [
        (f"invalid:{name}", _break(key, change), False) for name, (key, change) in INVALID.items()
    ]
    return cases


def test_corpus_is_large_and_varied() -> None:
    cases = corpus()
    assert len(cases) >= 20
    assert sum(valid for *_, valid in cases) >= 8 and len(INVALID) >= 20


@pytest.mark.parametrize("version", ["1.25.0", "latest"])
def test_kubeconform_and_embedded_validator_agree(version: str) -> None:
    cases = corpus()
    objects = [helm.RenderedObject("corpus", body) for _, body, _ in cases]
    resolved = resolve_version(version)
    kubeconform = validate_with_kubeconform(go_tool("kubeconform"), objects, resolved)
    embedded = KubeValidator(resolved)
    for (name, body, expected_valid), kc_findings in zip(cases, kubeconform, strict=True):
        ours = embedded.validate(body)
        assert (not ours) == (not kc_findings), (
            f"{name}: embedded {ours} / kubeconform {kc_findings}"
        )
        assert (not ours) == expected_valid, f"{name}: expected valid={expected_valid}: {ours}"
        if ours and kc_findings and ours[0].path and "no schema" not in ours[0].message:
            assert {f.path for f in ours} == {p for p, _ in kc_findings}, name


def test_validate_can_render_with_the_helm_v3_cli() -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "chartgen",
            "validate",
            "--no-cache",
            "--helm",
            go_tool("helm"),
            "--env",
            "production",
            "--kubeconform",
            go_tool("kubeconform"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stdout
