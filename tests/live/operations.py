"""Run the chart's operations scripts (backup, restore, helm test) exactly as shipped against a
LocalTopology: the script files from the rendered ConfigMap, the env of the rendered container
with the cluster's names made local, the passwords' Secret as the pod mounts it (only its items).
Plus a small RESP client to write and read a few thousand keys quickly."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chartgen.engines.workloads import pod_spec
from tests.live.topology import ADMIN, ADMIN_PASSWORD, LocalTopology, live_password

FULLNAME = "sessions-session-database"


class Job:
    """One rendered job pod (CronJob, Job or Pod) laid out on disk beside a topology."""

    def __init__(self, local: LocalTopology, kind: str, name: str, folder: Path) -> None:
        body = next(o.body for o in local.objects if o.kind == kind and o.name == name)
        spec = pod_spec(body)
        assert spec is not None, f"{kind}/{name} has no pod spec"
        self.pod = spec[1]
        self.container: dict[str, Any] = self.pod["containers"][0]
        self.local = local
        self.folder = folder
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        self.scripts = folder / "scripts"
        self.scripts.mkdir(parents=True, exist_ok=True)
        configmap = volumes["scripts"]["configMap"]["name"]
        for key, text in local._object("ConfigMap", configmap)["data"].items():
            (self.scripts / key).write_text(text)
        self.auth = folder / "auth"
        self.auth.mkdir(exist_ok=True)
        for item in volumes["auth"]["secret"]["items"]:
            (self.auth / item["path"]).write_text(live_password(item["key"]))

    def env(self, **overrides: str) -> dict[str, str]:
        """The container's env: every cluster DNS name (a value ending in .svc.<domain>) becomes
        127.0.0.1; `overrides` set ports and paths (`NAME=value`)."""
        env = {"PATH": os.environ["PATH"]}
        for item in self.container["env"]:
            value = item["value"]
            value = value.replace("/scripts/", f"{self.scripts}/")
            env[item["name"]] = "127.0.0.1" if ".svc." in value else value
        if "TLS_DIR" in env:
            env["TLS_DIR"] = str(self.local.tls_dir)
        env["AUTH_DIR"] = str(self.auth)
        env.update(overrides)
        return env

    def run(self, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [c.replace("/scripts/", f"{self.scripts}/") for c in self.container["command"]]
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )


def summary(output: str, prefix: str) -> dict[str, str]:
    """The key=value pairs of the last line starting with `prefix` (the jobs' summary line)."""
    line = [x for x in output.splitlines() if x.startswith(prefix)][-1]
    return dict(part.split("=", 1) for part in line.split() if "=" in part)


class Resp:
    """A minimal pipelining RESP2 client (plaintext), as the test administrator."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = self.sock.makefile("rb")
        assert self.call("AUTH", ADMIN, ADMIN_PASSWORD) == b"OK"

    def close(self) -> None:
        self.buffer.close()
        self.sock.close()

    def send(self, commands: Sequence[tuple[str | bytes, ...]]) -> list[Any]:
        out = bytearray()
        for args in commands:
            out += b"*%d\r\n" % len(args)
            for arg in args:
                data = arg if isinstance(arg, bytes) else str(arg).encode()
                out += b"$%d\r\n%s\r\n" % (len(data), data)
        self.sock.sendall(out)
        return [self._reply() for _ in commands]

    def call(self, *args: str | bytes) -> Any:
        return self.send([args])[0]

    def _reply(self) -> Any:
        line = self.buffer.readline()[:-2]
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return rest if kind == b"+" else RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            if int(rest) < 0:
                return None
            data = self.buffer.read(int(rest) + 2)[:-2]
            return data
        if kind == b"*":
            return None if int(rest) < 0 else [self._reply() for _ in range(int(rest))]
        raise AssertionError(f"unexpected reply {line!r}")


def snapshot(port: int, databases: tuple[int, ...]) -> dict[tuple[int, bytes], tuple[Any, ...]]:
    """Every key of `databases`: (type, value, PTTL)."""
    client = Resp(port)
    found: dict[tuple[int, bytes], tuple[Any, ...]] = {}
    try:
        for db in databases:
            client.call("SELECT", str(db))
            keys: list[bytes] = []
            cursor = b"0"
            while True:
                cursor, batch = client.call("SCAN", cursor, "COUNT", "1000")
                keys.extend(batch)
                if cursor == b"0":
                    break
            types = client.send([("TYPE", k) for k in keys])
            ttls = client.send([("PTTL", k) for k in keys])
            reads = {b"string": "GET", b"hash": "HGETALL", b"zset": "ZRANGE"}
            values = client.send(
                [
                    (reads[t], k, "0", "-1", "WITHSCORES") if t == b"zset" else (reads[t], k)
                    for k, t in zip(keys, types, strict=True)
                ]
            )
            for key, kind, ttl, value in zip(keys, types, ttls, values, strict=True):
                pairs = dict(zip(value[::2], value[1::2], strict=True)) if kind == b"hash" else {}
                found[(db, key)] = (kind, pairs or value, ttl)
    finally:
        client.close()
    return found
