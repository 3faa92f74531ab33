"""Run the chart's cleanup CronJobs as Kubernetes would start their container, against a
LocalTopology: the scripts from the rendered maintenance ConfigMap, the container's env with
the Service names made local, the Secret items its `auth` volume mounts (as files, like the
kubelet), and the data the jobs work on, written in the data contract's shapes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartgen.security.resp import Resp, RespError
from tests.live.topology import ADMIN, ADMIN_PASSWORD, LocalTopology, live_password


@dataclass(frozen=True)
class JobRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, str]:
        """The job's one-line `key=value` summary (the last line with `job=`)."""
        line = [x for x in self.stdout.splitlines() if x.startswith("job=")][-1]
        return dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))


def cronjob(local: LocalTopology, name: str) -> dict[str, Any]:
    found = [o.body for o in local.objects if o.kind == "CronJob" and o.name.endswith(name)]
    assert len(found) == 1, f"the chart renders no single CronJob *{name}"
    return found[0]


def _container(job: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def busybox_folder(root: Path) -> Path:
    """A folder of BusyBox applets: the userland of the redis:alpine image the jobs run in."""
    busybox = shutil.which("busybox")
    assert busybox, (
        "busybox is missing: apt-get install busybox (.ci/run does); the cleanup jobs run on "
        "the Alpine image's BusyBox sh, awk, sed, cut, paste"
    )
    folder = root / "busybox-bin"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        listing = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
        for applet in listing.stdout.split():
            (folder / applet).symlink_to(busybox)
    return folder


def job_command(
    local: LocalTopology,
    name: str,
    redis_port: int,
    sentinel_port: int | None = None,
    busybox: bool = False,
) -> tuple[list[str], dict[str, str]]:
    """The command and env of CronJob `*name`'s container, wired to the local servers; with
    `busybox`, run by BusyBox's sh with its applets first on PATH, as in the Alpine image."""
    job = cronjob(local, name)
    pod, container = _container(job)
    root = local.root / "jobs" / name
    scripts, auth, runtime = root / "scripts", root / "auth", root / "tmp"
    for folder in (scripts, auth, runtime):
        folder.mkdir(parents=True, exist_ok=True)
    configmap = pod_volume(pod, "scripts")["configMap"]["name"]
    data = next(o.body for o in local.objects if o.kind == "ConfigMap" and o.name == configmap)
    for key, text in data["data"].items():
        (scripts / key).write_text(text)
    for item in pod_volume(pod, "auth")["secret"]["items"]:
        (auth / item["path"]).write_text(live_password(item["key"]))
    env = {
        item["name"]: item["value"] if "value" in item else _ref(local, item)
        for item in container["env"]
    }
    env.update(
        {
            "PATH": os.environ["PATH"],
            "AUTH_DIR": str(auth),
            "RUNTIME_DIR": str(runtime),
        }
    )
    if "REDIS_HOST" in env:
        env.update({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_port)})
    if "SENTINEL_HOST" in env:
        assert sentinel_port is not None, "an ha job needs a Sentinel"
        env.update({"SENTINEL_HOST": "127.0.0.1", "SENTINEL_PORT": str(sentinel_port)})
    if "TLS_DIR" in env:
        env["TLS_DIR"] = str(local.tls_dir)
    command = [c.replace("/scripts/", f"{scripts}/") for c in container["command"]]
    if busybox:
        folder = busybox_folder(local.root)
        env["PATH"] = f"{folder}:{env['PATH']}"
        command[0] = str(folder / "sh")
    return command, env


def _ref(local: LocalTopology, item: dict[str, Any]) -> str:
    """An env item's value from the ConfigMap key it references."""
    ref = item["valueFrom"]["configMapKeyRef"]
    configmap = next(
        o.body for o in local.objects if o.kind == "ConfigMap" and o.name == ref["name"]
    )
    value: str = configmap["data"][ref["key"]]
    return value


def pod_volume(pod: dict[str, Any], name: str) -> dict[str, Any]:
    volume: dict[str, Any] = next(v for v in pod["volumes"] if v["name"] == name)
    return volume


def run_job(
    local: LocalTopology,
    name: str,
    redis_port: int,
    sentinel_port: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    busybox: bool = False,
) -> JobRun:
    command, job_env = job_command(local, name, redis_port, sentinel_port, busybox)
    result = subprocess.run(
        command,
        env={**job_env, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return JobRun(result.returncode, result.stdout, result.stderr)


def admin(port: int) -> Resp:
    """A connection as the test administrator."""
    conn = Resp(port, timeout=30)
    conn.call("AUTH", ADMIN, ADMIN_PASSWORD)
    return conn


def pipeline(conn: Resp, commands: Iterable[Sequence[str | int]], chunk: int = 5000) -> list[Any]:
    """Send commands in pipelined chunks; every reply (errors as RespError objects)."""
    replies: list[Any] = []
    batch: list[bytes] = []

    def flush() -> None:
        conn.sock.sendall(b"".join(batch))
        for _ in batch:
            try:
                replies.append(conn._read())
            except RespError as exc:
                replies.append(exc)
        batch.clear()

    for command in commands:
        parts = [str(a).encode() for a in command]
        batch.append(
            b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        )
        if len(batch) >= chunk:
            flush()
    if batch:
        flush()
    return replies


def session_commands(
    uid: str, sid: str, expiry_ms: int, ttl_ms: int | None, kind: str = "sessions"
) -> list[list[str | int]]:
    """A session (or refresh token) and its index entry as the contract writes them, in one
    MULTI; with ttl_ms None only the index entry (its key expired or was evicted)."""
    prefix = "session" if kind == "sessions" else "refresh"
    commands: list[list[str | int]] = [["MULTI"]]
    if ttl_ms is not None:
        commands.append(["HSET", f"{prefix}:{sid}", "uid", uid])
        commands.append(["PEXPIRE", f"{prefix}:{sid}", ttl_ms])
    commands.append(["ZADD", f"user:{uid}:{kind}", expiry_ms, sid])
    commands.append(["EXEC"])
    return commands


def cache_commands(
    service: str, key: str, last_access_ms: int, ttl_s: int | None
) -> list[list[str | int]]:
    """A cache entry and its index entry; with ttl_s None only the index entry."""
    commands: list[list[str | int]] = [["MULTI"]]
    if ttl_s is not None:
        commands.append(["SET", f"cache:{service}:{key}", f"value-{key}", "EX", ttl_s])
    commands.append(["ZADD", f"cache:{service}:index", last_access_ms, key])
    commands.append(["EXEC"])
    return commands


def snapshot(conn: Resp, db: int) -> dict[str, Any]:
    """Every key of `db` with its type and content (sorted sets with scores), for comparing."""
    conn.call("SELECT", db)
    state: dict[str, Any] = {}
    cursor = "0"
    while True:
        cursor, keys = conn.call("SCAN", cursor, "COUNT", 1000)
        for key in keys:
            kind = conn.call("TYPE", key)
            if kind == "zset":
                state[key] = tuple(conn.call("ZRANGE", key, 0, -1, "WITHSCORES"))
            elif kind == "hash":
                state[key] = tuple(sorted(conn.call("HGETALL", key)))
            elif kind == "string":
                state[key] = conn.call("GET", key)
            else:
                state[key] = kind
        if cursor == "0":
            break
    conn.call("SELECT", 0)
    return state


def server_ms(conn: Resp) -> int:
    seconds, micros = conn.call("TIME")
    return int(seconds) * 1000 + int(micros) // 1000
