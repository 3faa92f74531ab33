"""What a failover costs a writing client, with pod addresses changing on every restart.

Boots the rendered production HA topology (3 data pods, its cache group's 2 pods, 3 Sentinels
monitoring both master sets) with an address per pod
(tests/live/addresses.py), then, N times each:
  - crash: SIGKILL of the master; the pod is recreated at a new address and rejoins;
  - hand-over: the master's preStop hook (planned stop), then the same recreation.
A client writes all along (`SET` of a new key, then `WAIT 1 <timeout>`) and reconnects on any
error, finding the master through the client path: Sentinel (asks the Sentinel Service, then each
Sentinel by name, for the master and resolves the name it gets) and, with `--endpoint`, the
chart's master endpoint (the real HAProxy with the rendered haproxy.cfg, on its own address,
resolving the pods' names against a DNS server that answers from the topology's records, as
kube-dns does; tests/live/dns.py). Figures:
  - write-unavailable window: the longest gap between two successful writes around the event
    (median and max over the runs); for the crash, also as a ratio to down-after-milliseconds;
  - acknowledged writes lost: writes answered OK and confirmed by WAIT (>= 1 replica) that the
    master the Sentinels agree on lacks once the topology converged again (must be 0).
Sentinel timings are the live tests' FAST_FAILOVER (down-after-milliseconds 1000, failover-timeout
10000); everything else is production's rendering, TLS off.

Run: python benchmarks/failover_bench.py [--runs 10] [--endpoint]   (redis-server,
redis-sentinel, redis-cli, util-linux `unshare`, and haproxy for --endpoint; as root or with user
namespaces)
"""

from __future__ import annotations

import argparse
import itertools
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: `python benchmarks/failover_bench.py`

from chartgen.engines import helm  # noqa: E402
from tests.conftest import CHART, FAST_FAILOVER  # noqa: E402
from tests.live.addresses import PerPodTopology  # noqa: E402
from tests.live.dns import HostsDns  # noqa: E402
from tests.live.endpoint import LocalEndpoint  # noqa: E402
from tests.live.topology import ADMIN, ADMIN_PASSWORD, require_binaries, wait_for  # noqa: E402

WAIT_MS = 1000  # WAIT 1 <timeout>: a write counts as acknowledged once a replica has it


class ReplyError(Exception):
    """An error reply (READONLY, NOREPLICAS, ...)."""


class Connection:
    """A minimal RESP2 client: enough for AUTH, SET, WAIT, MGET and SENTINEL."""

    def __init__(self, address: tuple[str, int], timeout: float = 1.0) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.reader = self.sock.makefile("rb")
        self.call("AUTH", ADMIN, ADMIN_PASSWORD)

    def call(self, *args: str) -> object:
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(parts))
        return self._reply()

    def _reply(self) -> object:
        line = self.reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        kind, rest = line[:1], line[1:-2].decode()
        if kind == b"+":
            return rest
        if kind == b"-":
            raise ReplyError(rest)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            if rest == "-1":
                return None
            data = self.reader.read(int(rest) + 2)
            return data[:-2].decode()
        if kind == b"*":
            return None if rest == "-1" else [self._reply() for _ in range(int(rest))]
        raise ConnectionError(f"unexpected reply {line!r}")

    def close(self) -> None:
        self.sock.close()


def resolver(hosts: Path) -> Callable[[str], str]:
    """The client's DNS: the topology's hosts file (the names the cluster DNS would serve)."""

    def resolve(name: str) -> str:
        for line in hosts.read_text().splitlines():
            fields = line.split()
            if len(fields) == 2 and fields[1] == name and not fields[0].startswith("#"):
                return fields[0]
        raise ConnectionError(f"{name}: no such host")

    return resolve


class MasterPath(Protocol):
    """How a client finds where to write; `name` labels the table's rows."""

    name: str

    def master(self) -> tuple[str, int]: ...


@dataclass
class ViaSentinel:
    """The Sentinel-aware client: the Sentinel Service, then each Sentinel by its pod name."""

    sentinels: list[str]  # host names, the Service first
    master_set: str
    resolve: Callable[[str], str]
    name: str = "Sentinel"

    def master(self) -> tuple[str, int]:
        for sentinel in self.sentinels:
            try:
                conn = Connection((self.resolve(sentinel), 26379), timeout=0.5)
                try:
                    reply = conn.call("SENTINEL", "get-master-addr-by-name", self.master_set)
                finally:
                    conn.close()
            except (OSError, ReplyError):
                continue
            if isinstance(reply, list) and len(reply) == 2:
                return self.resolve(str(reply[0])), int(str(reply[1]))
        raise ConnectionError("no Sentinel names a master")


@dataclass
class ViaEndpoint:
    """A client that only knows one address (the master endpoint Service)."""

    host: str
    port: int
    resolve: Callable[[str], str]
    name: str = "endpoint"

    def master(self) -> tuple[str, int]:
        try:
            return self.resolve(self.host), self.port
        except ConnectionError:
            return self.host, self.port


