"""The live HA topology with an address per pod that changes when the pod is recreated.

`LocalTopology` puts every pod on 127.0.0.1 and rewrites the pod names in the env to
127.0.0.1:<port>, so nothing ever resolves a name and no address ever changes. Here every pod
gets its own loopback address 127.0.0.N (the whole of 127/8 is loopback), serves the chart's
real ports (6379, 26379) on it, and keeps the env the chart renders, real FQDNs included. Names
resolve as the cluster DNS would: each pod process (and each kubelet action: probes, preStop)
runs in a private mount namespace whose /etc/hosts is a file this topology owns and rewrites in
place (so the bind mounts keep seeing it):
- `<pod>.<headless>` -> the pod's current address while its container exists
  (publishNotReadyAddresses), no record while it is gone;
- `<headless>` -> every existing pod of the set;
- the Sentinel ClusterIP Service -> a running Sentinel (kube-proxy routes to ready endpoints).
A recreated pod gets a NEW address and an empty runtime folder (memory emptyDir); its data
folder (the PersistentVolumeClaim) stays.

One stand-in: in a pod, redis-cli's default host 127.0.0.1 is the pod's own loopback (the
probes, preStop and the password watcher use `-p` alone). All pods share one loopback here, so
a `redis-cli` first on the pods' PATH adds `-h <the pod's address>` when no host is given.
Real ports rather than free ones keep the env exactly as rendered: the Sentinel Service name and
every peer list carry `:26379`/`:6379`, which one port per pod could not honour.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.live.topology import (
    CACHE_SET,
    REDIS_SET,
    SENTINEL_SET,
    TLS_PORTS,
    LocalTopology,
    Pod,
    cli,
    info,
    wait_for,
)

REDIS_PORT, SENTINEL_PORT = 6379, 26379
LINE = 16  # address column width: every hosts line keeps its length, so a rewrite is one write

_SHIM = """#!/bin/sh
# The pod's own loopback: redis-cli without a host reaches this pod's server.
for arg in "$@"; do
  case "$arg" in -h|-u|--sentinel) exec {real} "$@" ;; esac
done
exec {real} -h "$POD_LOOPBACK" "$@"
"""


class AddressPool:
    """127.0.0.N addresses, N >= 2 (continuing into 127.0.1.x ...), never handed out twice in a
    process, free on both ports; a random start keeps concurrent runs apart."""

    def __init__(self) -> None:
        self._next = random.randrange(2, 60000)
        self._used: set[int] = set()

    @staticmethod
    def _free(address: str) -> bool:
        for port in (REDIS_PORT, SENTINEL_PORT):
            with socket.socket() as probe:
                try:
                    probe.bind((address, port))
                except OSError:
                    return False
        return True

    def take(self) -> str:
        for _ in range(65536):
            n, self._next = self._next, self._next + 1 if self._next < 65000 else 2
            address = f"127.0.{n // 256}.{n % 256}"
            if n % 256 not in (0, 1, 255) and n not in self._used and self._free(address):
                self._used.add(n)
                return address
        raise AssertionError(
            "no address in 127.0.0.0/16 has ports 6379 and 26379 free: a server bound to "
            "0.0.0.0 on them (a system redis-server?) takes them on every address; stop it"
        )


POOL = AddressPool()


def sentinel_entries(reply: str) -> list[dict[str, str]]:
    """SENTINEL replicas / sentinels as redis-cli prints them: one field/value dict per entry."""
    entries: list[dict[str, str]] = []
    lines = reply.splitlines()
    for key, value in zip(lines[::2], lines[1::2], strict=False):
        if key == "name":
            entries.append({})
        entries[-1][key] = value
    return entries


def files_only(hosts: Path) -> Path:
    """The machine's nsswitch.conf with `hosts: files`, beside `hosts`: in the pods' namespace a
    name without a record fails at once (as kube-dns answers NXDOMAIN for a gone pod) instead of
    going on to the machine's DNS servers, so no lookup leaves the loopback."""
    switch = hosts.with_name("nsswitch.conf")
    if not switch.exists():
        system = Path("/etc/nsswitch.conf").read_text().splitlines()
        lines = [line for line in system if not line.startswith("hosts:")]
        switch.write_text("\n".join([*lines, "hosts: files"]) + "\n")
    return switch


def in_namespace(hosts: Path, command: list[str]) -> list[str]:
    """`command` in a private mount namespace that sees `hosts` as /etc/hosts and resolves
    names from it only (as root; as another user, inside a user namespace that maps it to
    root)."""
    unshare = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        unshare[1:1] = ["--user", "--map-root-user"]
    assert Path("/etc/nsswitch.conf").is_file(), "the per-pod mode needs glibc's nsswitch.conf"
    script = 'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/nsswitch.conf && shift'
    script += ' && exec "$@"'
    return [*unshare, "--", "/bin/sh", "-c", script, str(hosts), str(files_only(hosts)), *command]


