"""A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver and kube-controller-manager
built by `.ci/control-plane`, started on free loopback ports and stopped when the tests end."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chartgen.engines.kube_api import Connection, KubeAPIError, KubeClient
from chartgen.engines.manifests import load_objects
from tests.live.ports import free_port

REPO = Path(__file__).resolve().parents[2]
# Unmodified upstream CRDs (PROVENANCE.md beside them).
UPSTREAM_CRDS = REPO / "tests" / "crds"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")


def binary_dir() -> Path:
    """Where .ci/control-plane put the binaries ($CHARTGEN_CONTROL_PLANE_BIN, else it is asked,
    which builds them when they are not cached yet)."""
    given = os.environ.get("CHARTGEN_CONTROL_PLANE_BIN")
    if given:
        found = Path(given)
    else:
        built = subprocess.run(
            ["bash", str(REPO / ".ci" / "control-plane")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert built.returncode == 0, f".ci/control-plane failed:\n{built.stderr[-3000:]}"
        found = Path(built.stdout.strip().splitlines()[-1])
    missing = [b for b in BINARIES if not (found / b).is_file()]
    assert not missing, f"{found} lacks {missing}: run `bash .ci/control-plane` (see .ci/run)"
    return found


@dataclass
class ControlPlane:
    """A running etcd + kube-apiserver + kube-controller-manager, and an admin kubeconfig."""

    root: Path
    server: str
    kubeconfig: Path
    ca_file: Path
    token: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def client(self) -> KubeClient:
        return KubeClient(Connection(self.server, ca_file=str(self.ca_file), token=self.token))

    def env(self) -> dict[str, str]:
        """Environment for a CLI (helm) pointed at this cluster only."""
        return {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "HELM_CACHE_HOME": str(self.root / "helm" / "cache"),
            "HELM_CONFIG_HOME": str(self.root / "helm" / "config"),
            "HELM_DATA_HOME": str(self.root / "helm" / "data"),
        }

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text("utf-8", "replace")[-4000:] if path.exists() else ""


def _spawn(root: Path, name: str, command: list[str]) -> subprocess.Popen[bytes]:
    log = (root / f"{name}.log").open("wb")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    # The state is thrown away: a short grace period, then SIGKILL (kube-apiserver's graceful
    # shutdown alone takes over 10 s).
    for process in reversed(processes):
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _make_certificates(cert_dir: Path) -> Path:
    """ca.crt, and apiserver.crt/key for 127.0.0.1 and the in-cluster names, signed by it."""
    cert_dir.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cert_dir)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=chartgen-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=kube-apiserver",
        "-keyout",
        "apiserver.key",
        "-out",
        "apiserver.csr",
    )
    (cert_dir / "san.ext").write_text(
        "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,"
        "DNS:kubernetes.default,DNS:kubernetes.default.svc\n"
    )
    openssl(
        "x509",
        "-req",
        "-in",
        "apiserver.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "apiserver.crt",
    )
    return cert_dir / "ca.crt"


def _wait_ready(plane: ControlPlane, deadline: float) -> None:
    client = plane.client()
    last = ""
    while time.monotonic() < deadline:
        for process in plane.processes:
            if process.poll() is not None:
                name = Path(str(next(iter(process.args)))).name  # type: ignore[arg-type]
                raise AssertionError(f"{name} exited ({process.returncode}):\n{plane.log(name)}")
        if plane.ca_file.exists():
            try:
                client.request("GET", "/readyz")
                # The default namespace and the built-in priority classes exist once the
                # bootstrap controllers ran; a namespace's service account needs the
                # controller-manager.
                client.request("GET", "/api/v1/namespaces/default")
                return
            except KubeAPIError as err:
                last = err.message
                client = plane.client()
        time.sleep(0.2)
    raise AssertionError(f"kube-apiserver not ready: {last}\n{plane.log('kube-apiserver')}")


@contextlib.contextmanager
def control_plane(root: Path, bin_dir: Path | None = None) -> Iterator[ControlPlane]:
    """Start the control plane under `root`; stop it (and remove nothing) on exit."""
    for tool in ("openssl",):
        assert shutil.which(tool), f"{tool} is needed to make the service-account key pair"
    bins = bin_dir or binary_dir()
    root.mkdir(parents=True, exist_ok=True)
    etcd_client, etcd_peer, api_port = free_port(), free_port(), free_port()
    token = secrets.token_hex(16)
    (root / "tokens.csv").write_text(f'{token},chartgen-admin,admin-uid,"system:masters"\n')
    subprocess.run(
        ["openssl", "genrsa", "-out", str(root / "sa.key"), "2048"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["openssl", "rsa", "-in", str(root / "sa.key"), "-pubout", "-out", str(root / "sa.pub")],
        check=True,
        capture_output=True,
    )
    cert_dir = root / "certs"
    server = f"https://127.0.0.1:{api_port}"
    kubeconfig = root / "kubeconfig"
    # A CA of its own signs the serving certificate: controllers publish the CA into every
    # namespace (kube-root-ca.crt), which a self-signed leaf certificate cannot be.
    ca_file = _make_certificates(cert_dir)
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: local\n  cluster:\n    server: {server}\n"
        f"    certificate-authority: {ca_file}\n"
        f"users:\n- name: admin\n  user:\n    token: {token}\n"
        "contexts:\n- name: local\n  context: {cluster: local, user: admin}\n"
        "current-context: local\n"
    )
    plane = ControlPlane(root, server, kubeconfig, ca_file, token)
    try:
        plane.processes.append(
            _spawn(
                root,
                "etcd",
                [
                    str(bins / "etcd"),
                    "--name=default",
                    f"--data-dir={root / 'etcd'}",
                    f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
                    f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
                    f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}",
                    "--unsafe-no-fsync",
                    "--log-level=warn",
                ],
            )
        )
        plane.processes.append(
            _spawn(
                root,
                "kube-apiserver",
                [
                    str(bins / "kube-apiserver"),
                    f"--etcd-servers=http://127.0.0.1:{etcd_client}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={api_port}",
                    f"--tls-cert-file={cert_dir / 'apiserver.crt'}",
                    f"--tls-private-key-file={cert_dir / 'apiserver.key'}",
                    f"--client-ca-file={ca_file}",
                    f"--token-auth-file={root / 'tokens.csv'}",
                    "--authorization-mode=RBAC",
                    f"--service-account-key-file={root / 'sa.pub'}",
                    f"--service-account-signing-key-file={root / 'sa.key'}",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    "--service-cluster-ip-range=10.96.0.0/16",
                    # Without it the apiserver refuses to publish 127.0.0.1 as its endpoint.
                    "--endpoint-reconciler-type=none",
                    "--enable-priority-and-fairness=false",
                    # as real clusters do: Pod Security admission, not this flag, refuses them
                    "--allow-privileged=true",
                    "--profiling=false",
                ],
            )
        )
        _wait_ready(plane, time.monotonic() + 120)
        plane.processes.append(
            _spawn(
                root,
                "kube-controller-manager",
                [
                    str(bins / "kube-controller-manager"),
                    f"--kubeconfig={kubeconfig}",
                    f"--authentication-kubeconfig={kubeconfig}",
                    f"--authorization-kubeconfig={kubeconfig}",
                    "--bind-address=127.0.0.1",
                    "--secure-port=0",
                    "--leader-elect=false",
                    f"--service-account-private-key-file={root / 'sa.key'}",
                    f"--root-ca-file={ca_file}",
                    "--controllers=*",
                    "--use-service-account-credentials=false",
                ],
            )
        )
        yield plane
    finally:
        _stop(plane.processes)


def crd_documents() -> list[dict[str, Any]]:
    """The upstream CRDs, parsed as Kubernetes parses them (YAML 1.1: an enum value `=` is a
    string there, not YAML 1.1's value tag)."""
    docs: list[dict[str, Any]] = []
    for path in sorted(UPSTREAM_CRDS.glob("*/*.yaml")):
        docs.extend(load_objects(path.read_text("utf-8")))
    return docs


def install_crds(plane: ControlPlane, timeout: float = 60) -> None:
    """Apply the upstream CRDs and wait until each is Established."""
    client = plane.client()
    docs = crd_documents()
    # in parallel: the server spends most of the time compiling each CRD's schema
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(client.apply, docs))
    deadline = time.monotonic() + timeout
    for doc in docs:
        while True:
            live = client.get(doc)
            conditions = (live.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                break
            assert time.monotonic() < deadline, f"CRD {doc['metadata']['name']} not Established"
            time.sleep(0.1)
