"""The master endpoint, live: the rendered production topology (3 data pods, 3 Sentinels) and
the real HAProxy with the rendered config. A client that only knows the endpoint keeps writing
through a master crash and a planned hand-over; once a write is acknowledged by the new master,
no later write is answered READONLY (nor any error reply but the new master's NOREPLICAS): it
succeeds, or its connection is cut and the client reconnects."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.live.endpoint import (
    CRASH_BOUND_SECONDS,
    HANDOVER_BOUND_SECONDS,
    LocalEndpoint,
    Writer,
    converged,
    writing,
)
from tests.live.topology import (
    LocalTopology,
    cli_as,
    info,
    live_password,
    online_replicas,
    wait_for,
)

pytestmark = pytest.mark.live


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
                topology.sentinel_entry(s).endswith("slaves=2,sentinels=3")
                for s in topology.sentinels
            ),
            "every Sentinel sees both replicas",
        )
    except AssertionError:
        print([topology.sentinel_entry(s) for s in topology.sentinels])
        print(topology.logs())
        raise
    with writing(endpoint) as client:
        yield client


def test_steady_state_writes_go_to_the_master_only(
    topology: LocalTopology, endpoint: LocalEndpoint, writer: Writer
) -> None:
    master = topology.redis[0]
    # The check, the reject rule and the server timing are the rendered ones (asserted on start).
    assert writer.replies and all(r.answer == "OK" for r in writer.replies), writer.replies[:5]
    assert {r.server for r in writer.replies} == {f"127.0.0.1:{master.port}"}
    # Fresh connections, one after another: every one reaches the master (a Service over all
    # data pods sends about two thirds of them to replicas).
    assert {endpoint.serving() for _ in range(30)} == {f"127.0.0.1:{master.port}"}


def test_writes_follow_a_crashed_master(topology: LocalTopology, writer: Writer) -> None:
    old = topology.redis[0]
    event = time.monotonic()
    old.kill()
    seconds, new = converged(writer, event, f"127.0.0.1:{old.port}")
    print(f"endpoint convergence after a master crash: {seconds:.2f}s (to {new})")
    assert info(int(new.rsplit(":", 1)[1]), "replication")["role"] == "master"
    assert seconds < CRASH_BOUND_SECONDS


def test_writes_follow_a_hand_over(topology: LocalTopology, writer: Writer) -> None:
    old = topology.redis[0]
    event = time.monotonic()
    hook = topology.pre_stop(old)
    assert hook.returncode == 0 and "pre-stop: replica of" in hook.stdout, hook.stdout
    seconds, new = converged(writer, event, f"127.0.0.1:{old.port}")
    print(f"endpoint convergence after a hand-over: {seconds:.2f}s (to {new})")
    old.kill()  # the container stops after its preStop hook
    assert info(int(new.rsplit(":", 1)[1]), "replication")["role"] == "master"
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
    assert {endpoint.serving() for _ in range(10)} == {f"127.0.0.1:{master.port}"}

    # The check does authenticate: a password the endpoint was not given takes every data pod
    # out, and the endpoint refuses connections.
    topology.set_secret("PROBE_PASSWORD", ["a password the endpoint does not know"])
    wait_for(lambda: endpoint.serving() is None, "the endpoint without a master")
