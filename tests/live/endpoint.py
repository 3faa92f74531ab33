"""The master endpoint of a booted LocalTopology: the real HAProxy (Debian's) started by the
chart's own start-endpoint.sh with the rendered haproxy.cfg. Only what must be local changes:
the listening addresses and each data pod's address (its DNS name becomes 127.0.0.1 and its
port); the check lines stay exactly as rendered."""

from __future__ import annotations

import os
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from chartgen.security.resp import Resp, RespError
from tests.live.addresses import POOL, PerPodTopology, in_namespace
from tests.live.dns import HostsDns
from tests.live.ports import free_port
from tests.live.tls import client_context
from tests.live.topology import (
    ADMIN,
    ADMIN_PASSWORD,
    CACHE_SET,
    REDIS_SET,
    LocalTopology,
    live_password,
    wait_for,
)

ENDPOINT = "sessions-session-database-endpoint"
HAPROXY_DIRS = ("/usr/sbin", "/usr/local/sbin")


def require_haproxy() -> str:
    path = shutil.which("haproxy", path=os.pathsep.join([*HAPROXY_DIRS, os.environ["PATH"]]))
    assert path, "install Debian's haproxy (apt-get install haproxy, see .ci/run)"
    return path


def check_lines(config: str) -> list[str]:
    """The rendered lines that decide where clients go: the check, its timing, the rule."""
    keep = ("option tcp-check", "tcp-check ", "default-server ", "tcp-request ", "resolvers ")
    return [line.strip() for line in config.splitlines() if line.strip().startswith(keep)]


def local_config(
    config: str, port: int, health: int, pods: dict[str, int], cache_port: int = 0
) -> str:
    """The rendered haproxy.cfg with local listeners and each server at 127.0.0.1:<its port>
    (the cache's frontend, when rendered, at `cache_port`)."""
    config = re.sub(r"(?m)^(\s*bind) :6379$", rf"\1 127.0.0.1:{port}", config)
    config = re.sub(r"(?m)^(\s*bind) :6380$", rf"\1 127.0.0.1:{cache_port}", config)
    config = re.sub(r"(?m)^(\s*bind) :8404$", rf"\1 127.0.0.1:{health}", config)

    def server(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"{match.group(1)}{name} 127.0.0.1:{pods[name]}"

    return re.sub(r"(?m)^(\s*server )(\S+) \S+:\d+", server, config)


def frontend_ports(config: str) -> dict[str, int]:
    """frontend name -> the port it binds (`bind :<port>`), from a rendered haproxy.cfg."""
    ports: dict[str, int] = {}
    frontend = ""
    for line in config.splitlines():
        words = line.split()
        if words[:1] == ["frontend"]:
            frontend = words[1]
        elif words[:1] == ["bind"] and frontend and words[1].startswith(":"):
            ports[frontend] = int(words[1][1:])
    return ports


@dataclass
class LocalEndpoint:
    root: Path
    config: str  # as rendered
    port: int = field(default_factory=free_port)
    health: int = field(default_factory=free_port)
    cache_port: int = field(default_factory=free_port)  # the cache group's frontend
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    tls: ssl.SSLContext | None = None  # clients speak TLS through the endpoint to Redis

    @classmethod
    def of(cls, topology: LocalTopology) -> LocalEndpoint:
        data = topology._object("ConfigMap", ENDPOINT)["data"]
        root = topology.root / "endpoint"
        root.mkdir()
        for key, text in data.items():
            (root / key).write_text(text)
        return cls(root, data["haproxy.cfg"])

    @property
    def log(self) -> Path:
        return self.root / "haproxy.log"

    def start(self, topology: LocalTopology) -> None:
        """On 127.0.0.1 beside a LocalTopology: each server line becomes 127.0.0.1:<pod port>."""
        pods = {f"{REDIS_SET}-{i}": pod.port for i, pod in enumerate(topology.redis)}
        pods |= {f"{CACHE_SET}-{i}": pod.port for i, pod in enumerate(topology.cache)}
        config = local_config(self.config, self.port, self.health, pods, self.cache_port)
        self._launch(config, None)

    def start_per_pod(self, topology: PerPodTopology, dns: HostsDns) -> None:
        """As a pod of a PerPodTopology: its own address and the chart's port, and the server
        lines exactly as rendered (pod FQDNs), resolved by HAProxy's own resolver against the
        test's DNS server (the one line changed: `parse-resolv-conf` -> that nameserver)."""
        self.host = POOL.take()
        # the chart's ports: the client frontend's, the cache's (group separate), the health one
        binds = frontend_ports(self.config)
        self.port, self.health = binds["redis"], binds["health"]
        self.cache_port = binds.get("cache", self.cache_port)
        config = re.sub(r"(?m)^(\s*bind) :(\d+)$", rf"\1 {self.host}:\2", self.config)
        assert "parse-resolv-conf" in config, "the rendered resolvers section changed"
        config = config.replace("parse-resolv-conf", f"nameserver cluster 127.0.0.1:{dns.port}")
        if topology.tls:  # the certificate Secret's mount
            config = config.replace(" ca-file /etc/redis-tls/", f" ca-file {topology.tls_dir}/")
            self.tls = client_context(topology.tls_dir / "ca.crt")
        self._launch(config, topology.hosts)

    def _launch(self, config: str, hosts: Path | None) -> None:
        haproxy = require_haproxy()
        rendered = check_lines(self.config)
        assert "tcp-check expect string role:master" in rendered, rendered
        missing = [line for line in rendered if line not in config]
        assert not missing, f"local config lost rendered lines {missing}"
        (self.root / "haproxy.local.cfg").write_text(config)
        auth = self.root / "auth"
        auth.mkdir(exist_ok=True)
        # the Deployment mounts this one key of the Secret
        (auth / "PROBE_PASSWORD").write_text(live_password("PROBE_PASSWORD"))
        env = {
            "PATH": os.pathsep.join([str(Path(haproxy).parent), os.environ["PATH"]]),
            "CONFIG_FILE": str(self.root / "haproxy.local.cfg"),
            "AUTH_DIR": str(auth),
            "AUTH_POLL_SECONDS": "1",
        }
        command = ["/bin/sh", str(self.root / "start-endpoint.sh")]
        if hosts is not None:
            command = in_namespace(hosts, command)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: self.serving() is not None, "the endpoint routes to a master")

    def set_password(self, passwords: list[str]) -> None:
        """Change the mounted PROBE_PASSWORD in place, as the kubelet's update does."""
        staging = self.root / "auth" / ".PROBE_PASSWORD.new"
        staging.write_text("\n".join(passwords))
        os.replace(staging, self.root / "auth" / "PROBE_PASSWORD")

    def serving(self, frontend: int | None = None) -> str | None:
        """The data pod (`address:port`) a new connection through the endpoint (its `frontend`
        port, by default the sessions' one) reaches, None if the endpoint refuses it."""
        try:
            with Resp(frontend or self.port, host=self.host, timeout=2, tls=self.tls) as conn:
                return connected_server(conn)
        except (OSError, ConnectionError, RespError):
            return None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None


