"""The bundled Prometheus finds its targets through the real API server: staging (monitoring.mode
bundled) installed with the Helm v3 CLI, then Prometheus (the release the chart runs, built with
Kubernetes discovery: Debian's has none) started with the rendered arguments and the
prometheus.yml and rules.yaml of the stored ConfigMap, unchanged, at the paths the Pod mounts
them, and with the service-account files the Pod's projected volume gives it (a token of the
release's Prometheus ServiceAccount, the namespace's kube-root-ca.crt, the namespace).

No kubelet runs here, so the test reports each Pod running, ready and at an address (10.244.x.y;
an EndpointSlice refuses loopback ones) through the Pod status API, as a kubelet would; the real
EndpointSlice controller publishes them. Prometheus runs in a network namespace of its own that
has only loopback, so those addresses lead nowhere (its scrapes fail at once, no packet leaves);
the API server is relayed into it at 127.0.0.1:443 through a Unix socket. Discovery must keep
exactly the exporters of this release, with the labels the rules read, through the Role-only
RBAC, and drop everything else: the Redis ports, the monitoring stack's own Services and the
exporters of a second release in the same namespace."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from chartgen.engines.kube_api import KubeClient
from tests.kube.cluster import (
    empty_namespace,
    helm,
    release_objects,
    restricted_namespace,
)
from tests.kube.controlplane import ControlPlane
from tests.kube.test_bundled_install import INSTALL, NAMESPACE, RELEASE
from tests.live.ports import free_port
from tests.live.prometheus import Processes

OTHER = "other-sessions"  # a second release in the namespace: its exporters are not ours
RELAY = Path(__file__).with_name("relay.py")
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
JOB = f"{RELEASE}-exporters"
EXPORTER_COMPONENTS = ("redis", "cache", "sentinel")


def prometheus_dir() -> Path:
    found = os.environ.get("CHARTGEN_PROMETHEUS_BIN", "")
    assert found and (Path(found) / "prometheus").is_file(), (
        "CHARTGEN_PROMETHEUS_BIN must name the directory of Prometheus and promtool built with "
        "Kubernetes discovery: `bash .ci/prometheus` builds them and prints it (.ci/run does)"
    )
    return Path(found)


def in_pod_namespace(
    config: Path, account: Path, command: list[str], relays: tuple[tuple[str, str, str], ...] = ()
) -> list[str]:
    """`command` as the Prometheus container runs: in a network namespace of its own (only
    loopback, so pod addresses lead nowhere) and a private mount namespace that sees `config`
    at /etc/prometheus and `account` at the service-account path (root only: /run is replaced
    by an empty tmpfs to make the mount point); `relays` (mode, listen, target) run beside it,
    in there."""
    started = "".join(f"{shlex.join([sys.executable, str(RELAY), *relay])} & " for relay in relays)
    script = (
        "ip link set lo up && mount -t tmpfs chartgen-run /run"
        f" && mkdir -p {SERVICE_ACCOUNT_DIR} && mount --bind {shlex.quote(str(account))}"
        f" {SERVICE_ACCOUNT_DIR} && mount --bind {shlex.quote(str(config))} /etc/prometheus"
        f" && {started}exec {shlex.join(command)}"
    )
    unshare = ["unshare", "--net", "--mount", "--propagation", "private", "--"]
    return [*unshare, "/bin/sh", "-c", script]


NODE = "chartgen-node"  # a Node object only: the EndpointSlice controller looks Pods' nodes up


def start_pods(
    client: KubeClient, release: str, objects: list[dict[str, Any]], prefix: str
) -> dict[str, str]:
    """What the scheduler and a kubelet would do for each Pod of the release's StatefulSets and
    Deployments: bind it to a node, then report it running, ready and at an address (prefix.N).
    Ordered StatefulSets (the Sentinels) create their next Pod only once the previous one is
    ready. Returns each Pod's address."""
    addresses: dict[str, str] = {}
    workloads = [o for o in objects if o["kind"] in ("StatefulSet", "Deployment")]

    def missing() -> list[str]:
        """Workloads with fewer started Pods than replicas."""
        return [
            o["metadata"]["name"]
            for o in workloads
            if sum(p.startswith(o["metadata"]["name"] + "-") for p in addresses)
            < int(o["spec"].get("replicas", 1))
        ]

    deadline = time.monotonic() + 60
    while missing():
        pods = client.request(
            "GET",
            f"/api/v1/namespaces/{NAMESPACE}/pods",
            params={"labelSelector": f"app.kubernetes.io/instance={release}"},
        ).body["items"]
        for pod in pods:
            name, owners = pod["metadata"]["name"], pod["metadata"].get("ownerReferences", [])
            if name in addresses or not {o["kind"] for o in owners} & {"StatefulSet", "ReplicaSet"}:
                continue
            addresses[name] = f"{prefix}.{len(addresses) + 1}"
            report_started(client, name, addresses[name])
        assert time.monotonic() < deadline, f"{release}: {missing()} not started"
        time.sleep(0.2)
    return addresses