@dataclass
class PerPodTopology(LocalTopology):
    """LocalTopology whose pods each have their own address, resolved by name."""

    fqdn: dict[str, str] = field(default_factory=dict)  # pod.name -> its FQDN
    headless: dict[str, str] = field(default_factory=dict)  # statefulset -> headless FQDN
    sentinel_service: str = ""

    @property
    def hosts(self) -> Path:
        return self.root / "hosts"

    def write_hosts(self) -> None:
        """Rewrite the hosts file in place: same inode, one write, same length for the same
        topology (a missing record is a comment line of the same width)."""
        lines = [f"{'127.0.0.1':<{LINE}}localhost"]
        for pods, statefulset in (
            (self.redis, REDIS_SET),
            (self.cache, CACHE_SET),
            (self.sentinels, SENTINEL_SET),
        ):
            for pod in pods:
                up = pod.process is not None and pod.process.poll() is None
                lines.append(f"{pod.host if up else '#':<{LINE}}{self.fqdn[pod.name]}")
                lines.append(f"{pod.host if up else '#':<{LINE}}{self.headless[statefulset]}")
        running = [s for s in self.sentinels if s.process is not None and s.process.poll() is None]
        target = running[0].host if running else "#"
        lines.append(f"{target:<{LINE}}{self.sentinel_service}")
        text = ("\n".join(lines) + "\n").encode()
        fd = os.open(self.hosts, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.write(fd, text)
            os.ftruncate(fd, len(text))
        finally:
            os.close(fd)

    def build(self, replicas: int, sentinels: int, cache: int | None = None) -> None:
        """As LocalTopology.build; the cache's own group (when rendered) gets addresses, FQDN
        records and its headless name like the sessions' group."""
        cache = self.cache_replicas(cache)
        if self.tls:
            # the certificate must carry the names the pods are dialled by (rendered_dns_names)
            assert (self.tls_dir / "ca.crt").is_file(), f"put the certificates in {self.tls_dir}"
            TLS_PORTS[REDIS_PORT] = TLS_PORTS[SENTINEL_PORT] = self.tls_dir / "ca.crt"
        self._write_secret()
        real = shutil.which("redis-cli")
        assert real, "install redis-tools (see .ci/run): the live tests need redis-cli"
        shim_dir = self.root / "pod-bin"
        shim_dir.mkdir(parents=True)
        (shim_dir / "redis-cli").write_text(_SHIM.format(real=real))
        (shim_dir / "redis-cli").chmod(0o755)
        path = f"{shim_dir}:{os.environ['PATH']}"
        redis_dir = self._files(REDIS_SET, "redis-config")
        cache_dir = self._files(CACHE_SET, "cache-config") if cache else None
        sentinel_dir = self._files(SENTINEL_SET, "sentinel-config") if sentinels else None
        for statefulset, count, folder, script in (
            (REDIS_SET, replicas, redis_dir, "start-redis.sh"),
            (CACHE_SET, cache, cache_dir, "start-redis.sh"),
            (SENTINEL_SET, sentinels, sentinel_dir, "start-sentinel.sh"),
        ):
            for i in range(count):
                assert folder is not None
                name = f"{statefulset}-{i}"
                runtime = self.root / name / "run"
                runtime.mkdir(parents=True)
                paths = {
                    "RUNTIME_DIR": str(runtime),
                    "AUTH_DIR": str(self.auth_dir(statefulset)),
                    "AUTH_POLL_SECONDS": "1",
                }
                if self.tls:
                    paths["TLS_DIR"] = str(self.tls_dir)
                data_pod = statefulset != SENTINEL_SET
                if data_pod:
                    (self.root / name / "data").mkdir()
                    paths |= {
                        "CONFIG_FILE": str(folder / "redis.conf"),
                        "DATA_DIR": str(self.root / name / "data"),
                    }
                else:
                    paths["CONFIG_DIR"] = str(folder)
                env = self._env(statefulset, name, {}, paths)
                announce = env["ANNOUNCE_HOST"]
                assert announce.startswith(f"{name}."), announce
                self.fqdn[name] = announce
                self.headless[statefulset] = announce.split(".", 1)[1]
                address = POOL.take()
                env |= {"PATH": path, "POD_LOOPBACK": address}
                port = REDIS_PORT if data_pod else SENTINEL_PORT
                pod = Pod(
                    name, port, env, ["/bin/sh", str(folder / script)], self.root / f"{name}.log"
                )
                pod.host = address
                pods = {REDIS_SET: self.redis, CACHE_SET: self.cache}
                pods.get(statefulset, self.sentinels).append(pod)
                if statefulset == REDIS_SET:
                    self.sentinel_service = env["SENTINEL_HOST"]
        self.write_hosts()
        check = subprocess.run(
            in_namespace(self.hosts, ["getent", "hosts", self.sentinel_service]),
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode in (0, 2), (
            "per-pod addresses need a private mount namespace (`unshare --mount`, util-linux): "
            "run as root, or allow unprivileged user namespaces (on Ubuntu: sysctl "
            f"kernel.apparmor_restrict_unprivileged_userns=0): {check.stderr.strip()}"
        )

    def kubelet_exec(
        self, pod: Pod, command: list[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """A kubelet exec action, in the pod's mount namespace (its hosts file), with its env."""
        scripts = str(Path(pod.command[1]).parent) + "/"
        command = [c.replace("/scripts/", scripts) for c in command]
        return subprocess.run(
            in_namespace(self.hosts, command),
            env=pod.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _start(self, statefulset: str, pod: Pod) -> None:
        with open(pod.log, "ab") as log:
            pod.process = subprocess.Popen(
                in_namespace(self.hosts, [*pod.command, "--bind", pod.host]),
                env=pod.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.write_hosts()
        wait_for(lambda: self.probe(statefulset, pod, "readinessProbe"), f"{pod.name} ready")

    def start_redis(self, index: int) -> None:
        self._start(REDIS_SET, self.redis[index])

    def start_cache(self, index: int) -> None:
        self._start(CACHE_SET, self.cache[index])

    def start_sentinel(self, index: int) -> None:
        self._start(SENTINEL_SET, self.sentinels[index])

    def kill(self, pod: Pod) -> None:
        """The pod is gone (SIGKILL, node loss, deletion): its DNS records go with it."""
        pod.kill()
        self.write_hosts()

    def recreate(self, pod: Pod) -> str:
        """The StatefulSet recreates a gone pod: new address, empty memory folder, same volume.
        Returns the old address. Start it with start_redis / start_cache / start_sentinel."""
        if pod.process is not None:
            self.kill(pod)
        shutil.rmtree(pod.env["RUNTIME_DIR"])
        Path(pod.env["RUNTIME_DIR"]).mkdir()
        old, pod.host = pod.host, POOL.take()
        pod.env["POD_LOOPBACK"] = pod.host
        self.write_hosts()
        return old

    def stop(self) -> None:
        for pod in [*self.sentinels, *self.redis, *self.cache]:
            pod.kill()
        if self.tls:  # every per-pod topology serves these ports; the next may be plaintext
            TLS_PORTS.pop(REDIS_PORT, None)
            TLS_PORTS.pop(SENTINEL_PORT, None)

    # --- what the tests read, by address --------------------------------------------------

    def cli(self, pod: Pod, *args: str, timeout: float = 5) -> str:
        return cli(pod.port, *args, timeout=timeout, host=pod.host)

    def info(self, pod: Pod, section: str) -> dict[str, str]:
        return info(pod.port, section, host=pod.host)

    def pod_named(self, host: str) -> Pod | None:
        """The pod an announced FQDN or current address names."""
        for pod in [*self.redis, *self.cache, *self.sentinels]:
            if host in (self.fqdn[pod.name], pod.host):
                return pod
        return None

    def sentinel_view(self, sentinel: Pod, what: str, master_set: str = "") -> dict[str, str]:
        """`ip:port` (the announced name) -> flags, of the replicas or peer Sentinels
        (`what`) that `sentinel` knows for `master_set` (default: the sessions' set)."""
        master_set = master_set or sentinel.env["MASTER_SET"]
        reply = self.cli(sentinel, "SENTINEL", what, master_set)
        return {f"{e['ip']}:{e['port']}": e["flags"] for e in sentinel_entries(reply)}

    def master_by_sentinel(self, pod: Pod, master_set: str = "") -> str:
        master_set = master_set or pod.env["MASTER_SET"]
        reply = self.cli(pod, "SENTINEL", "get-master-addr-by-name", master_set)
        return ":".join(reply.splitlines())

    def agreed_master_of(self, master_set: str) -> str | None:
        """The announced name:port of the master of `master_set` every Sentinel names."""
        views = {self.master_by_sentinel(s, master_set) for s in self.sentinels}
        return views.pop() if len(views) == 1 and "" not in views else None
