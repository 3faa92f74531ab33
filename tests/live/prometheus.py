"""The monitoring pipeline on 127.0.0.1: redis_exporter processes started as the chart's sidecars
say (their rendered args and env, addresses made local), a real Prometheus whose scrape job is
derived from the rendered ServiceMonitor, a real Alertmanager and a webhook receiver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.live.ports import free_port
from tests.live.topology import LocalTopology, Pod, live_password

EXPORTER = "prometheus-redis-exporter"  # Debian's name of redis_exporter


def sidecar(statefulset: dict[str, Any]) -> dict[str, Any]:
    """The rendered `metrics` container of a StatefulSet."""
    containers = statefulset["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "metrics")


def exporter_command(
    container: dict[str, Any], pod: Pod, listen: int, folder: Path, tls_dir: Path | None = None
) -> list[str]:
    """The sidecar's command (the chart's wrapper, from `folder`, running Debian's exporter) and
    args, with its Redis (still `localhost`, the name a TLS certificate must carry) at the pod's
    local port, its listen address on a free local port and its mounted TLS folder at
    `tls_dir`."""
    shell, wrapper, binary = container["command"]
    assert (shell, binary) == ("/bin/sh", "/redis_exporter"), container["command"]
    args = list(container["args"])
    address = args.index("-redis.addr") + 1
    scheme, _, rest = args[address].partition("://")
    assert rest.startswith("localhost:"), args[address]
    args[address] = f"{scheme}://localhost:{pod.port}"
    args[args.index("-web.listen-address") + 1] = f"127.0.0.1:{listen}"
    for mount in container["volumeMounts"]:
        if mount["name"] == "tls":
            assert tls_dir is not None, f"the sidecar mounts {mount['mountPath']}"
            args = [a.replace(mount["mountPath"], str(tls_dir)) for a in args]
    return [shell, str(folder / "scripts" / Path(wrapper).name), EXPORTER, *args]


def exporter_files(local: LocalTopology, statefulset: dict[str, Any], folder: Path) -> None:
    """The sidecar's volumes in `folder`: `scripts` (the items of its ConfigMap volume) and
    `auth` (its Secret key, with the live topology's password)."""
    volumes = {v["name"]: v for v in statefulset["spec"]["template"]["spec"]["volumes"]}
    scripts, auth = folder / "scripts", folder / "auth"
    scripts.mkdir(parents=True, exist_ok=True)
    auth.mkdir(exist_ok=True)
    source = volumes["exporter-scripts"]["configMap"]
    data = local._object("ConfigMap", source["name"])["data"]
    for item in source["items"]:
        (scripts / item["path"]).write_text(data[item["key"]])
    for item in volumes["exporter-auth"]["secret"]["items"]:
        (auth / item["path"]).write_text(live_password(item["key"]))


def exporter_env(container: dict[str, Any], folder: Path, pod: Pod) -> dict[str, str]:
    """The sidecar's env: its Secret mount at `folder`/auth, the emptyDir it shares with the
    server's password watcher as that pod has it; the wrapper looks at the Secret every second
    (10 s in a pod) so that rotation tests stay short."""
    env = {item["name"]: item["value"] for item in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert env["AUTH_DIR"] == mounts["exporter-auth"]
    assert env["AUTH_STATE_DIR"] == mounts["auth-state"]
    return {
        **env,
        "AUTH_DIR": str(folder / "auth"),
        "AUTH_STATE_DIR": pod.env["AUTH_STATE_DIR"],
        "AUTH_POLL_SECONDS": "1",
    }


@dataclass
class Target:
    """One scraped exporter: its local port and the labels the ServiceMonitor's relabelling
    gives its series in a cluster (namespace, service, pod; instance from the address)."""

    pod: Pod
    port: int
    namespace: str
    service: str
    pod_name: str


def scrape_job(monitor: dict[str, Any], targets: list[Target]) -> dict[str, Any]:
    """A Prometheus scrape job equivalent to the rendered ServiceMonitor's endpoint: its
    interval, timeout, scheme, and relabelings translated; static targets carry the
    `__meta_kubernetes_*` labels the Kubernetes service discovery would give them."""
    (endpoint,) = monitor["spec"]["endpoints"]
    relabel = [
        {"source_labels": r["sourceLabels"], "target_label": r["targetLabel"]}
        for r in endpoint["relabelings"]
    ]
    return {
        "job_name": f"serviceMonitor/{monitor['metadata']['namespace']}/"
        f"{monitor['metadata']['name']}/0",
        "scrape_interval": endpoint["interval"],
        "scrape_timeout": endpoint["scrapeTimeout"],
        "scheme": endpoint["scheme"],
        "honor_labels": endpoint["honorLabels"],
        "static_configs": [
            {
                "targets": [f"127.0.0.1:{t.port}"],
                "labels": {
                    "__meta_kubernetes_namespace": t.namespace,
                    "__meta_kubernetes_service_name": t.service,
                    "__meta_kubernetes_pod_name": t.pod_name,
                },
            }
            for t in targets
        ],
        "relabel_configs": relabel,
    }


@dataclass
class Webhook:
    """An Alertmanager webhook receiver: every notification, with the time it arrived."""

    port: int = field(default_factory=free_port)
    received: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((time.monotonic(), self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def first(self, alert: str, status: str, **labels: str) -> float | None:
        """When the first notification of `alert` in `status` with `labels` arrived."""
        for when, _, payload in self.received:
            for item in payload["alerts"]:
                match = all(item["labels"].get(k) == v for k, v in labels.items())
                if item["labels"]["alertname"] == alert and item["status"] == status and match:
                    return when
        return None

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Processes:
    """Background processes of the pipeline, each in its own session, stopped by pid."""

    root: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        with open(self.root / f"{name}.log", "ab") as log:
            self.started.append(
                subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={"PATH": os.environ["PATH"], **(env or {})},
                    start_new_session=True,
                )
            )

    def stop(self) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()}" for p in sorted(self.root.glob("*.log")))


def exporter_folder(procs: Processes, pod: Pod) -> Path:
    """Where the exporter of `pod` has its volumes (its Secret key under auth/)."""
    return procs.root / f"exporter-{pod.name}"


def start_exporters(
    local: LocalTopology, procs: Processes, namespace: str, groups: list[tuple[str, list[Pod]]]
) -> list[Target]:
    """One exporter per pod, as its StatefulSet's sidecar says; (StatefulSet name, pods)."""
    targets = []
    for statefulset, pods in groups:
        body = local._object("StatefulSet", statefulset)
        container = sidecar(body)
        service = body["spec"]["serviceName"]
        for index, pod in enumerate(pods):
            port = free_port()
            folder = exporter_folder(procs, pod)
            exporter_files(local, body, folder)
            procs.start(
                f"exporter-{pod.name}",
                exporter_command(
                    container, pod, port, folder, local.tls_dir if local.tls else None
                ),
                exporter_env(container, folder, pod),
            )
            targets.append(Target(pod, port, namespace, service, f"{statefulset}-{index}"))
    return targets


def write_yaml(path: Path, data: Any) -> Path:
    yaml = YAML()
    yaml.default_flow_style = False
    with open(path, "w") as out:
        yaml.dump(data, out)
    return path


def scrape(port: int) -> list[str]:
    """The sample lines an exporter serves."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text: str = reply.read().decode()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def api(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
        return json.loads(reply.read())["data"]