@dataclass
class Writer:
    """Writes new keys until stopped; records when each write succeeded and which were acked."""

    path: MasterPath
    prefix: str
    successes: list[float] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)  # when, the error's first word
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        conn: Connection | None = None
        seq = 0
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = Connection(self.path.master())
                seq += 1
                key = f"{self.prefix}:{seq}"
                conn.call("SET", key, "1")
                self.successes.append(time.monotonic())
                acks = conn.call("WAIT", "1", str(WAIT_MS))
                if isinstance(acks, int) and acks >= 1:
                    self.acked.append(key)
            except (OSError, ReplyError, ValueError) as error:
                self.errors.append((time.monotonic(), type(error).__name__ + ":" + str(error)[:20]))
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)

    def seen(self, since: float) -> str:
        """What the client got meanwhile: each kind of error and how often."""
        kinds: dict[str, int] = {}
        for when, what in self.errors:
            if when >= since:
                kinds[what.split()[0]] = kinds.get(what.split()[0], 0) + 1
        return ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items()))

    def window(self, since: float) -> float:
        """The longest gap between successful writes from `since` on (seconds)."""
        times = [t for t in self.successes if t >= since - 2]
        return max((b - a for a, b in itertools.pairwise(times)), default=float("inf"))


def agreed_master(t: PerPodTopology) -> tuple[str, int]:
    master = t.agreed_master()
    pod = t.pod_named(master.rsplit(":", 1)[0]) if master else None
    assert pod is not None, "the Sentinels do not agree on a master"
    return pod.host, pod.port


def settled(t: PerPodTopology) -> bool:
    """One agreed master with both replicas online, every Sentinel seeing 2 replicas, 3 peers."""
    master = t.agreed_master()
    pod = t.pod_named(master.rsplit(":", 1)[0]) if master else None
    if pod is None or t.info(pod, "replication").get("role") != "master":
        return False
    if t.info(pod, "replication").get("connected_slaves") != "2":
        return False
    return all(t.sentinel_entry(s).endswith("slaves=2,sentinels=3") for s in t.sentinels)


def one_run(t: PerPodTopology, path: MasterPath, case: str, run: int) -> tuple[float, int, str]:
    """One event; returns (window in seconds, acknowledged writes lost, errors seen)."""
    wait_for(lambda: settled(t), "a settled topology", 90)
    host, _ = agreed_master(t)
    master = next(p for p in t.redis if p.host == host)
    writer = Writer(path, f"bench:{case}:{run}")
    thread = threading.Thread(target=writer.run)
    thread.start()
    wait_for(lambda: len(writer.acked) >= 50, "the client writing")
    event = time.monotonic()
    if case == "crash":
        t.kill(master)
    else:
        hook = t.pre_stop(master)
        assert hook.returncode == 0, hook.stdout + hook.stderr
        t.kill(master)  # the container stops after its preStop hook
    wait_for(lambda: writer.successes[-1] > event + 1, "writes succeeding again", 60)
    t.recreate(master)
    t.start_redis(t.redis.index(master))
    wait_for(lambda: settled(t), "the recreated pod rejoined", 90)
    time.sleep(0.5)
    writer.stop.set()
    thread.join(timeout=10)
    conn = Connection(agreed_master(t))
    lost = 0
    for start in range(0, len(writer.acked), 500):
        chunk = writer.acked[start : start + 500]
        values = conn.call("MGET", *chunk)
        lost += sum(v is None for v in values) if isinstance(values, list) else len(chunk)
    conn.close()
    return writer.window(event), lost, writer.seen(event)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--endpoint", action="store_true", help="also measure through the chart's master endpoint"
    )
    args = parser.parse_args()
    require_binaries()
    extra = {**FAST_FAILOVER, "tls": {"enabled": False}}
    down_after = FAST_FAILOVER["sentinel"]["downAfterMilliseconds"] / 1000
    with tempfile.TemporaryDirectory() as root:
        t = PerPodTopology(Path(root), helm.render(CHART, "production", extra=extra))
        t.build(replicas=3, sentinels=3)
        resolve = resolver(t.hosts)
        paths: list[MasterPath] = [
            ViaSentinel(
                [t.sentinel_service, *(t.fqdn[s.name] for s in t.sentinels)],
                t.sentinels[0].env["MASTER_SET"],
                resolve,
            )
        ]
        dns = HostsDns(t.hosts)
        endpoint = LocalEndpoint.of(t)
        rows = []
        try:
            t.start_all()
            if args.endpoint:
                dns.start()
                endpoint.start_per_pod(t, dns)
                paths.append(ViaEndpoint(endpoint.host, endpoint.port, resolve))
            for path in paths:
                for case in ("crash", "hand-over"):
                    windows, lost = [], 0
                    for run in range(args.runs):
                        window, missing, seen = one_run(t, path, case, run)
                        windows.append(window)
                        lost += missing
                        print(
                            f"{path.name} {case} run {run + 1}: {window * 1000:.0f} ms, "
                            f"lost {missing}; client saw: {seen}",
                            flush=True,
                        )
                    rows.append((path.name, case, windows, lost))
        except AssertionError:
            print(t.logs()[-20000:])
            raise
        finally:
            endpoint.stop()
            dns.stop()
            t.stop()
    print(
        f"\n{args.runs} runs each; down-after-milliseconds {down_after * 1000:.0f}, "
        "failover-timeout 10000; pod addresses change on every restart\n"
    )
    print(
        "| client path | event | window median | window max | median / down-after "
        "| acked writes lost |"
    )
    print("|---|---|---|---|---|---|")
    for name, case, windows, lost in rows:
        median = statistics.median(windows)
        ratio = f"{median / down_after:.2f}" if case == "crash" else "-"
        print(
            f"| {name} | {case} | {median * 1000:.0f} ms | {max(windows) * 1000:.0f} ms "
            f"| {ratio} | {lost} |"
        )


if __name__ == "__main__":
    main()
