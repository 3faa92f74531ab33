"""What the session cleanup job costs, beside a naive SCAN-and-DEL cleanup and redis-benchmark.

Boots development's standalone data pod from the rendered chart (real redis-server) and, for each
variant, seeds the same data in the data contract's shapes: USERS users, each with 5 sessions and
3 refresh tokens (the spec's limits) plus 2 expired index entries (their keys gone: 20 % of the
entries); 10 % of the users hold 3 sessions over the limit. Meanwhile an application client
reads a random session and renews every tenth (HGETALL; MULTI PEXPIRE + ZADD XX EXEC), one
request at a time. Figures per variant:
  - duration and throughput: index entries handled per second, entries removed;
  - the slowest single command of the cleanup and of the application (SLOWLOG, >= 50 us);
  - the application's p50 / p99 / max latency while it ran (and with nothing running).
Variants: the chart's files/cleanup-sessions.sh exactly as shipped (its CronJob's container,
as the `cleanup` user); a naive cleanup (SCAN, then per index one command at a time: ZRANGE,
EXISTS and ZREM per member, ZRANGE + DEL + ZREM over the limit; not atomic) over one
connection, in a process of its own; and redis-benchmark's pipelined SET/GET rate (-P 16) on
the same server.

Run: python benchmarks/cleanup_bench.py [--users 10000] [--full]   (--full: 100,000 users, about
1,000,000 index entries; redis-server and redis-cli from Debian)
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: `python benchmarks/cleanup_bench.py`

from chartgen.engines import helm  # noqa: E402
from chartgen.security.resp import Resp  # noqa: E402
from tests.conftest import CHART, install_values  # noqa: E402
from tests.live.jobs import admin, job_command, pipeline, server_ms  # noqa: E402
from tests.live.topology import (  # noqa: E402
    ADMIN,
    ADMIN_PASSWORD,
    LocalTopology,
    require_binaries,
)

SESSIONS, REFRESH, OVER = 5, 3, 3
HOUR_MS = 3_600_000


def seed(conn: Resp, users: int) -> int:
    """The data set; returns the number of index entries."""
    conn.call("FLUSHALL")
    now = server_ms(conn)
    entries = 0
    commands: list[list[str | int]] = []
    for user in range(users):
        uid = f"u{user}"
        sessions = SESSIONS + (OVER if user % 10 == 0 else 0)
        for kind, prefix, count in (
            ("sessions", "session", sessions),
            ("refresh", "refresh", REFRESH),
        ):
            index = f"user:{uid}:{kind}"
            for i in range(count):
                sid = f"{uid}-{kind[0]}{i}"
                commands.append(["HSET", f"{prefix}:{sid}", "uid", uid])
                commands.append(["PEXPIRE", f"{prefix}:{sid}", HOUR_MS])
                commands.append(["ZADD", index, now + (i + 1) * 60_000, sid])
            # one expired entry per index: its key is gone
            commands.append(["ZADD", index, now - 60_000, f"{uid}-{kind[0]}x"])
            entries += count + 1
        if len(commands) > 50_000:
            pipeline(conn, commands)
            commands.clear()
    pipeline(conn, commands)
    return entries


@dataclass
class Workload:
    """The application: one request at a time on random users, latencies in ms."""

    port: int
    users: int
    latencies: list[float]
    stop: threading.Event

    def run(self) -> None:
        rng = random.Random(7)
        with admin(self.port) as conn:
            conn.call("CLIENT", "SETNAME", "app")
            n = 0
            while not self.stop.is_set():
                uid = f"u{rng.randrange(self.users)}"
                sid = f"{uid}-s{rng.randrange(SESSIONS)}"
                start = time.perf_counter()
                if n % 10:
                    conn.call("HGETALL", f"session:{sid}")
                else:
                    expiry = int(time.time() * 1000) + HOUR_MS
                    pipeline(
                        conn,
                        [
                            ["MULTI"],
                            ["PEXPIRE", f"session:{sid}", HOUR_MS],
                            ["ZADD", f"user:{uid}:sessions", "XX", expiry, sid],
                            ["EXEC"],
                        ],
                    )
                self.latencies.append((time.perf_counter() - start) * 1000)
                n += 1


def with_workload(port: int, users: int, action: Callable[[], object]) -> tuple[float, list[float]]:
    """Run `action` while the workload runs; (action's seconds, workload latencies)."""
    latencies: list[float] = []
    stop = threading.Event()
    workload = Workload(port, users, latencies, stop)
    thread = threading.Thread(target=workload.run)
    thread.start()
    time.sleep(0.5)
    start = time.perf_counter()
    try:
        action()
    finally:
        elapsed = time.perf_counter() - start
        time.sleep(0.5)
        stop.set()
        thread.join()
    return elapsed, latencies


def naive_cleanup(port: int) -> int:
    """SCAN, then per index one command at a time; returns entries removed."""
    removed = 0
    with admin(port) as conn:
        conn.call("CLIENT", "SETNAME", "naive")
        cursor = "0"
        while True:
            cursor, keys = conn.call("SCAN", cursor, "MATCH", "user:*", "COUNT", 1000)
            for index in keys:
                prefix, limit = (
                    ("session:", SESSIONS) if index.endswith(":sessions") else ("refresh:", REFRESH)
                )
                for member in conn.call("ZRANGE", index, 0, -1):
                    if not conn.call("EXISTS", prefix + member):
                        removed += conn.call("ZREM", index, member)
                over = conn.call("ZCARD", index) - limit
                if over > 0:
                    for member in conn.call("ZRANGE", index, 0, over - 1):
                        conn.call("DEL", prefix + member)
                        removed += conn.call("ZREM", index, member)
            if cursor == "0":
                return removed


def naive_process(port: int) -> int:
    """naive_cleanup in a process of its own, as a job would run (not sharing this one's GIL
    with the application client)."""
    result = subprocess.run(
        [sys.executable, __file__, "--naive", str(port)], capture_output=True, text=True, check=True
    )
    return int(result.stdout.split()[-1])


def slowest(conn: Resp) -> tuple[str, str]:
    """The longest SLOWLOG entries of the cleanup (any client but the application) and of the
    application: "microseconds (command key)"."""
    entries = conn.call("SLOWLOG", "GET", -1) or []

    def top(of_app: bool) -> str:
        mine = [e for e in entries if (e[5] == "app") == of_app and e[3][0] != "SLOWLOG"]
        if not mine:
            return "none >= 50"
        entry = max(mine, key=lambda e: e[2])
        return f"{entry[2]} ({' '.join(str(a) for a in entry[3][:2])})"

    return top(False), top(True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--full", action="store_true", help="100,000 users (~1,000,000 entries)")
    parser.add_argument("--naive", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive:
        print(naive_cleanup(args.naive))
        return
    users = 100_000 if args.full else args.users
    require_binaries()
    with tempfile.TemporaryDirectory() as tmp:
        objects = helm.render(CHART, "development", extra=install_values("development"))
        local = LocalTopology(Path(tmp), objects)
        local.build(replicas=1, sentinels=0)
        local.start_redis(0)
        port = local.redis[0].port
        rows: list[tuple[str, ...]] = []
        try:
            with admin(port) as conn:
                conn.call("CONFIG", "SET", "slowlog-max-len", "100000")
                # the data set, not development's memory limit, decides the size
                conn.call("CONFIG", "SET", "maxmemory", "0")
                # every command of 50 us or more (all of them would slow the server down)
                conn.call("CONFIG", "SET", "slowlog-log-slower-than", "50")

                def measure(name: str, action: Callable[[], int | None]) -> None:
                    entries = seed(conn, users)
                    conn.call("SLOWLOG", "RESET")
                    outcome: list[int | None] = []
                    elapsed, lat = with_workload(port, users, lambda: outcome.append(action()))
                    cleanup_top, app_top = slowest(conn)
                    removed = outcome[0]
                    rows.append(
                        (
                            name,
                            f"{elapsed:.1f}",
                            f"{entries / elapsed:,.0f}" if removed is not None else "-",
                            f"{removed:,}" if removed is not None else "-",
                            cleanup_top,
                            app_top,
                            f"{percentile(lat, 0.5):.2f}",
                            f"{percentile(lat, 0.99):.2f}",
                            f"{max(lat):.1f}",
                            f"{len(lat) / max(elapsed, 1e-9):,.0f}",
                        )
                    )
                    print(f"{name}: {entries:,} index entries, done", file=sys.stderr)

                def chart_job() -> int:
                    command, env = job_command(local, "session-cleanup", port)
                    result = subprocess.run(
                        command, env=env, capture_output=True, text=True, check=False
                    )
                    assert result.returncode == 0, result.stdout + result.stderr
                    print(result.stdout.strip(), file=sys.stderr)
                    return int(result.stdout.split("removed=")[-1].split()[0])

                def idle() -> None:
                    time.sleep(10)

                measure("application alone (10 s)", idle)
                measure("chart cleanup-sessions.sh", chart_job)
                measure("naive SCAN + per-key DEL", lambda: naive_process(port))
            bench = subprocess.run(
                ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "--user", ADMIN,
                 "-a", ADMIN_PASSWORD, "-t", "set,get", "-P", "16", "-n", "200000", "-q"],
                capture_output=True, text=True, timeout=300, check=True,
            )  # fmt: skip
        finally:
            local.stop()
    report(users, rows, bench.stdout)


def report(users: int, rows: list[tuple[str, ...]], bench: str) -> None:
    print(f"\nsession cleanup, {users:,} users (redis-server {redis_version()}, 127.0.0.1)\n")
    header = (
        "variant", "seconds", "entries/s", "removed", "slowest cleanup cmd (us)",
        "slowest app cmd (us)", "app p50 ms", "app p99 ms", "app max ms", "app req/s",
    )  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    rates = [
        line.strip() for line in bench.replace("\r", "\n").splitlines() if "per second" in line
    ]
    print("\nredis-benchmark -P 16 (same server): " + "; ".join(rates))
    ops = [float(x.split(":")[1].split()[0]) for x in rates if ":" in x]
    if ops:
        print(f"median pipelined rate: {statistics.median(ops):,.0f} requests/s")


def redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=True)
    return out.stdout.split("v=")[1].split()[0]


if __name__ == "__main__":
    main()
