"""Why Sentinels are never autoscaled (rule autoscaling-sentinel), shown with real redis-sentinel
7 on 127.0.0.1: after a scale-down from 5 to 3 the survivors still count the 2 removed Sentinels,
so losing one more leaves no majority to authorise a failover, where 3 Sentinels that know only
each other (after SENTINEL RESET, what an operator does by hand) survive that loss."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live.ports import free_port

pytestmark = pytest.mark.live
MASTER_SET = "scaling"


def _binary(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is missing: apt-get install redis-server redis-sentinel (.ci/run does)"
    return found


def _cli(port: int, *args: str) -> str:
    done = subprocess.run(
        [_binary("redis-cli"), "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.stdout.strip()


def _wait(what: str, probe: object, timeout: float = 30) -> None:
    assert callable(probe)
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _known_peers(port: int) -> int:
    return _cli(port, "SENTINEL", "SENTINELS", MASTER_SET).count("runid")


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[dict[int, subprocess.Popen[bytes]]]:
    """A Redis master and 5 Sentinels that all know each other, by Sentinel port."""
    processes: list[subprocess.Popen[bytes]] = []
    master = free_port()
    processes.append(
        subprocess.Popen(
            [_binary("redis-server"), "--port", str(master), "--save", "", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
        )
    )
    _wait("the master", lambda: _cli(master, "PING") == "PONG")
    by_port: dict[int, subprocess.Popen[bytes]] = {}
    for index in range(5):
        port = free_port()
        config = tmp_path / f"sentinel-{index}.conf"
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
            f"sentinel monitor {MASTER_SET} 127.0.0.1 {master} 2\n"
            f"sentinel down-after-milliseconds {MASTER_SET} 1000\n"
        )
        process = subprocess.Popen(
            [_binary("redis-sentinel"), str(config)], stdout=subprocess.DEVNULL
        )
        processes.append(process)
        by_port[port] = process
    try:
        for port in by_port:
            _wait(f"Sentinel {port} to see 4 peers", lambda p=port: _known_peers(p) == 4)
        yield by_port
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(10)


def _ckquorum(port: int) -> str:
    return _cli(port, "SENTINEL", "CKQUORUM", MASTER_SET)


@pytest.mark.parametrize("reset", [False, True], ids=["as-scaled-down", "after-reset"])
def test_a_scaled_down_sentinel_is_still_counted(
    sentinels: dict[int, subprocess.Popen[bytes]], reset: bool
) -> None:
    ports = list(sentinels)
    kept, removed = ports[:3], ports[3:]
    for port in removed:  # the scale-down: the two highest ordinals go
        _stop(sentinels[port])
    if reset:
        for port in kept:
            assert _cli(port, "SENTINEL", "RESET", MASTER_SET) == "1"
        for port in kept:
            _wait(f"Sentinel {port} to relearn its 2 peers", lambda p=port: _known_peers(p) == 2)
    else:
        # the removed ones are down, not gone: each survivor still lists all 4 peers
        _wait(
            "the survivors to see the removed Sentinels down",
            lambda: all(
                _cli(p, "SENTINEL", "SENTINELS", MASTER_SET).count("s_down") == 2 for p in kept
            ),
        )
        assert all(_known_peers(p) == 4 for p in kept)
    # then one more Sentinel is lost (a node failure)
    _stop(sentinels[kept[2]])
    survivor = kept[0]
    down = 1 if reset else 3
    _wait(
        f"{down} Sentinel(s) seen down",
        lambda: _cli(survivor, "SENTINEL", "SENTINELS", MASTER_SET).count("s_down") == down,
    )
    verdict = _ckquorum(survivor)
    if reset:
        # 2 usable of 3 known: the majority (2) is there
        assert verdict.startswith("OK 2 usable Sentinels"), verdict
    else:
        # 2 usable of 5 known: the majority of 5 (3) is out of reach, no failover possible
        assert verdict.startswith("NO"), verdict
        assert "2 usable Sentinels" in verdict and "to reach the majority" in verdict, verdict
