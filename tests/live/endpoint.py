"""The master endpoint of a booted LocalTopology: the real HAProxy (Debian's) started by the
chart's own start-endpoint.sh with the rendered haproxy.cfg. Only what must be local changes:
the listening addresses and each data pod's address (its DNS name becomes 127.0.0.1 and its
port); the check lines stay exactly as rendered."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from chartgen.security.resp import Resp, RespError
from tests.live.ports import free_port
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


@dataclass
class LocalEndpoint:
    root: Path
    config: str  # as rendered
    port: int = field(default_factory=free_port)
    health: int = field(default_factory=free_port)
    cache_port: int = field(default_factory=free_port)  # the cache group's frontend
    process: subprocess.Popen[bytes] | None = None

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
        haproxy = require_haproxy()
        pods = {f"{REDIS_SET}-{i}": pod.port for i, pod in enumerate(topology.redis)}
        pods |= {f"{CACHE_SET}-{i}": pod.port for i, pod in enumerate(topology.cache)}
        config = local_config(self.config, self.port, self.health, pods, self.cache_port)
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
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                ["/bin/sh", str(self.root / "start-endpoint.sh")],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: self.serving_port() is not None, "the endpoint routes to a master")

    def set_password(self, passwords: list[str]) -> None:
        """Change the mounted PROBE_PASSWORD in place, as the kubelet's update does."""
        staging = self.root / "auth" / ".PROBE_PASSWORD.new"
        staging.write_text("\n".join(passwords))
        os.replace(staging, self.root / "auth" / "PROBE_PASSWORD")

    def serving_port(self, frontend: int | None = None) -> int | None:
        """The data pod port a new connection through the endpoint (its `frontend` port, by
        default the sessions' one) reaches, None if refused."""
        try:
            with Resp(frontend or self.port, timeout=2) as conn:
                return connected_port(conn)
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


def connected_port(conn: Resp) -> int:
    """Log in as the test administrator and return the port of the server behind `conn`."""
    assert conn.call("AUTH", ADMIN, ADMIN_PASSWORD) == "OK"
    server = conn.call("INFO", "server")
    match = re.search(r"^tcp_port:(\d+)", server, re.M)
    assert match, server
    return int(match.group(1))
