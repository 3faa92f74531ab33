"""The exporter sidecars follow a rotation of the monitor role's password, run as rendered (the
chart's wrapper around Debian's redis_exporter, the server's password watcher publishing what it
accepts) beside the production topology's real redis-server and redis-sentinel: no scrape ever
reports redis_up 0, and after the rotation every exporter logs in with the new password while
the old one is refused."""

from __future__ import annotations

import threading
import time
import urllib.error

import pytest

from tests.live.prometheus import Processes, Target, exporter_folder, scrape, start_exporters
from tests.live.topology import (
    REDIS_SET,
    SENTINEL_SET,
    LocalTopology,
    cli_as,
    live_password,
    wait_for,
)

pytestmark = pytest.mark.live

KEY = "MONITOR_PASSWORD"


class Scraper:
    """Scrapes every exporter every 100 ms; counts redis_up 0 samples and scrapes that found
    no exporter listening (a restart)."""

    def __init__(self, targets: list[Target]) -> None:
        self.targets = targets
        self.scrapes = self.down = self.unreachable = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for target in self.targets:
                try:
                    samples = scrape(target.port)
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    self.unreachable += 1
                    continue
                self.scrapes += 1
                self.down += "redis_up 0" in samples
            time.sleep(0.1)

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def up(target: Target) -> bool:
    try:
        return "redis_up 1" in scrape(target.port)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def test_exporters_follow_the_monitor_password_rotation(topology: LocalTopology) -> None:
    procs = Processes(topology.root)
    try:
        targets = start_exporters(
            topology,
            procs,
            "session-db",
            [(REDIS_SET, topology.redis), (SENTINEL_SET, topology.sentinels)],
        )
        wait_for(lambda: all(up(t) for t in targets), "every exporter up", 30)
        old, new = live_password(KEY), f"{live_password(KEY)}-rotated"
        servers = [pod.port for pod in [*topology.redis, *topology.sentinels]]

        def rotate(passwords: list[str]) -> None:
            topology.set_secret(KEY, passwords)  # the servers' mounts
            for target in targets:  # each sidecar's own mount of the same Secret key
                (exporter_folder(procs, target.pod) / "auth" / KEY).write_text("\n".join(passwords))

        started = time.monotonic()
        with Scraper(targets) as scraper:
            rotate([old, new])
            wait_for(
                lambda: all(cli_as("monitor", new, p, "PING") == "PONG" for p in servers),
                "the new password accepted",
                30,
            )
            time.sleep(3)  # the wrappers switch on their next look at the Secret (1 s here)
            rotate([new])
            wait_for(
                lambda: all(cli_as("monitor", old, p, "PING") != "PONG" for p in servers),
                "the old password refused",
                30,
            )
            time.sleep(3)
        elapsed = time.monotonic() - started
        restarts = procs.logs().count("restarted the exporter with the rotated password")
        print(
            f"\nmonitor rotation over {elapsed:.1f} s: {scraper.scrapes} scrapes, "
            f"{scraper.down} with redis_up 0, {scraper.unreachable} during a restart; "
            f"{restarts} exporter restarts for {len(targets)} exporters"
        )
        assert scraper.scrapes > 10 * len(targets)
        assert scraper.down == 0, procs.logs()
        # each exporter switched exactly once, while the server accepted both passwords
        assert restarts == len(targets), procs.logs()
        assert all(up(t) for t in targets), procs.logs()
    finally:
        procs.stop()
