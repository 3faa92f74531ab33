"""Boot the rendered HA topology with real redis-server and redis-sentinel on 127.0.0.1.

The pods' start scripts, health checks, ACL users and configuration come from the chart as the
real Helm engine renders it; only the addresses change: every pod DNS name maps to 127.0.0.1 and
a free port, as the headless Services would resolve them in a cluster. The passwords' Secret is
a folder of files, one per key, as the kubelet mounts it (and updates it on rotation); so is the
certificate Secret when the rendered chart has TLS on (the test puts tls.crt, tls.key and ca.crt
in `LocalTopology.tls_dir`). The tests talk to the servers as one test-only administrator, added
to the rendered ACL users, over TLS to a topology that has it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chartgen.engines import helm
from tests.live.ports import free_port

REDIS_SET = "sessions-session-database-redis"
# the cache's own group (cache.group: separate)
CACHE_SET = "sessions-session-database-cache"
SENTINEL_SET = "sessions-session-database-sentinel"
SENTINEL_SERVICE = "sessions-session-database-sentinel"


# The test-only administrator (its own Secret key, so rotating the chart's keys never locks the
# tests out).
ADMIN, ADMIN_KEY, ADMIN_PASSWORD = "chartgen-test", "CHARTGEN_TEST_PASSWORD", "live-test-admin"
ADMIN_LINE = f"{ADMIN_KEY} user {ADMIN} on resetpass allkeys allchannels +@all"


# Ports served over TLS only -> the CA their certificate is checked against.
TLS_PORTS: dict[int, Path] = {}


def tls_args(port: int) -> list[str]:
    """redis-cli's TLS options for a server of a TLS topology, else none."""
    ca = TLS_PORTS.get(port)
    return ["--tls", "--cacert", str(ca)] if ca else []


