"""Authentication on the rendered HA topology, booted with real redis-server and redis-sentinel
(3 data pods, 3 Sentinels) from the chart's scripts, ACL users and a Secret folder: the guide's
operator commands, least privilege of the roles, no unauthenticated access, and password
rotation without a restart and without a failed authentication."""

from __future__ import annotations

import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.live.topology import (
    LocalTopology,
    Pod,
    cli,
    cli_as,
    live_password,
    online_replicas,
    wait_for,
)

pytestmark = pytest.mark.live


def guide_cli(port: int, password: str, *args: str) -> str:
    """The guide's own form: `redis-cli -a $PASSWORD ...` (the default user)."""
    result = subprocess.run(
        ["redis-cli", "-p", str(port), "-a", password, "--no-auth-warning", *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return (result.stdout + result.stderr).strip()


def agreed_master_port(topology: LocalTopology) -> int | None:
    agreed = topology.agreed_master()
    return int(agreed.rsplit(":", 1)[1]) if agreed else None


def master_pod(topology: LocalTopology) -> Pod:
    port = agreed_master_port(topology)
    return next(p for p in topology.redis if p.port == port)


def test_the_guides_operator_commands_work_and_do_nothing_more(topology: LocalTopology) -> None:
    master = master_pod(topology)
    redis_password = live_password("REDIS_PASSWORD")
    assert "role:master" in guide_cli(master.port, redis_password, "info", "replication")
    assert "Background saving" in guide_cli(master.port, redis_password, "BGSAVE")
    for forbidden in (["FLUSHALL"], ["CONFIG", "SET", "maxmemory", "1"], ["SET", "session:x", "1"]):
        assert "NOPERM" in guide_cli(master.port, redis_password, *forbidden), forbidden
    sentinel = topology.sentinels[0]
    masters = guide_cli(sentinel.port, live_password("SENTINEL_PASSWORD"), "sentinel", "masters")
    assert sentinel.env["MASTER_SET"] in masters
    removed = guide_cli(
        sentinel.port, live_password("SENTINEL_PASSWORD"), "sentinel", "remove", "x"
    )
    assert "NOPERM" in removed


def test_nothing_answers_without_a_password(topology: LocalTopology) -> None:
    for pod in [*topology.redis, *topology.sentinels]:
        reply = subprocess.run(
            ["redis-cli", "-p", str(pod.port), "PING"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        assert "NOAUTH" in reply.stdout + reply.stderr, pod.name


def test_roles_get_exactly_their_database_and_keys(topology: LocalTopology) -> None:
    port = master_pod(topology).port
    app = ("app", live_password("APP_PASSWORD"), port)
    cache = ("cache", live_password("CACHE_PASSWORD"), port)
    monitor = ("monitor", live_password("MONITOR_PASSWORD"), port)
    assert cli_as(*app, "SET", "session:live", "u1", "EX", "60") == "OK"
    assert "NOPERM" in cli_as(*app, "SET", "cache:svc:k", "v")
    assert "NOPERM" in cli_as(*app, "-n", "1", "GET", "cache:svc:k")
    assert "NOPERM" in cli_as(*app, "KEYS", "*")
    # the cache role lives where DB 1 does: on the cache's own group when it has one
    if topology.cache:
        assert "NOAUTH" in cli_as(*cache, "-n", "1", "SET", "cache:svc:k", "v", "EX", "60")
        cache = ("cache", live_password("CACHE_PASSWORD"), topology.cache[0].port)
    assert cli_as(*cache, "-n", "1", "SET", "cache:svc:k", "v", "EX", "60") == "OK"
    assert "NOPERM" in cli_as(*cache, "GET", "session:live")
    assert "NOPERM" in cli_as(*cache, "-n", "0", "DEL", "session:live")
    assert "redis_version" in cli_as(*monitor, "INFO", "server")
    assert "NOPERM" in cli_as(*monitor, "GET", "session:live")


def test_the_acl_file_holds_hashes_only(topology: LocalTopology) -> None:
    for pod in topology.redis:
        runtime = Path(pod.env["RUNTIME_DIR"])
        acl = runtime / "users.acl"
        text = acl.read_text()
        assert stat.S_IMODE(acl.stat().st_mode) == 0o600
        assert "#" in text and live_password("APP_PASSWORD") not in text
        conf = (runtime / "redis.conf").read_text()
        assert stat.S_IMODE((runtime / "redis.conf").stat().st_mode) == 0o600
        assert "masteruser replication" in conf


class AuthLoop:
    """A client that authenticates as `user` every few milliseconds with whichever password it
    currently holds, and counts refusals."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self.port, self.user, self.password = port, user, password
        self.attempts = self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            reply = cli_as(self.user, self.password, self.port, "PING", timeout=5)
            self.attempts += 1
            self.failures += reply != "PONG"
            time.sleep(0.02)

    def __enter__(self) -> AuthLoop:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def accepts(port: int, user: str, password: str) -> bool:
    return cli_as(user, password, port, "PING") == "PONG"


def rotate(topology: LocalTopology, key: str, user: str, ports: list[int]) -> tuple[float, float]:
    """old -> old+new -> new for one Secret key; seconds until every server took the new password
    and until every one refused the old one."""
    old, new = live_password(key), f"{live_password(key)}-rotated"
    started = time.monotonic()
    topology.set_secret(key, [old, new])
    wait_for(lambda: all(accepts(p, user, new) for p in ports), f"{key}: new accepted", 30)
    taken = time.monotonic() - started
    topology.set_secret(key, [new])
    started = time.monotonic()
    wait_for(lambda: not any(accepts(p, user, old) for p in ports), f"{key}: old refused", 30)
    return taken, time.monotonic() - started


def test_rotation_without_restart_or_failed_authentication(topology: LocalTopology) -> None:
    master = master_pod(topology)
    redis_ports = [p.port for p in topology.redis]
    sentinel_ports = [p.port for p in topology.sentinels]
    processes = {p.name: p.process.pid for p in [*topology.redis, *topology.sentinels] if p.process}

    with AuthLoop(master.port, "app", live_password("APP_PASSWORD")) as client:
        old, new = live_password("APP_PASSWORD"), f"{live_password('APP_PASSWORD')}-rotated"
        started = time.monotonic()
        topology.set_secret("APP_PASSWORD", [old, new])
        wait_for(lambda: all(accepts(p, "app", new) for p in redis_ports), "app: new", 30)
        overlap_reached = time.monotonic() - started
        client.password = new  # the application switches within the overlap
        time.sleep(1)
        topology.set_secret("APP_PASSWORD", [new])
        wait_for(lambda: not any(accepts(p, "app", old) for p in redis_ports), "app: old", 30)
        time.sleep(1)
    print(
        f"\napp rotation: new password on all data pods after {overlap_reached:.1f} s; "
        f"{client.attempts} authentications, {client.failures} refused"
    )
    assert client.attempts > 50 and client.failures == 0

    # The chart's own identities rotate too, the reloader itself included.
    for key, user, ports in (
        ("RELOADER_PASSWORD", "reloader", redis_ports + sentinel_ports),
        ("REPLICATION_PASSWORD", "replication", redis_ports),
        ("SENTINEL_AUTH_PASSWORD", "sentinel", redis_ports),
        ("SENTINEL_PEER_PASSWORD", "sentinel", sentinel_ports),
        ("PROBE_PASSWORD", "probe", redis_ports + sentinel_ports),
    ):
        taken, refused = rotate(topology, key, user, ports)
        print(f"{key}: new accepted after {taken:.1f} s, old refused after {refused:.1f} s")

    # Nothing restarted, and the topology still works with the new passwords only: replicas
    # reconnect with the new masterauth, Sentinels fail over with the new auth-pass.
    assert processes == {
        p.name: p.process.pid for p in [*topology.redis, *topology.sentinels] if p.process
    }
    # ... and no Sentinel lost its view of the master during the rotations (its auth-pass and
    # the replicas' masterauth changed under live links).
    events = topology.sentinel_events("+sdown", "+odown", "+switch-master", "+tilt")
    assert topology.failovers() == 0, "\n".join(events)
    assert cli(master.port, "CLIENT", "KILL", "TYPE", "replica") == "2"
    wait_for(lambda: online_replicas(master.port) == 2, "replicas back with the new password", 30)
    # Sentinel refreshes its view of the replicas every few seconds after they reconnected.
    wait_for(
        lambda: (
            cli(topology.sentinels[0].port, "SENTINEL", "FAILOVER", master.env["MASTER_SET"])
            == "OK"
        ),
        "Sentinel accepts the failover",
        30,
    )
    wait_for(
        lambda: agreed_master_port(topology) not in (None, master.port), "failover after rotation"
    )
    new_master = agreed_master_port(topology)
    assert new_master is not None
    wait_for(lambda: online_replicas(new_master) == 2, "replicas follow the new master", 60)
    for pod in topology.redis:
        assert topology.probe("sessions-session-database-redis", pod, "readinessProbe"), pod.name
