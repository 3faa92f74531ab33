"""The chart's escape hatches (pod labels and annotations, extra env, volumes, mounts, sidecars,
init containers, scheduling, extra redis.conf directives, image digest, OpenShift mode), each
rendered by the embedded engine and the real Helm v3 CLI, and refused where the chart owns the
field: by values.schema.json and, with the schema skipped, by the templates' own `fail`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines import helm
from chartgen.engines.kube_schema import KubeValidator, resolve_version
from chartgen.errors import RenderError
from chartgen.render.extension_values import CHART_ENV, OWNED_DIRECTIVES
from tests.conftest import CHART, install_values
from tests.tools import go_tool

Render = Callable[[str, dict[str, Any]], list[helm.RenderedObject]]
ENGINES = ("embedded", "helm-v3-cli")
DIGEST = "sha256:" + "0123456789abcdef" * 4
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
}


def _render(engine: str) -> Render:
    def render(environment: str, extra: dict[str, Any]) -> list[helm.RenderedObject]:
        values = install_values(environment, extra)
        if engine == "embedded":
            return helm.render(CHART, environment, extra=values)
        return helm.render_cli(go_tool("helm"), CHART, environment, extra=values)

    return render


def extensions(component: str) -> dict[str, Any]:
    return {
        "podLabels": {"team": "sessions"},
        "podAnnotations": {"example.com/owner": "platform"},
        "extraEnv": [{"name": "EXTRA_FLAG", "value": component}],
        "extraVolumes": [{"name": "extra", "emptyDir": {"sizeLimit": "1Mi"}}],
        "extraVolumeMounts": [{"name": "extra", "mountPath": "/extra", "readOnly": True}],
        "sidecars": [
            {
                "name": "shipper",
                "image": "busybox:1.36",
                "command": ["sleep", "infinity"],
                "securityContext": RESTRICTED,
                "resources": {"limits": {"cpu": "10m", "memory": "16Mi"}},
            }
        ],
        "initContainers": [
            {
                "name": "warm-up",
                "image": "busybox:1.36",
                "command": ["true"],
                "securityContext": RESTRICTED,
            }
        ],
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "redis", "effect": "NoSchedule"}
        ],
        "priorityClassName": "session-critical",
    }


EXTRA_CONFIG = {"hz": 20, "latency-tracking": False, "lazyfree-lazy-user-del": "yes"}
EVERYTHING = {
    "redis": {**extensions("redis"), "extraConfig": EXTRA_CONFIG},
    "sentinel": extensions("sentinel"),
}


def _one(objects: list[helm.RenderedObject], kind: str, suffix: str) -> dict[str, Any]:
    found = [o.body for o in objects if o.kind == kind and o.name.endswith(suffix)]
    assert len(found) == 1, f"{kind} *{suffix}: {len(found)} found"
    return found[0]


@pytest.mark.parametrize("engine", ENGINES)
def test_every_extension_point_renders_into_valid_pods(engine: str) -> None:
    objects = _render(engine)("production", EVERYTHING)
    validator = KubeValidator(resolve_version("1.25.0"))
    for component in ("redis", "sentinel"):
        statefulset = _one(objects, "StatefulSet", f"-{component}")
        assert validator.validate(statefulset) == [], component
        template = statefulset["spec"]["template"]
        pod = template["spec"]
        labels = template["metadata"]["labels"]
        assert labels["team"] == "sessions"
        # the selector still matches the pods: the extra label changed none of its keys
        for key, value in statefulset["spec"]["selector"]["matchLabels"].items():
            assert labels[key] == value, key
        assert template["metadata"]["annotations"]["example.com/owner"] == "platform"
        assert "checksum/config" in template["metadata"]["annotations"]
        # the chart's exporter sidecar (`metrics`) comes before the user's
        main, metrics, sidecar = pod["containers"]
        assert [c["name"] for c in (main, metrics, sidecar)] == [component, "metrics", "shipper"]
        assert [c["name"] for c in pod["initContainers"]] == ["warm-up"]
        assert main["env"][-1] == {"name": "EXTRA_FLAG", "value": component}
        assert {e["name"] for e in main["env"][:-1]} <= set(CHART_ENV[component])
        assert main["volumeMounts"][-1] == {
            "name": "extra",
            "mountPath": "/extra",
            "readOnly": True,
        }
        assert pod["volumes"][-1] == {"name": "extra", "emptyDir": {"sizeLimit": "1Mi"}}
        assert pod["nodeSelector"] == {"disk": "ssd"}
        assert pod["tolerations"][0]["key"] == "dedicated"
        assert pod["priorityClassName"] == "session-critical"
    conf = _one(objects, "ConfigMap", "-redis")["data"]["redis.conf"].splitlines()
    # after the chart's own lines, in key order (Helm ranges over a map sorted)
    assert conf[-3:] == ["hz 20", "latency-tracking no", "lazyfree-lazy-user-del yes"]
    assert conf.index("repl-diskless-sync yes") < conf.index("hz 20")


@pytest.mark.parametrize("engine", ENGINES)
def test_defaults_add_nothing(engine: str) -> None:
    objects = _render(engine)("production", {})
    conf = _one(objects, "ConfigMap", "-redis")["data"]["redis.conf"]
    assert "extraConfig" not in conf and conf.rstrip().endswith("repl-diskless-sync yes")
    for component in ("redis", "sentinel"):
        pod = _one(objects, "StatefulSet", f"-{component}")["spec"]["template"]["spec"]
        assert [c["name"] for c in pod["containers"]] == [component, "metrics"]  # the exporter
        assert "initContainers" not in pod and "nodeSelector" not in pod


@pytest.mark.parametrize("engine", ENGINES)
def test_image_digest_pins_every_container(engine: str) -> None:
    render = _render(engine)
    pinned = render("production", {"image": {"digest": DIGEST}})
    plain = render("production", {})
    for component in ("redis", "sentinel"):
        for objects, image in (
            (pinned, f"redis:7.0.15-alpine@{DIGEST}"),
            (plain, "redis:7.0.15-alpine"),
        ):
            statefulset = _one(objects, "StatefulSet", f"-{component}")
            assert statefulset["spec"]["template"]["spec"]["containers"][0]["image"] == image
        # the checkov digest waiver goes once a digest is set
        annotations = _one(pinned, "StatefulSet", f"-{component}")["metadata"]["annotations"]
        assert "checkov.io/skip1" not in annotations
        annotations = _one(plain, "StatefulSet", f"-{component}")["metadata"]["annotations"]
        assert annotations["checkov.io/skip1"].startswith("CKV_K8S_43=")


# Restricted-v2 (OpenShift's default SCC) as far as a manifest shows it: no fixed UID, GID or
# fsGroup; non-root, RuntimeDefault seccomp, no privilege escalation, every capability dropped
# (NET_BIND_SERVICE is the only one it lets a pod add back), no host namespaces or host paths.
RESTRICTED_V2_VOLUMES = {
    "configMap",
    "downwardAPI",
    "emptyDir",
    "persistentVolumeClaim",
    "projected",
    "secret",
    "ephemeral",
    "csi",
}


def _restricted_v2_violations(pod: dict[str, Any], fixed_ids_allowed: bool) -> list[str]:
    found = []
    context = pod.get("securityContext", {})
    ids = ("runAsUser", "runAsGroup", "fsGroup")
    if not fixed_ids_allowed:
        found += [f"pod {key}" for key in ids if key in context]
    if context.get("runAsNonRoot") is not True:
        found.append("pod runAsNonRoot")
    if context.get("seccompProfile") != {"type": "RuntimeDefault"}:
        found.append("pod seccompProfile")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            found.append(key)
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_V2_VOLUMES:
            found.append(f"volume {volume['name']}: {kinds}")
    for container in pod.get("initContainers", []) + pod["containers"]:
        name, sc = container["name"], container.get("securityContext", {})
        if not fixed_ids_allowed:
            found += [f"{name} {key}" for key in ids if key in sc]
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name} allowPrivilegeEscalation")
        if sc.get("privileged"):
            found.append(f"{name} privileged")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            found.append(f"{name} capabilities.drop")
        if set(sc.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{name} capabilities.add")
        if any("hostPort" in port for port in container.get("ports", [])):
            found.append(f"{name} hostPort")
    return found


def _pods(objects: list[helm.RenderedObject]) -> list[dict[str, Any]]:
    pods = [
        o.body["spec"]["template"]["spec"] for o in objects if "template" in o.body.get("spec", {})
    ]
    assert pods, "no pod templates rendered"
    return pods


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("environment", ["development", "production"])
def test_openshift_mode_fits_restricted_v2(engine: str, environment: str) -> None:
    render = _render(engine)
    openshift = render(environment, {"securityContext": {"openshift": True}})
    for pod in _pods(openshift):
        assert _restricted_v2_violations(pod, fixed_ids_allowed=False) == []
    # the same rules catch the default mode's fixed IDs, and only those
    for pod in _pods(render(environment, {})):
        context = pod["securityContext"]
        assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (10001,) * 3
        assert _restricted_v2_violations(pod, fixed_ids_allowed=False) == [
            "pod runAsUser",
            "pod runAsGroup",
            "pod fsGroup",
        ]
        assert _restricted_v2_violations(pod, fixed_ids_allowed=True) == []


# (values, what the schema error names, what the template's `fail` says)
REFUSED: list[tuple[dict[str, Any], str, str]] = [
    (
        {"redis": {"extraConfig": {"port": 7000}}},
        "/redis/extraConfig/port",
        "redis.extraConfig.port: the chart owns this directive (set by redis.port)",
    ),
    (
        {"redis": {"extraConfig": {"tls-port": 6380}}},
        "/redis/extraConfig/tls-port",
        "redis.extraConfig.tls-port: the chart owns the tls-* directives",
    ),
    (
        {"redis": {"extraConfig": {"rename-command": "FLUSHALL x"}}},
        "/redis/extraConfig/rename-command",
        "redis.extraConfig.rename-command: the chart owns this directive",
    ),
    (
        {"redis": {"extraConfig": {"hz": "10\nrequirepass x"}}},
        "/redis/extraConfig/hz",
        "redis.extraConfig.hz: one line per directive",
    ),
    (
        {"redis": {"podLabels": {"app.kubernetes.io/component": "other"}}},
        "/redis/podLabels/app.kubernetes.io~1component",
        "redis.podLabels.app.kubernetes.io/component: the chart sets this label",
    ),
    (
        {"sentinel": {"podLabels": {"app.kubernetes.io/instance": "other"}}},
        "/sentinel/podLabels/app.kubernetes.io~1instance",
        "sentinel.podLabels.app.kubernetes.io/instance: the chart sets this label",
    ),
    (
        {"redis": {"extraEnv": [{"name": "REDIS_PORT", "value": "1"}]}},
        "/redis/extraEnv/0/name",
        "redis.extraEnv: REDIS_PORT is set by the chart",
    ),
    (
        {"sentinel": {"extraEnv": [{"name": "QUORUM", "value": "1"}]}},
        "/sentinel/extraEnv/0/name",
        "sentinel.extraEnv: QUORUM is set by the chart",
    ),
    (
        {"redis": {"extraVolumes": [{"name": "data", "emptyDir": {}}]}},
        "/redis/extraVolumes/0/name",
        "redis.extraVolumes: the chart has a volume named data",
    ),
    (
        {"redis": {"extraVolumeMounts": [{"name": "x", "mountPath": "/data"}]}},
        "/redis/extraVolumeMounts/0/mountPath",
        "redis.extraVolumeMounts: the chart mounts /data itself",
    ),
    (
        {"sentinel": {"sidecars": [{"name": "sentinel", "image": "busybox:1.36"}]}},
        "/sentinel/sidecars/0/name",
        "sentinel.sidecars/initContainers: sentinel is the chart's container",
    ),
    (
        {"redis": {"initContainers": [{"name": "redis", "image": "busybox:1.36"}]}},
        "/redis/initContainers/0/name",
        "redis.sidecars/initContainers: redis is the chart's container",
    ),
]
IDS = [json.dumps(values)[:60] for values, _, _ in REFUSED]


def _helm_cli(
    values: dict[str, Any], tmp_path: Path, *flags: str
) -> subprocess.CompletedProcess[str]:
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps(install_values("production", values)), "utf-8")
    command = [go_tool("helm"), "template", "sessions", str(CHART), "--kube-version", "1.25.0"]
    command += ["-f", str(CHART / "values-production.yaml"), "-f", str(extra), *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("values", "path", "_message"), REFUSED, ids=IDS)
def test_the_schema_refuses_what_the_chart_owns(
    values: dict[str, Any], path: str, _message: str, tmp_path: Path
) -> None:
    result = _helm_cli(values, tmp_path)
    assert result.returncode == 1, result.stdout[:300]
    assert "values don't meet the specifications of the schema" in result.stderr
    assert f"at '{path}'" in result.stderr, result.stderr
    with pytest.raises(RenderError, match="schema"):
        helm.render(CHART, "production", extra=install_values("production", values))


@pytest.mark.parametrize(("values", "_path", "message"), REFUSED, ids=IDS)
def test_the_templates_refuse_it_without_the_schema(
    values: dict[str, Any], _path: str, message: str, tmp_path: Path
) -> None:
    result = _helm_cli(values, tmp_path, "--skip-schema-validation")
    assert result.returncode == 1, result.stdout[:300]
    assert message in result.stderr, result.stderr


def test_every_owned_directive_is_refused_by_the_schema_and_the_templates(tmp_path: Path) -> None:
    for directive in (*OWNED_DIRECTIVES, "tls-cert-file", "tls-replication"):
        values = {"redis": {"extraConfig": {directive: "1"}}}
        assert f"at '/redis/extraConfig/{directive}'" in _helm_cli(values, tmp_path).stderr
        skipped = _helm_cli(values, tmp_path, "--skip-schema-validation")
        assert f"redis.extraConfig.{directive}: the chart owns" in skipped.stderr, directive


def test_a_directive_the_chart_does_not_own_passes_the_schema(tmp_path: Path) -> None:
    result = _helm_cli({"redis": {"extraConfig": {"hz": 20}}}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "    hz 20\n" in result.stdout
