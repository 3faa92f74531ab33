"""The cache's own group takes its pod settings from cache.*, not redis.*: probes, PDB budget,
placement, pod extensions, extraConfig and its own ServiceAccount, rendered by the embedded
engine and the real Helm v3 CLI and valid under the strict Kubernetes schema; what the chart
owns is refused for the cache as for the sessions' group; the probe spec keys are checked by
the probe-timeouts rule and reach the values with their source."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.engines.kube_schema import KubeValidator, resolve_version
from chartgen.render.values import spec_sources
from chartgen.topology.resolve import resolve
from chartgen.topology.resource_rules import probe_timeouts
from tests.conftest import CHART, SPEC, install_values
from tests.test_extension_points import EXTRA_CONFIG, extensions
from tests.tools import go_tool

FULL = "sessions-session-database"
ENGINES = ("embedded", "helm-v3-cli")
CACHE_PROBES = {
    "startupProbe": {
        "initialDelaySeconds": 1,
        "periodSeconds": 3,
        "timeoutSeconds": 2,
        "failureThreshold": 7,
    },
    "livenessProbe": {
        "initialDelaySeconds": 0,
        "periodSeconds": 20,
        "timeoutSeconds": 6,
        "failureThreshold": 2,
    },
    "readinessProbe": {
        "initialDelaySeconds": 0,
        "periodSeconds": 4,
        "timeoutSeconds": 4,
        "failureThreshold": 5,
    },
}
CACHE_VALUES = {
    **extensions("cache"),
    **CACHE_PROBES,
    "extraConfig": {"lazyfree-lazy-eviction": True, "maxmemory-samples": 10},
    "pdb": {"maxUnavailable": 2},
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["cache"]}]}
                ]
            }
        }
    },
    "replicas": 3,
}


def render(engine: str, values: dict[str, Any]) -> list[helm.RenderedObject]:
    extra = install_values("production", values)
    if engine == "embedded":
        return helm.render(CHART, "production", extra=extra)
    return helm.render_cli(go_tool("helm"), CHART, "production", extra=extra)


def find(objects: list[helm.RenderedObject], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o.body for o in objects if o.kind == kind and o.name == name]
    return found


def probes(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    main = pod["containers"][0]
    return {
        kind: {k: v for k, v in main[kind].items() if k != "exec"}
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }


def test_production_defaults_give_the_cache_its_own_identity_and_lighter_probes() -> None:
    objects = render("embedded", {})
    cache = find(objects, "StatefulSet", f"{FULL}-cache")["spec"]["template"]["spec"]
    sessions = find(objects, "StatefulSet", f"{FULL}-redis")["spec"]["template"]["spec"]
    assert cache["serviceAccountName"] == f"{FULL}-cache"
    assert sessions["serviceAccountName"] == f"{FULL}-redis"
    account = find(objects, "ServiceAccount", f"{FULL}-cache")
    assert account["automountServiceAccountToken"] is False
    assert account["metadata"]["labels"]["app.kubernetes.io/component"] == "cache"
    assert probes(cache)["startupProbe"] == {
        "initialDelaySeconds": 2,
        "periodSeconds": 2,
        "timeoutSeconds": 3,
        "failureThreshold": 30,
    }
    assert probes(cache)["livenessProbe"]["failureThreshold"] == 3
    # the sessions' group keeps its budgets
    assert probes(sessions)["startupProbe"]["failureThreshold"] == 60
    assert probes(sessions)["livenessProbe"]["failureThreshold"] == 6
    assert find(objects, "PodDisruptionBudget", f"{FULL}-cache")["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_cache_values_reach_the_cache_pods_only(engine: str) -> None:
    objects = render(engine, {"cache": CACHE_VALUES})
    validator = KubeValidator(resolve_version("1.25.0"))
    statefulset = find(objects, "StatefulSet", f"{FULL}-cache")
    assert validator.validate(statefulset) == []
    template = statefulset["spec"]["template"]
    pod = template["spec"]
    main = pod["containers"][0]
    assert probes(pod) == CACHE_PROBES
    assert main["livenessProbe"]["exec"]["command"][-1] == "6"  # the script's budget follows
    assert template["metadata"]["labels"]["team"] == "sessions"
    assert template["metadata"]["annotations"]["example.com/owner"] == "platform"
    assert main["env"][-1] == {"name": "EXTRA_FLAG", "value": "cache"}
    assert main["volumeMounts"][-1]["mountPath"] == "/extra"
    assert pod["volumes"][-1]["name"] == "extra"
    assert [c["name"] for c in pod["containers"]] == ["redis", "metrics", "shipper"]
    assert [c["name"] for c in pod["initContainers"]] == ["warm-up"]
    assert pod["nodeSelector"] == {"disk": "ssd"}
    assert pod["tolerations"][0]["value"] == "redis"
    assert pod["priorityClassName"] == "session-critical"
    assert pod["affinity"] == CACHE_VALUES["affinity"]
    conf = find(objects, "ConfigMap", f"{FULL}-cache")["data"]["redis.conf"].splitlines()
    assert conf[-2:] == ["lazyfree-lazy-eviction yes", "maxmemory-samples 10"]
    assert find(objects, "PodDisruptionBudget", f"{FULL}-cache")["spec"]["maxUnavailable"] == 2
    # none of it reaches the sessions' group
    sessions = find(objects, "StatefulSet", f"{FULL}-redis")["spec"]["template"]
    assert "team" not in sessions["metadata"]["labels"]
    assert "nodeSelector" not in sessions["spec"] and "initContainers" not in sessions["spec"]
    assert "lazyfree" not in find(objects, "ConfigMap", f"{FULL}-redis")["data"]["redis.conf"]
    assert find(objects, "PodDisruptionBudget", f"{FULL}-redis")["spec"]["maxUnavailable"] == 1


def test_redis_values_no_longer_reach_the_cache_pods() -> None:
    objects = render("embedded", {"redis": {**extensions("redis"), "extraConfig": EXTRA_CONFIG}})
    cache = find(objects, "StatefulSet", f"{FULL}-cache")["spec"]["template"]
    assert "team" not in cache["metadata"]["labels"]
    assert [c["name"] for c in cache["spec"]["containers"]] == ["redis", "metrics"]
    assert "nodeSelector" not in cache["spec"]
    assert "hz 20" not in find(objects, "ConfigMap", f"{FULL}-cache")["data"]["redis.conf"]


def test_pdb_and_service_account_switches() -> None:
    objects = render(
        "embedded",
        {"cache": {"pdb": {"enabled": False}}, "serviceAccount": {"create": False, "name": "x"}},
    )
    assert not [o for o in objects if o.kind == "PodDisruptionBudget" and o.name.endswith("-cache")]
    assert not [o for o in objects if o.kind == "ServiceAccount" and "-cache" in o.name]
    cache = find(objects, "StatefulSet", f"{FULL}-cache")["spec"]["template"]["spec"]
    assert cache["serviceAccountName"] == "x"
    # shared layout: no cache ServiceAccount at all
    shared = render("embedded", {"cache": {"group": "shared"}})
    accounts = sorted(o.name for o in shared if o.kind == "ServiceAccount")
    assert f"{FULL}-cache" not in accounts and f"{FULL}-redis" in accounts


REFUSED = [
    ({"extraEnv": [{"name": "MASTER_SET", "value": "x"}]}, "/cache/extraEnv/0/name",
     "cache.extraEnv: MASTER_SET is set by the chart"),
    ({"extraConfig": {"maxmemory": "1"}}, "/cache/extraConfig/maxmemory",
     "cache.extraConfig.maxmemory: the chart owns this directive (set by cache.config.maxmemory)"),
    ({"extraVolumeMounts": [{"name": "v", "mountPath": "/data"}]},
     "/cache/extraVolumeMounts/0/mountPath", "cache.extraVolumeMounts: the chart mounts /data"),
    ({"sidecars": [{"name": "redis", "image": "busybox:1.36"}]}, "/cache/sidecars/0/name",
     "cache.sidecars/initContainers: redis is the chart's container"),
]  # fmt: skip


def _helm_cli(values: dict[str, Any], tmp_path: Path, *flags: str) -> str:
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(install_values("production", values)), "utf-8")
    command = [go_tool("helm"), "template", "sessions", str(CHART), "--kube-version", "1.25.0"]
    command += ["-f", str(CHART / "values-production.yaml"), "-f", str(extra), *flags]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stdout[:300]
    return result.stderr


@pytest.mark.parametrize(("cache", "path", "message"), REFUSED, ids=[r[1] for r in REFUSED])
def test_what_the_chart_owns_is_refused_for_the_cache_too(
    cache: dict[str, Any], path: str, message: str, tmp_path: Path
) -> None:
    assert f"at '{path}'" in _helm_cli({"cache": cache}, tmp_path)
    assert message in _helm_cli({"cache": cache}, tmp_path, "--skip-schema-validation")


def test_cache_probe_spec_keys_are_checked_and_sourced() -> None:
    spec = copy.deepcopy(resolve(SPEC).environments["production"])
    spec["cache"]["livenessProbe"] = {"timeoutSeconds": 3}
    ((key, message),) = probe_timeouts(spec)
    assert key == ("cache", "livenessProbe", "timeoutSeconds")
    assert "use 4 or more" in message
    # shared: the cache's pods do not run, their probes are not judged
    spec["databases"]["cache"]["group"] = "shared"
    assert list(probe_timeouts(spec)) == []
    sources = spec_sources()
    assert (
        sources[("cache", "livenessProbe", "timeoutSeconds")]
        == "cache.livenessProbe.timeoutSeconds"
    )
    assert sources[("cache", "podAntiAffinity")] == "cache.podAntiAffinity"