def remove_bound_pods(kube: ControlPlane) -> None:
    """Uninstall, then delete the Pods at once: bound to a node, they would wait for a kubelet
    to confirm their graceful deletion."""
    client = kube.client()
    for release in helm(kube, "list", "--short", "--namespace", NAMESPACE).stdout.split():
        helm(kube, "uninstall", release, "--namespace", NAMESPACE)
    pods = f"/api/v1/namespaces/{NAMESPACE}/pods"
    deadline = time.monotonic() + 60
    while client.request("GET", pods).body["items"]:
        client.request("DELETE", pods, {"gracePeriodSeconds": 0})
        assert time.monotonic() < deadline, "the bound Pods are not deleted"
        time.sleep(0.5)
    client.request("DELETE", f"/api/v1/nodes/{NODE}")


def report_started(client: KubeClient, pod: str, address: str) -> None:
    path = f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}"
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod}}
    binding["target"] = {"apiVersion": "v1", "kind": "Node", "name": NODE}
    client.request("POST", f"{path}/binding", binding)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {
        "phase": "Running",
        "podIP": address,
        "podIPs": [{"ip": address}],
        "conditions": [
            {"type": kind, "status": "True", "lastTransitionTime": now}
            for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ],
    }
    client.request(
        "PATCH", f"{path}/status", {"status": status}, content_type="application/merge-patch+json"
    )


