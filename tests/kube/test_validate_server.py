"""`chartgen validate --server` against the local control plane: the cluster's own verdict
(schemas, Pod Security of the namespace, admission policies, served CRDs), at template lines."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chartgen.engines.helm import RELEASE
from chartgen.engines.kube_api import KubeAPIError
from tests.conftest import REPO
from tests.kube.cluster import admitted_pods, helm, release_objects, restricted_namespace
from tests.kube.controlplane import ControlPlane
from tests.live.ports import free_port

# development is standalone: one Redis StatefulSet, no Sentinels
STATEFULSET = "generated/helm/session-database/templates/redis/statefulset.yaml"


def validate(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chartgen", "validate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def server_findings(plane: ControlPlane, *args: str, cwd: Path = REPO) -> list[dict[str, Any]]:
    done = validate(
        "--server", "--kubeconfig", str(plane.kubeconfig), "--format", "json", *args, cwd=cwd
    )
    assert done.returncode in (0, 1), done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    assert "server-dry-run" in report["checks"]
    return [p for p in report["problems"] if p["check"] == "server-dry-run"]


def test_the_chart_passes_in_a_restricted_namespace(kube: ControlPlane) -> None:
    restricted_namespace(kube.client(), "validate-good")
    assert server_findings(kube, "--server-namespace", "validate-good") == []


def test_a_namespace_where_the_release_already_runs(kube: ControlPlane) -> None:
    """The live StatefulSets and their Pods (same names as chartgen renders) are judged as an
    update and a new Pod: what the cluster would refuse in place is found, nothing changes."""
    client = kube.client()
    namespace = "validate-installed"
    restricted_namespace(client, namespace)
    installed = helm(
        kube,
        "install",
        RELEASE,
        "./helm/session-database",
        "--namespace",
        namespace,
        "--set",
        "redis.auth.password=p",
        "--set",
        "redis.auth.sentinel.password=s",
    )
    objects = release_objects(kube, RELEASE, namespace)
    pods = [
        pod
        for obj in objects
        if obj["kind"] == "StatefulSet"
        for pod in admitted_pods(client, namespace, obj)
    ]
    assert f"{RELEASE}-session-database-redis-0" in pods, installed.stdout
    # the values it runs with: an update that changes nothing the server refuses
    assert server_findings(kube, "--server-namespace", namespace, "--env", "defaults") == []
    # production's bigger volumes: the cluster refuses the change in place (immutable)
    found = server_findings(kube, "--server-namespace", namespace, "--env", "production")
    assert [p["key"].split(".", 1)[1] for p in found] == ["spec.volumeClaimTemplates"], found
    assert found[0]["message"].startswith("the cluster refuses it: Invalid value (not shown: ")
    assert found[0]["message"].endswith("characters): field is immutable"), found
    live = client.request("GET", f"/api/v1/namespaces/{namespace}/pods").body["items"]
    of_statefulsets = [
        p["metadata"]["name"]
        for p in live
        if any(o.get("kind") == "StatefulSet" for o in p["metadata"].get("ownerReferences", []))
    ]
    assert sorted(of_statefulsets) == sorted(pods)


def break_template(project: Path, old: str, new: str) -> int:
    """Replace `old` in the Redis StatefulSet template; the 1-based line of the change."""
    path = project / STATEFULSET
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1


def metadata_line(project: Path) -> int:
    lines = (project / STATEFULSET).read_text().splitlines()
    kind = lines.index("kind: StatefulSet")
    return next(n for n, line in enumerate(lines[kind:], kind + 1) if line == "metadata:")


def test_a_refused_field_and_a_refused_pod_are_found_at_their_lines(
    kube: ControlPlane, project: Path
) -> None:
    restricted_namespace(kube.client(), "validate-broken")
    policy = "imagePullPolicy: {{ .Values.image.pullPolicy }}"
    line = break_template(project, policy, "imagePullPolicy: [Always]")
    found = server_findings(
        kube, "--server-namespace", "validate-broken", "--env", "development", cwd=project
    )
    assert [(p["file"], p["line"]) for p in found] == [(STATEFULSET, line)], found
    assert "imagePullPolicy: expected string" in found[0]["message"], found

    # a host port: the StatefulSet is accepted with the namespace's warning, its Pod refused
    break_template(project, "imagePullPolicy: [Always]", policy)
    port = "containerPort: {{ int .Values.redis.port }}"
    break_template(project, port, f"{port}\n              hostPort: 6379")
    found = server_findings(
        kube, "--server-namespace", "validate-broken", "--env", "development", cwd=project
    )
    assert {(p["severity"], p["file"]) for p in found} == {
        ("warning", STATEFULSET),
        ("error", STATEFULSET),
    }, found
    refused = next(p for p in found if p["severity"] == "error")
    assert "its Pods would be refused" in refused["message"], refused
    assert 'violates PodSecurity "restricted:latest": hostPort' in refused["message"], refused


def test_a_kind_the_cluster_does_not_serve_is_one_finding(
    kube: ControlPlane, project: Path
) -> None:
    # The values schema admits only the served v1 now; a chart whose template still emits the
    # guide's v1beta1 (an old or edited chart) is what the cluster must catch.
    template = project / "generated/helm/session-database/templates/externalsecret.yaml"
    text = template.read_text()
    assert "apiVersion: {{ $external.apiVersion }}" in text
    template.write_text(
        text.replace(
            "apiVersion: {{ $external.apiVersion }}", "apiVersion: external-secrets.io/v1beta1"
        )
    )
    found = server_findings(kube, "--env", "production", "--env", "staging", cwd=project)
    assert len(found) == 1, found
    assert "does not serve ExternalSecret external-secrets.io/v1beta1" in found[0]["message"]
    assert found[0]["file"].endswith("templates/externalsecret.yaml")


def test_an_unreachable_cluster_is_a_clear_tool_error(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        f"clusters: [{{name: gone, cluster: {{server: 'https://127.0.0.1:{free_port()}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: u}}]\n"
    )
    done = validate("--server", "--kubeconfig", str(kubeconfig))
    assert done.returncode == 5, done.stderr
    assert done.stderr.startswith("cannot reach the cluster of context 'gone'"), done.stderr
    assert "Traceback" not in done.stderr
    done = validate("--server", "--kubeconfig", str(kubeconfig), "--context", "other")
    assert done.returncode == 2, done.stderr
    assert "no context 'other' (contexts: gone)" in done.stderr


POLICY = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "ValidatingAdmissionPolicy",
    "metadata": {"name": "cost-center-label"},
    "spec": {
        "failurePolicy": "Fail",
        "matchConstraints": {
            "resourceRules": [
                {
                    "apiGroups": ["apps"],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"],
                    "resources": ["statefulsets"],
                }
            ]
        },
        "validations": [
            {
                "expression": "'cost-center' in object.metadata.?labels.orValue({})",
                "message": "every StatefulSet needs a cost-center label",
            }
        ],
    },
}
BINDING = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "ValidatingAdmissionPolicyBinding",
    "metadata": {"name": "cost-center-label"},
    "spec": {
        "policyName": "cost-center-label",
        "validationActions": ["Deny"],
        "matchResources": {"namespaceSelector": {"matchLabels": {"policy": "cost-center"}}},
    },
}


def test_the_clusters_admission_policy_is_reported_where_offline_validation_passes(
    kube: ControlPlane, project: Path
) -> None:
    client = kube.client()
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "validate-policy", "labels": {"policy": "cost-center"}},
    }
    client.apply(namespace)
    client.apply(POLICY)
    client.apply(BINDING)
    probe = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "probe", "namespace": "validate-policy"},
        "spec": {
            "serviceName": "probe",
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "redis:7.0.15-alpine"}]},
            },
        },
    }
    deadline = time.monotonic() + 30
    while True:  # the policy takes effect once the server compiled it
        try:
            client.apply(probe, dry_run=True)
        except KubeAPIError as err:
            if "cost-center" in err.message:
                break
            raise
        assert time.monotonic() < deadline, "the admission policy never took effect"
        time.sleep(0.2)

    offline = validate("--env", "development", "--format", "json", cwd=project)
    assert offline.returncode == 0, offline.stdout
    found = server_findings(
        kube, "--server-namespace", "validate-policy", "--env", "development", cwd=project
    )
    assert [(p["file"], p["line"]) for p in found] == [(STATEFULSET, metadata_line(project))], found
    assert all("every StatefulSet needs a cost-center label" in p["message"] for p in found)
    # the offline verdict was cached; the server's never is
    args = ("--kubeconfig", str(kube.kubeconfig), "--server-namespace", "validate-policy")
    again = validate("--server", *args, "--env", "development", cwd=project)
    assert again.returncode == 1, again.stderr
    assert "verdict from .chartgen-cache" not in again.stderr


@pytest.fixture(autouse=True)
def _no_kubeconfig_from_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)


def test_a_credential_plugin_gives_the_token(kube: ControlPlane, tmp_path: Path) -> None:
    """Clusters of cloud providers authenticate through an exec plugin (ExecCredential)."""
    from chartgen.validate.checks import CHECK_IDS

    plugin = tmp_path / "credential.sh"
    plugin.write_text(
        "#!/bin/sh\n"
        'case "$KUBERNETES_EXEC_INFO" in *ExecCredential*) ;; *) exit 3 ;; esac\n'
        '[ "$1" = "--fail" ] && { echo "token expired" >&2; exit 1; }\n'
        f'echo \'{{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",'
        f' "status": {{"token": "{kube.token}"}}}}\'\n'
    )
    plugin.chmod(0o755)
    others = [c for c in CHECK_IDS if c != "server-dry-run"]
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"checks:\n  disable: {json.dumps(others)}\n")

    def kubeconfig(*args: str) -> str:
        path = tmp_path / "kubeconfig"
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: cloud\n"
            f"clusters: [{{name: c, cluster: {{server: '{kube.server}',"
            f" certificate-authority: '{kube.ca_file}'}}}}]\n"
            "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1,"
            f" command: ./credential.sh, args: {json.dumps(list(args))}}}}}}}]\n"
            "contexts: [{name: cloud, context: {cluster: c, user: u}}]\n"
        )
        return str(path)

    done = validate("--server", "--kubeconfig", kubeconfig(), "--config", str(settings))
    assert done.returncode == 0, done.stderr + done.stdout
    assert "from 1 checks" in done.stdout, done.stdout
    done = validate("--server", "--kubeconfig", kubeconfig("--fail"), "--config", str(settings))
    assert done.returncode == 5, done.stderr
    assert "credential.sh exited 1: token expired" in done.stderr, done.stderr


GOOD_CONTEXT = "contexts: [{name: c, context: {cluster: k, user: u}}]\ncurrent-context: c\n"
GOOD_USER = "users: [{name: u, user: {token: t}}]\n"
SERVER = "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\n"
DAMAGED_KUBECONFIGS = {
    "a list": ("- a\n- b\n", "not a kubeconfig"),
    "bad YAML": ("clusters: [\n", "not a kubeconfig"),
    "no contexts": (SERVER + GOOD_USER, "no context '' (contexts: none)"),
    "contexts a string": ("contexts: abc\n" + SERVER, "no context '' (contexts: none)"),
    "no cluster": (GOOD_CONTEXT + GOOD_USER, "context 'c' names no cluster with a server"),
    "clusters of strings": (
        GOOD_CONTEXT + "clusters: [a, b]\n",
        "context 'c' names no cluster with a server",
    ),
    "server no URL": (
        GOOD_CONTEXT + "clusters: [{name: k, cluster: {server: localhost}}]\n",
        "server 'localhost' is no URL",
    ),
    "missing CA file": (
        GOOD_CONTEXT + GOOD_USER + "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1',"
        " certificate-authority: nowhere.crt}}]\n",
        "unusable credentials in the kubeconfig",
    ),
    "CA data not base64": (
        GOOD_CONTEXT + GOOD_USER + "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1',"
        " certificate-authority-data: '!!!'}}]\n",
        "unusable credentials in the kubeconfig",
    ),
    "missing token file": (
        GOOD_CONTEXT + SERVER + "users: [{name: u, user: {tokenFile: nowhere}}]\n",
        "unusable credentials in the kubeconfig",
    ),
    "auth-provider": (
        GOOD_CONTEXT + SERVER + "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n",
        "uses the removed auth-provider mechanism",
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGED_KUBECONFIGS))
def test_a_damaged_kubeconfig_is_a_usage_error(tmp_path: Path, case: str) -> None:
    text, expected = DAMAGED_KUBECONFIGS[case]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(text)
    done = validate("--server", "--kubeconfig", str(kubeconfig))
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def test_server_options_need_server() -> None:
    done = validate("--server-namespace", "elsewhere")
    assert done.returncode == 2
    assert "--kubeconfig, --context and --server-namespace need --server" in done.stderr
