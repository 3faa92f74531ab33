"""The master endpoint, live: the rendered production topology (3 data pods, 3 Sentinels) and
the real HAProxy with the rendered config. A client that only knows the endpoint keeps writing
through a master crash and a planned hand-over; once a write is acknowledged by the new master,
no later write is answered READONLY (nor any error reply but the new master's NOREPLICAS): it
succeeds, or its connection is cut and the client reconnects."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from chartgen.security.resp import Resp, RespError
from tests.live.endpoint import LocalEndpoint, connected_port
from tests.live.topology import (
    LocalTopology,
    cli_as,
    info,
    live_password,
    online_replicas,
    wait_for,
)

pytestmark = pytest.mark.live

# Crash: Sentinel's down-after (1 s in FAST_FAILOVER), its election and promotion, a replica
# reattaching (min-replicas-to-write 1), then one check interval (1 s). Hand-over: no detection.
CRASH_BOUND_SECONDS = 8.0
HANDOVER_BOUND_SECONDS = 5.0


@dataclass
class Reply:
    at: float
    port: int | None  # the data pod behind the connection; None: no connection
    answer: str  # "OK", an error reply, or "connection: ..." when the connection failed


@dataclass
class Writer:
    """SET session:endpoint <n> in a loop through the endpoint, reconnecting on any failure."""

    port: int
    replies: list[Reply] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        counter, conn, server = 0, None, None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = Resp(self.port, timeout=3)
                    server = connected_port(conn)
                counter += 1
                answer = conn.call("SET", "session:endpoint", counter)
            except RespError as exc:
                answer = str(exc)
            except (OSError, ConnectionError, AssertionError) as exc:
                answer = f"connection: {exc}"
                if conn is not None:
                    conn.close()
                conn, server = None, None
                time.sleep(0.02)
            self.replies.append(Reply(time.monotonic(), server, answer))
        if conn is not None:
            conn.close()

    def acknowledged(self, since: float = 0.0) -> list[Reply]:
        return [r for r in self.replies if r.answer == "OK" and r.at >= since]


@pytest.fixture
def endpoint(topology: LocalTopology) -> Iterator[LocalEndpoint]:
    local = LocalEndpoint.of(topology)
    try:
        local.start(topology)
        yield local
    finally:
        local.stop()
        print(local.log.read_text() if local.log.exists() else "")


@pytest.fixture
def writer(endpoint: LocalEndpoint, topology: LocalTopology) -> Iterator[Writer]:
    master = topology.redis[0]
    wait_for(lambda: online_replicas(master.port) == 2, "two replicas connected")
    try:
        wait_for(
            lambda: all(
                info(s.port, "sentinel").get("master0", "").endswith("slaves=2,sentinels=3")
                for s in topology.sentinels
            ),
            "every Sentinel sees both replicas",
        )
    except AssertionError:
        print([info(s.port, "sentinel").get("master0") for s in topology.sentinels])
        print(topology.logs())
        raise
    client = Writer(endpoint.port)
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()
    wait_for(lambda: len(client.acknowledged()) >= 50, "the client writing")
    try:
        yield client
    finally:
        client.stop.set()
        thread.join(timeout=10)


def converged(client: Writer, event: float, old_port: int) -> tuple[float, int]:
    """(seconds from the event to the first write the new master acknowledged, its port);
    asserts that every later reply is OK or a cut connection, never an error reply."""
    wait_for(
        lambda: any(r.port not in (None, old_port) for r in client.acknowledged(event)),
        "a write acknowledged by the new master",
        timeout=30,
    )
    time.sleep(2)  # keep writing a while after convergence
    first = next(r for r in client.acknowledged(event) if r.port != old_port)
    # what the client saw in between, for the log
    between = Counter(r.answer[:40] for r in client.replies if event <= r.at < first.at)
    print(f"replies before convergence: {dict(between)}")
    later = [r for r in client.replies if r.at > first.at]
    print(f"replies after convergence: {dict(Counter(r.answer[:40] for r in later))}")
    # NOREPLICAS would be the new master's own guard (min-replicas-to-write) while its replica
    # resynchronises, not the endpoint's routing; every other error reply fails the test.
    refused = [
        r for r in later if r.answer.split(" ")[0] not in ("OK", "connection:", "NOREPLICAS")
    ]
    assert not refused, f"error replies after convergence: {refused[:5]}"
    assert all(r.port == first.port for r in later if r.answer == "OK"), "writes on two masters"
    assert len([r for r in later if r.answer == "OK"]) >= 20, "writes stopped after convergence"
    return first.at - event, int(first.port or 0)


def test_steady_state_writes_go_to_the_master_only(
    topology: LocalTopology, endpoint: LocalEndpoint, writer: Writer
) -> None:
    master = topology.redis[0]
    # The check, the reject rule and the server timing are the rendered ones (asserted on start).
    assert writer.replies and all(r.answer == "OK" for r in writer.replies), writer.replies[:5]
    assert {r.port for r in writer.replies} == {master.port}
    # Fresh connections, one after another: every one reaches the master (a Service over all
    # data pods sends about two thirds of them to replicas).
    assert {endpoint.serving_port() for _ in range(30)} == {master.port}


def test_writes_follow_a_crashed_master(topology: LocalTopology, writer: Writer) -> None:
    old = topology.redis[0]
    event = time.monotonic()
    old.kill()
    seconds, new_port = converged(writer, event, old.port)
    print(f"endpoint convergence after a master crash: {seconds:.2f}s (to port {new_port})")
    assert info(new_port, "replication")["role"] == "master"
    assert seconds < CRASH_BOUND_SECONDS


def test_writes_follow_a_hand_over(topology: LocalTopology, writer: Writer) -> None:
    old = topology.redis[0]
    event = time.monotonic()
    hook = topology.pre_stop(old)
    assert hook.returncode == 0 and "pre-stop: replica of" in hook.stdout, hook.stdout
    seconds, new_port = converged(writer, event, old.port)
    print(f"endpoint convergence after a hand-over: {seconds:.2f}s (to port {new_port})")
    old.kill()  # the container stops after its preStop hook
    assert info(new_port, "replication")["role"] == "master"
    assert seconds < HANDOVER_BOUND_SECONDS


def test_the_check_follows_a_rotated_probe_password(
    topology: LocalTopology, endpoint: LocalEndpoint, writer: Writer
) -> None:
    master = topology.redis[0]
    old, new = live_password("PROBE_PASSWORD"), 'rotated probe password "2"'
    start = time.monotonic()

    def handovers() -> int:
        return endpoint.log.read_text().count("handing over to a new HAProxy")

    # Both passwords while the rotation overlaps, then only the new one; the kubelet updates
    # the endpoint's mount and the data pods' mounts independently.
    topology.set_secret("PROBE_PASSWORD", [old, new])
    endpoint.set_password([old, new])
    wait_for(lambda: handovers() == 1, "a new HAProxy with the newest password")
    topology.set_secret("PROBE_PASSWORD", [new])
    endpoint.set_password([new])
    wait_for(lambda: handovers() == 2, "a new HAProxy after the old password went")
    assert cli_as("probe", new, master.port, "PING") == "PONG"
    wait_for(
        lambda: cli_as("probe", old, master.port, "PING") != "PONG",
        "the data pods refuse the old password",
    )
    time.sleep(3)  # three check intervals with only the new password accepted
    replies = [r for r in writer.replies if r.at >= start]
    refused = [r for r in replies if r.answer != "OK" and not r.answer.startswith("connection")]
    assert not refused, refused[:5]
    assert len(writer.acknowledged(time.monotonic() - 2)) >= 20, "writes stopped"
    assert {endpoint.serving_port() for _ in range(10)} == {master.port}

    # The check does authenticate: a password the endpoint was not given takes every data pod
    # out, and the endpoint refuses connections.
    topology.set_secret("PROBE_PASSWORD", ["a password the endpoint does not know"])
    wait_for(lambda: endpoint.serving_port() is None, "the endpoint without a master")