def service_account_files(client: KubeClient, prometheus: dict[str, Any], folder: Path) -> Path:
    """The files of the Prometheus Pod's projected `kube-api-access` volume, from the sources
    it names: a TokenRequest of its ServiceAccount, the ConfigMap key, the namespace."""
    spec = prometheus["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == "kube-api-access"]
    folder.mkdir()
    for source in volume["projected"]["sources"]:
        if "serviceAccountToken" in source:
            request = source["serviceAccountToken"]
            account = spec["serviceAccountName"]
            answer = client.request(
                "POST",
                f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{account}/token",
                {
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "spec": {"expirationSeconds": request["expirationSeconds"]},
                },
            ).body
            (folder / request["path"]).write_text(answer["status"]["token"])
        elif "configMap" in source:
            name = source["configMap"]["name"]
            data = client.request("GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps/{name}").body
            for item in source["configMap"]["items"]:
                (folder / item["path"]).write_text(data["data"][item["key"]])
        else:
            (item,) = source["downwardAPI"]["items"]
            assert item["fieldRef"]["fieldPath"] == "metadata.namespace"
            (folder / item["path"]).write_text(NAMESPACE)
    return folder


def config_files(client: KubeClient, prometheus: dict[str, Any], folder: Path) -> Path:
    """The Prometheus container's /etc/prometheus: the items of its ConfigMap volume as the
    server stores them."""
    (volume,) = [
        v for v in prometheus["spec"]["template"]["spec"]["volumes"] if v["name"] == "config"
    ]
    name = volume["configMap"]["name"]
    data = client.request("GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps/{name}").body["data"]
    folder.mkdir()
    for item in volume["configMap"]["items"]:
        (folder / item["path"]).write_text(data[item["key"]])
    return folder


def local_args(rendered: list[str], data: Path) -> list[str]:
    """The container's arguments as rendered (it listens on :9090 in its own network
    namespace), with its data in the test's folder."""
    replaced = {"--storage.tsdb.path": f"--storage.tsdb.path={data}"}
    return [replaced.get(arg.split("=", 1)[0], arg) for arg in rendered]


def api(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
        return json.load(reply)["data"]


@dataclass
class Discovery:
    active: list[dict[str, Any]]
    dropped: list[dict[str, Any]]
    addresses: dict[str, str]  # pod -> its address
    objects: list[dict[str, Any]]
    port: int
    logs: str


@pytest.fixture
def discovery(kube: ControlPlane, tmp_path: Path) -> Iterator[Discovery]:
    binaries = prometheus_dir()
    client = kube.client()
    restricted_namespace(client, NAMESPACE)
    procs = Processes(tmp_path)
    try:
        helm(kube, *INSTALL)
        helm(
            kube,
            *("install", OTHER, "./helm/session-database", "--namespace", NAMESPACE),
            *("--values", "./helm/session-database/values-development.yaml"),
            *("--set", "redis.auth.password=other-password"),
        )
        objects = release_objects(kube, RELEASE, NAMESPACE)
        other = release_objects(kube, OTHER, NAMESPACE)
        worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}}
        client.apply(node)
        addresses = start_pods(client, RELEASE, objects, f"10.244.{worker}")
        addresses |= start_pods(client, OTHER, other, f"10.245.{worker}")
        (prometheus,) = [
            o
            for o in objects
            if o["kind"] == "StatefulSet" and o["metadata"]["name"] == f"{RELEASE}-prometheus"
        ]
        # the release the chart's image runs (.ci/prometheus builds it; bump both together)
        (container,) = prometheus["spec"]["template"]["spec"]["containers"]
        version = subprocess.run(
            [str(binaries / "prometheus"), "--version"], capture_output=True, text=True, check=True
        ).stdout.split()[2]
        assert container["image"].endswith(f":v{version}"), (container["image"], version)
        config = config_files(client, prometheus, tmp_path / "etc-prometheus")
        account = service_account_files(client, prometheus, tmp_path / "serviceaccount")
        check = subprocess.run(
            in_pod_namespace(
                config,
                account,
                [str(binaries / "promtool"), "check", "config", "/etc/prometheus/prometheus.yml"],
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        port = free_port()
        args = local_args(container["args"], tmp_path / "data")
        # the API server at 127.0.0.1:443 in Prometheus' namespace, its web port at `port` here
        api_socket, web_socket = tmp_path / "api.sock", tmp_path / "web.sock"
        server = kube.server.removeprefix("https://")
        procs.start(
            "relay-api", [sys.executable, str(RELAY), "unix-to-tcp", str(api_socket), server]
        )
        procs.start(
            "relay-web",
            [sys.executable, str(RELAY), "tcp-to-unix", f"127.0.0.1:{port}", str(web_socket)],
        )
        inside = (
            ("tcp-to-unix", "127.0.0.1:443", str(api_socket)),
            ("unix-to-tcp", str(web_socket), "127.0.0.1:9090"),
        )
        procs.start(
            "prometheus",
            in_pod_namespace(config, account, [str(binaries / "prometheus"), *args], inside),
            # what the kubelet sets in every container: where the API server is
            env={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "443"},
        )
        wanted = [
            pod
            for pod in addresses
            if pod.startswith(RELEASE) and pod.rsplit("-", 2)[-2] in EXPORTER_COMPONENTS
        ]
        deadline = time.monotonic() + 90
        while True:
            try:
                found = api(port, "/api/v1/targets")
            except OSError:
                found = {"activeTargets": [], "droppedTargets": []}
            active = [t for t in found["activeTargets"] if t["scrapePool"] == JOB]
            if len(active) >= len(wanted) or time.monotonic() > deadline:
                break
            time.sleep(1)
        yield Discovery(active, found["droppedTargets"], addresses, objects, port, procs.logs())
    finally:
        procs.stop()
        remove_bound_pods(kube)
        empty_namespace(kube, NAMESPACE)


def test_prometheus_discovers_exactly_this_releases_exporters(discovery: Discovery) -> None:
    expected = {}
    for obj in discovery.objects:
        component = obj["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        if obj["kind"] != "StatefulSet" or component not in EXPORTER_COMPONENTS:
            continue
        service = obj["spec"]["serviceName"]
        for index in range(int(obj["spec"]["replicas"])):
            pod = f"{obj['metadata']['name']}-{index}"
            expected[pod] = {
                "job": JOB,
                "namespace": NAMESPACE,
                "service": service,
                "pod": pod,
                "instance": f"{discovery.addresses[pod]}:9121",
            }
    assert {"redis", "sentinel"} <= {p.rsplit("-", 2)[-2] for p in expected}, expected
    found = {t["labels"]["pod"]: t["labels"] for t in discovery.active}
    assert found == expected, discovery.logs
    for target in discovery.active:
        assert target["scrapeUrl"] == f"http://{target['labels']['instance']}/metrics"
    # through the Role only: no request of discovery was refused
    assert "forbidden" not in discovery.logs.lower(), discovery.logs


def test_everything_else_in_the_namespace_is_dropped(discovery: Discovery) -> None:
    dropped = [t["discoveredLabels"] for t in discovery.dropped]
    instance = "__meta_kubernetes_service_label_app_kubernetes_io_instance"
    port = "__meta_kubernetes_endpointslice_port_name"
    component = "__meta_kubernetes_service_label_app_kubernetes_io_component"
    # the other release's exporters, found and refused
    assert any(d.get(instance) == OTHER and d.get(port) == "metrics" for d in dropped), dropped
    # this release's Redis ports and the monitoring stack's own Services
    assert any(d.get(instance) == RELEASE and d.get(port) == "redis" for d in dropped)
    assert {"prometheus", "alertmanager", "grafana", "endpoint"} <= {
        d.get(component) for d in dropped
    }
    assert not any(t["labels"]["pod"].startswith(OTHER) for t in discovery.active)


def test_the_rules_load_from_the_mounted_file(discovery: Discovery) -> None:
    groups = api(discovery.port, "/api/v1/rules")["groups"]
    (data,) = [
        o["data"]
        for o in discovery.objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == f"{RELEASE}-monitoring"
    ]
    wanted = YAML(typ="safe").load(data["rules.yaml"])["groups"]
    assert sorted(g["name"] for g in groups) == sorted(g["name"] for g in wanted)
    assert {g["file"] for g in groups} == {"/etc/prometheus/rules.yaml"}
    rules = sum(len(g["rules"]) for g in groups)
    assert rules == sum(len(g["rules"]) for g in wanted) > 0