def cli_as(
    user: str, password: str, port: int, *args: str, timeout: float = 5, host: str = "127.0.0.1"
) -> str:
    """redis-cli as `user` (password through REDISCLI_AUTH, as the chart's scripts do), over TLS
    when the server's topology has TLS on."""
    result = subprocess.run(
        ["redis-cli", *tls_args(port), "--user", user, "-h", host, "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "REDISCLI_AUTH": password},
    )
    return (result.stdout + (result.stderr if result.returncode else "")).strip()


def cli(port: int, *args: str, timeout: float = 5, host: str = "127.0.0.1") -> str:
    """redis-cli as the test administrator."""
    return cli_as(ADMIN, ADMIN_PASSWORD, port, *args, timeout=timeout, host=host)


def live_password(key: str) -> str:
    """The password the live topology's Secret holds for `key`."""
    return f"{key.lower().replace('_', '-')}-live"


def info(port: int, section: str, host: str = "127.0.0.1") -> dict[str, str]:
    reply = cli(port, "INFO", section, host=host)
    pairs = (line.split(":", 1) for line in reply.splitlines() if ":" in line)
    return {key: value.strip() for key, value in pairs}


def master_entry(sentinel_info: dict[str, str], master_set: str) -> str:
    """The `masterN` line of a Sentinel's INFO sentinel for `master_set` (a Sentinel monitoring
    the cache's own group too lists two, in no fixed order), or ""."""
    for key, value in sentinel_info.items():
        if re.fullmatch(r"master\d+", key) and value.startswith(f"name={master_set},"):
            return value
    return ""


def online_replicas(port: int) -> int:
    """Replicas past their initial sync (connected_slaves also counts those still syncing)."""
    return sum(
        "state=online" in value
        for key, value in info(port, "replication").items()
        if re.fullmatch(r"slave\d+", key)
    )


def acknowledged(port: int, replicas: int) -> bool:
    """WAIT for `replicas` acknowledgements of the writes so far (the client outlives WAIT)."""
    return cli(port, "WAIT", str(replicas), "10000", timeout=20) == str(replicas)


def wait_for(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Pod:
    name: str
    port: int
    env: dict[str, str]
    command: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    # where the test reaches the pod (the per-pod address mode gives each its own)
    host: str = "127.0.0.1"

    def start(self, extra: list[str]) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*self.command, *extra],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None


@dataclass
class LocalTopology:
    """One Redis StatefulSet and one Sentinel StatefulSet (and the cache's own Redis
    StatefulSet, when built with cache pods), as processes."""

    root: Path
    objects: list[helm.RenderedObject]
    redis: list[Pod] = field(default_factory=list)
    sentinels: list[Pod] = field(default_factory=list)
    cache: list[Pod] = field(default_factory=list)

    def _object(self, kind: str, name: str) -> dict[str, Any]:
        return next(o.body for o in self.objects if o.kind == kind and o.name == name)

    def _files(self, configmap: str, folder: str) -> Path:
        target = self.root / folder
        target.mkdir(parents=True, exist_ok=True)
        for key, text in self._object("ConfigMap", configmap)["data"].items():
            extra = ADMIN_LINE + "\n" if key == "users.acl" else ""
            (target / key).write_text(text + extra)
        return target

    def auth_dir(self, statefulset: str) -> Path:
        """The passwords' Secret as one StatefulSet's pods mount it (only its items)."""
        return self.root / "auth" / statefulset

    @property
    def tls_dir(self) -> Path:
        """The certificate Secret's folder (tls.crt, tls.key, ca.crt), as the kubelet mounts it."""
        return self.root / "tls"

    @property
    def tls(self) -> bool:
        """The rendered chart serves TLS (its containers get TLS_DIR)."""
        return any(item["name"] == "TLS_DIR" for item in self.container(REDIS_SET)["env"])

    def _write_secret(self) -> None:
        """The passwords' Secret as the kubelet mounts it in each StatefulSet's pods: a file per
        item of its `auth` volume (so a key a pod reads but does not mount is missing here too),
        without a final newline, as Secret values usually are."""
        for obj in self.objects:
            if obj.kind != "StatefulSet":
                continue
            folder = self.auth_dir(obj.name)
            folder.mkdir(parents=True, exist_ok=True)
            for volume in obj.body["spec"]["template"]["spec"]["volumes"]:
                if volume["name"] == "auth":
                    for item in volume["secret"]["items"]:
                        (folder / item["path"]).write_text(live_password(item["key"]))
            (folder / ADMIN_KEY).write_text(ADMIN_PASSWORD)

    def set_secret(self, key: str, passwords: list[str]) -> None:
        """Change one key in every pod's mount, atomically, as the kubelet's update does."""
        for folder in (self.root / "auth").iterdir():
            if (folder / key).is_file():
                staging = folder / f".{key}.new"
                staging.write_text("\n".join(passwords))
                os.replace(staging, folder / key)

    def container(self, statefulset: str) -> dict[str, Any]:
        spec = self._object("StatefulSet", statefulset)["spec"]
        container: dict[str, Any] = spec["template"]["spec"]["containers"][0]
        return container

    def _env(
        self, statefulset: str, pod: str, address: dict[str, int], paths: dict[str, str]
    ) -> dict[str, str]:
        """The container's env as Kubernetes would expand it, with DNS names made local."""
        env = {"PATH": os.environ["PATH"], "POD_NAME": pod}
        for item in self.container(statefulset)["env"]:
            if "value" in item:
                env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], item["value"])
        for name, original in list(env.items()):
            value = original
            for fqdn, port in address.items():
                value = re.sub(
                    rf"{re.escape(fqdn)}(:\d+)?",
                    f"127.0.0.1:{port}" if ":" in value or " " in value else "127.0.0.1",
                    value,
                )
            env[name] = value
        env.update(paths)
        if "AUTH_STATE_DIR" in env and "AUTH_STATE_DIR" not in paths:
            # the emptyDir the server's password watcher shares with the exporter sidecar
            state = self.root / pod / "auth-state"
            state.mkdir(parents=True, exist_ok=True)
            env["AUTH_STATE_DIR"] = str(state)
        return env

    def cache_replicas(self, cache: int | None) -> int:
        """Pods of the cache's own group to lay out: `cache` when given, else as many as the
        rendered `<fullname>-cache` StatefulSet asks for (none when the render has no cache
        group, i.e. cache.group shared)."""
        if cache is not None:
            return cache
        sets = [o.body for o in self.objects if o.kind == "StatefulSet" and o.name == CACHE_SET]
        return int(sets[0]["spec"]["replicas"]) if sets else 0

    def build(self, replicas: int, sentinels: int, cache: int | None = None) -> None:
        """Lay out `replicas` data pods, `sentinels` Sentinels (0 for standalone) and `cache`
        pods of the cache's own group (default: what the render's cache StatefulSet asks)."""
        cache = self.cache_replicas(cache)
        self._write_secret()
        secret = {"AUTH_POLL_SECONDS": "1"}
        if self.tls:
            assert (self.tls_dir / "ca.crt").is_file(), f"put the certificates in {self.tls_dir}"
            secret["TLS_DIR"] = str(self.tls_dir)
        redis_env0 = {i["name"]: i.get("value", "") for i in self.container(REDIS_SET)["env"]}
        redis_ports = [free_port() for _ in range(replicas)]
        cache_ports = [free_port() for _ in range(cache)]
        sentinel_ports = [free_port() for _ in range(sentinels)]
        address: dict[str, int] = {}
        ha_paths: dict[str, str] = {}
        if "ANNOUNCE_HOST" in redis_env0:  # ha mode; with sentinels=0 no Sentinel answers
            suffix = redis_env0["ANNOUNCE_HOST"].split(".", 1)[1]  # <headless>.<ns>.svc.<domain>
            address = {f"{REDIS_SET}-{i}.{suffix}": p for i, p in enumerate(redis_ports)}
            if cache:
                cache_suffix = suffix.replace(REDIS_SET, CACHE_SET, 1)
                address |= {f"{CACHE_SET}-{i}.{cache_suffix}": p for i, p in enumerate(cache_ports)}
            # the Sentinel ClusterIP Service: any ready Sentinel answers; locally the first one
            service_port = sentinel_ports[0] if sentinels else free_port()
            address[redis_env0["SENTINEL_HOST"]] = service_port
            ha_paths = {"SENTINEL_PORT": str(service_port), "SEED_PORT": str(redis_ports[0])}
        if sentinels:
            sentinel_dir = self._files(SENTINEL_SET, "sentinel-config")
            sentinel_env0 = {
                i["name"]: i.get("value", "") for i in self.container(SENTINEL_SET)["env"]
            }
            sentinel_suffix = sentinel_env0["ANNOUNCE_HOST"].split(".", 1)[1]
            address |= {
                f"{SENTINEL_SET}-{i}.{sentinel_suffix}": p for i, p in enumerate(sentinel_ports)
            }
        groups = [(REDIS_SET, "redis", redis_ports, self.redis)]
        if cache:
            groups.append((CACHE_SET, "cache", cache_ports, self.cache))
        for statefulset, prefix, ports, pods in groups:
            config_dir = self._files(statefulset, f"{prefix}-config")
            seed = {"SEED_PORT": str(ports[0])} if ha_paths else {}
            for i, port in enumerate(ports):
                data = self.root / f"{prefix}-{i}" / "data"
                runtime = self.root / f"{prefix}-{i}" / "run"
                data.mkdir(parents=True)
                runtime.mkdir(parents=True)
                env = self._env(
                    statefulset,
                    f"{statefulset}-{i}",
                    address,
                    {
                        "CONFIG_FILE": str(config_dir / "redis.conf"),
                        "RUNTIME_DIR": str(runtime),
                        "DATA_DIR": str(data),
                        "REDIS_PORT": str(port),
                        **ha_paths,
                        **seed,
                        **secret,
                        "AUTH_DIR": str(self.auth_dir(statefulset)),
                    },
                )
                if self.tls:
                    TLS_PORTS[port] = self.tls_dir / "ca.crt"
                pods.append(
                    Pod(
                        f"{prefix}-{i}",
                        port,
                        env,
                        ["/bin/sh", str(config_dir / "start-redis.sh")],
                        self.root / f"{prefix}-{i}.log",
                    )
                )
        for i, port in enumerate(sentinel_ports):
            runtime = self.root / f"sentinel-{i}" / "run"
            runtime.mkdir(parents=True)
            env = self._env(
                SENTINEL_SET,
                f"{SENTINEL_SET}-{i}",
                address,
                {
                    "CONFIG_DIR": str(sentinel_dir),
                    "RUNTIME_DIR": str(runtime),
                    "SENTINEL_PORT": str(port),
                    **secret,
                    "AUTH_DIR": str(self.auth_dir(SENTINEL_SET)),
                },
            )
            if self.tls:
                TLS_PORTS[port] = self.tls_dir / "ca.crt"
            self.sentinels.append(
                Pod(
                    f"sentinel-{i}",
                    port,
                    env,
                    ["/bin/sh", str(sentinel_dir / "start-sentinel.sh")],
                    self.root / f"sentinel-{i}.log",
                )
            )

    def kubelet_exec(
        self, pod: Pod, command: list[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """A kubelet exec action (probe, preStop) of `pod`: the container's command, its scripts
        taken from the pod's folder instead of the mounted /scripts/, with the pod's env."""
        scripts = str(Path(pod.command[1]).parent) + "/"
        return subprocess.run(
            [c.replace("/scripts/", scripts) for c in command],
            env=pod.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def probe(self, statefulset: str, pod: Pod, kind: str) -> bool:
        """Run the container's exec probe, as the kubelet would, against the local process."""
        command = list(self.container(statefulset)[kind]["exec"]["command"])
        return self.kubelet_exec(pod, command, 10).returncode == 0

    def pre_stop(self, pod: Pod) -> subprocess.CompletedProcess[str]:
        """Run the data container's preStop hook, as the kubelet would before SIGTERM."""
        command = list(self.container(REDIS_SET)["lifecycle"]["preStop"]["exec"]["command"])
        return self.kubelet_exec(pod, command, 60)

    def start_redis(self, index: int) -> None:
        pod = self.redis[index]
        pod.start(["--bind", "127.0.0.1"])
        wait_for(lambda: self.probe(REDIS_SET, pod, "readinessProbe"), f"{pod.name} ready")

    def start_cache(self, index: int) -> None:
        pod = self.cache[index]
        pod.start(["--bind", "127.0.0.1"])
        wait_for(lambda: self.probe(CACHE_SET, pod, "readinessProbe"), f"{pod.name} ready")

    def start_sentinel(self, index: int) -> None:
        pod = self.sentinels[index]
        pod.start(["--bind", "127.0.0.1"])
        wait_for(lambda: self.probe(SENTINEL_SET, pod, "readinessProbe"), f"{pod.name} ready")

    def start_all(self) -> None:
        """Like OrderedReady StatefulSets: one pod at a time, each ready before the next."""
        for index in range(len(self.redis)):
            self.start_redis(index)
        for index in range(len(self.cache)):
            self.start_cache(index)
        for index in range(len(self.sentinels)):
            self.start_sentinel(index)

    def stop(self) -> None:
        for pod in [*self.sentinels, *self.redis, *self.cache]:
            pod.kill()
            TLS_PORTS.pop(pod.port, None)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.log.read_text() if p.log.exists() else ''}"
            for p in [*self.redis, *self.cache, *self.sentinels]
        )

    def sentinel_events(self, *kinds: str) -> list[str]:
        """The lines of every Sentinel's log announcing one of `kinds` (`+sdown`, `+odown`,
        `+switch-master`, `+tilt`, ...): why a failover happened, for assertion messages."""
        return [
            f"{pod.name}: {line.strip()}"
            for pod in self.sentinels
            if pod.log.exists()
            for line in pod.log.read_text(errors="replace").splitlines()
            if any(f" {kind} " in f"{line} " for kind in kinds)
        ]

    def failovers(self) -> int:
        """How many times the Sentinels switched a master so far (the most any one logged)."""
        return max(
            (
                sum("+switch-master " in line for line in pod.log.read_text().splitlines())
                for pod in self.sentinels
                if pod.log.exists()
            ),
            default=0,
        )

    def agreed_master(self) -> str | None:
        """host:port of the master every Sentinel names, or None while they disagree."""
        views = {self.master_by_sentinel(s) for s in self.sentinels}
        return views.pop() if len(views) == 1 and "" not in views else None

    def master_by_sentinel(self, pod: Pod) -> str:
        return ":".join(
            cli(pod.port, "SENTINEL", "get-master-addr-by-name", pod.env["MASTER_SET"]).splitlines()
        )

    def sentinel_entry(self, sentinel: Pod) -> str:
        """`sentinel`'s INFO line about the sessions' master set (name, status, slaves, ...)."""
        return master_entry(
            info(sentinel.port, "sentinel", sentinel.host), sentinel.env["MASTER_SET"]
        )

    def agreed_master_of(self, master_set: str) -> str | None:
        """host:port of the master of `master_set` every Sentinel names, or None."""
        views = {
            ":".join(cli(s.port, "SENTINEL", "get-master-addr-by-name", master_set).splitlines())
            for s in self.sentinels
        }
        return views.pop() if len(views) == 1 and "" not in views else None


@contextmanager
def running(local: LocalTopology) -> Iterator[LocalTopology]:
    """Start every pod of a built topology, print its logs if a start fails, stop it after."""
    try:
        local.start_all()
        yield local
    except AssertionError:
        print(local.logs())
        raise
    finally:
        local.stop()


def require_binaries() -> None:
    missing = [
        b
        for b in ("redis-server", "redis-sentinel", "redis-cli", "timeout")
        if shutil.which(b) is None
    ]
    assert not missing, f"install {missing} (see .ci/run): the live tests need the real servers"