def connected_server(conn: Resp) -> str:
    """Log in as the test administrator and return the server behind `conn` as `address:port`
    (its side of the connection: 127.0.0.1:<pod port>, or a PerPodTopology pod's address)."""
    assert conn.call("AUTH", ADMIN, ADMIN_PASSWORD) == "OK"
    client = conn.call("CLIENT", "INFO")
    match = re.search(r"\bladdr=(\S+)", client)
    assert match, client
    return str(match.group(1))


# "Within a few seconds" (issue 9), with room for a loaded CI machine: measured about 2.3 s
# for a crash (Sentinel's down-after of 1 s in FAST_FAILOVER, its election and promotion, a
# replica reattaching for min-replicas-to-write 1, one check interval) and 1.4-2.1 s for a
# hand-over (no detection), but up to 6.2 s for a hand-over on a starved machine; the figures
# belong to benchmarks/failover_bench.py, the bounds only catch an endpoint that stopped
# following.
CRASH_BOUND_SECONDS = 15.0
HANDOVER_BOUND_SECONDS = 12.0


@dataclass
class Reply:
    at: float
    server: str | None  # the data pod behind the connection (address:port); None: no connection
    answer: str  # "OK", an error reply, or "connection: ..." when the connection failed


@dataclass
class Writer:
    """SET session:endpoint <n> in a loop through the endpoint, reconnecting on any failure."""

    endpoint: LocalEndpoint
    replies: list[Reply] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        counter, conn, server = 0, None, None
        while not self.stop.is_set():
            try:
                if conn is None:
                    endpoint = self.endpoint
                    conn = Resp(endpoint.port, host=endpoint.host, timeout=3, tls=endpoint.tls)
                    server = connected_server(conn)
                counter += 1
                answer = conn.call("SET", "session:endpoint", counter)
            except RespError as exc:
                answer = str(exc)
            except (OSError, ConnectionError, AssertionError) as exc:
                answer = f"connection: {exc}"
                if conn is not None:
                    conn.close()
                conn, server = None, None
                time.sleep(0.02)
            self.replies.append(Reply(time.monotonic(), server, answer))
        if conn is not None:
            conn.close()

    def acknowledged(self, since: float = 0.0) -> list[Reply]:
        return [r for r in self.replies if r.answer == "OK" and r.at >= since]


@contextmanager
def writing(endpoint: LocalEndpoint) -> Iterator[Writer]:
    """A Writer on its own thread, writing until the block ends."""
    client = Writer(endpoint)
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(client.acknowledged()) >= 50, "the client writing")
        yield client
    finally:
        client.stop.set()
        thread.join(timeout=10)


def converged(client: Writer, event: float, old: str) -> tuple[float, str]:
    """(seconds from the event to the first write a new master acknowledged, that master);
    asserts that every later reply is OK or a cut connection, never an error reply."""
    wait_for(
        lambda: any(r.server not in (None, old) for r in client.acknowledged(event)),
        "a write acknowledged by the new master",
        timeout=30,
    )
    time.sleep(2)  # keep writing a while after convergence
    first = next(r for r in client.acknowledged(event) if r.server != old)
    # what the client saw in between, for the log
    between = Counter(r.answer[:40] for r in client.replies if event <= r.at < first.at)
    print(f"replies before convergence: {dict(between)}")
    later = [r for r in client.replies if r.at > first.at]
    print(f"replies after convergence: {dict(Counter(r.answer[:40] for r in later))}")
    # NOREPLICAS would be the new master's own guard (min-replicas-to-write) while its replica
    # resynchronises, not the endpoint's routing; every other error reply fails the test.
    refused = [
        r for r in later if r.answer.split(" ")[0] not in ("OK", "connection:", "NOREPLICAS")
    ]
    assert not refused, f"error replies after convergence: {refused[:5]}"
    assert all(r.server == first.server for r in later if r.answer == "OK"), "writes on two masters"
    assert len([r for r in later if r.answer == "OK"]) >= 20, "writes stopped after convergence"
    assert first.server is not None
    return first.at - event, first.server
