"""The data pods' probes against real servers: the liveness verdict needs a majority of all the
Sentinels (one disagreeing Sentinel cannot get a healthy master restarted), and every probe's
worst case (servers that accept a connection and never answer) ends within its timeoutSeconds."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chartgen.engines import helm
from tests.conftest import CHART, FAST_FAILOVER
from tests.live.ports import free_port
from tests.live.topology import (
    REDIS_SET,
    LocalTopology,
    Pod,
    live_password,
    require_binaries,
    wait_for,
)

pytestmark = pytest.mark.live


def run_probe(local: LocalTopology, pod: Pod, kind: str) -> tuple[int, str, float]:
    """The container's exec probe as the kubelet runs it: (exit code, output, seconds)."""
    command = list(local.container(REDIS_SET)[kind]["exec"]["command"])
    started = time.monotonic()
    result = local.kubelet_exec(pod, command, 30)
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def with_peers(pod: Pod, peers: list[int]) -> Pod:
    """`pod` as if its Sentinels were the ones listening on `peers`."""
    value = " ".join(f"127.0.0.1:{port}" for port in peers)
    return dataclasses.replace(pod, env={**pod.env, "SENTINEL_PEERS": value})


@pytest.fixture
def production(tmp_path: Path) -> Iterator[LocalTopology]:
    """Production's rendered chart, laid out with 3 data pods and 3 Sentinels, not started."""
    require_binaries()
    extra = {**FAST_FAILOVER, "tls": {"enabled": False}}
    local = LocalTopology(tmp_path, helm.render(CHART, "production", extra=extra))
    local.build(replicas=3, sentinels=3)
    yield local
    local.stop()


@pytest.fixture
def black_holes() -> Iterator[list[int]]:
    """Three ports that accept connections (the kernel completes the handshake) and never
    answer: a hung Sentinel."""
    sockets = []
    for _ in range(3):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", free_port()))
        sock.listen(16)
        sockets.append(sock)
    yield [s.getsockname()[1] for s in sockets]
    for sock in sockets:
        sock.close()


def test_worst_case_of_every_probe_ends_within_its_timeout(
    production: LocalTopology, black_holes: list[int]
) -> None:
    production.start_redis(0)
    pod = with_peers(production.redis[0], black_holes)
    container = production.container(REDIS_SET)
    # Every Sentinel hangs: liveness asks them all at once, waits one step, gives no verdict.
    code, output, seconds = run_probe(production, pod, "livenessProbe")
    assert code == 0, output
    assert seconds < container["livenessProbe"]["timeoutSeconds"], seconds
    # The server itself hangs (SIGSTOP): every probe fails, each within its timeout.
    process = production.redis[0].process
    assert process is not None
    os.kill(process.pid, signal.SIGSTOP)
    try:
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            code, output, seconds = run_probe(production, pod, kind)
            assert code == 1, (kind, output)
            assert seconds < container[kind]["timeoutSeconds"], (kind, seconds)
    finally:
        os.kill(process.pid, signal.SIGCONT)


def _rogue_sentinels(
    tmp_path: Path, master_set: str, count: int
) -> tuple[list[int], list[subprocess.Popen[bytes]]]:
    """A real redis-server and `count` real Sentinels that monitor it as `master_set`: Sentinels
    that name another master than the topology's own (stale or misconfigured)."""
    processes = []
    other = free_port()
    processes.append(
        subprocess.Popen(
            ["redis-server", "--port", str(other), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
        )
    )
    ports = []
    for index in range(count):
        port = free_port()
        config = tmp_path / f"rogue-{index}.conf"
        config.write_text(
            f"port {port}\nbind 127.0.0.1\n"
            f"sentinel monitor {master_set} 127.0.0.1 {other} 1\n"
            # the probe identity of the topology's Secret, as the chart's Sentinels have it
            f"user probe on >{live_password('PROBE_PASSWORD')} +@all\n"
        )
        processes.append(
            subprocess.Popen(["redis-sentinel", str(config)], stdout=subprocess.DEVNULL)
        )
        ports.append(port)
    return [other, *ports], processes


def test_liveness_acts_only_on_a_majority_of_the_sentinels(
    production: LocalTopology, tmp_path: Path
) -> None:
    production.start_all()
    master = production.redis[0]
    real = [s.port for s in production.sentinels]
    (other, *rogues), processes = _rogue_sentinels(tmp_path, master.env["MASTER_SET"], count=2)
    try:
        wait_for(
            lambda: all(
                subprocess.run(
                    [
                        "redis-cli",
                        "-p",
                        str(r),
                        "SENTINEL",
                        "get-master-addr-by-name",
                        master.env["MASTER_SET"],
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout.split()[-1:]
                == [str(other)]
                for r in rogues
            ),
            "the rogue Sentinels name their master",
        )
        # the chart's three Sentinels agree: the master is alive
        code, output, _ = run_probe(production, with_peers(master, real), "livenessProbe")
        assert code == 0, output
        # one of three disagrees (the old single-Sentinel verdict would restart the master)
        one_rogue = [rogues[0], real[1], real[2]]
        code, output, _ = run_probe(production, with_peers(master, one_rogue), "livenessProbe")
        assert code == 0, output
        # a lone rogue with the others unreachable: no majority, no verdict
        dead = [free_port(), free_port()]
        code, output, _ = run_probe(
            production, with_peers(master, [rogues[0], *dead]), "livenessProbe"
        )
        assert code == 0, output
        # two of three agree on another master: this one is cut off and is restarted
        majority = [rogues[0], rogues[1], real[0]]
        code, output, _ = run_probe(production, with_peers(master, majority), "livenessProbe")
        assert code == 1
        assert f"a majority of the Sentinels agree on 127.0.0.1:{other}" in output
    finally:
        for process in processes:
            process.kill()
            process.wait()
