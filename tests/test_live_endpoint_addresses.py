"""The master endpoint while pod addresses change: production's topology with an address per pod
(tests/live/addresses.py) and the real HAProxy with the rendered haproxy.cfg, its server lines
untouched (pod FQDNs on 6379) and resolved by HAProxy's own resolver against a DNS server that
answers from the topology's records (tests/live/dns.py), as kube-dns answers in a cluster.

A client that only knows the endpoint keeps writing while the master crashes and its pod comes
back at a new address, and through a hand-over followed by the same: once a new master
acknowledged a write, no later write gets an error reply (READONLY above all), and the endpoint
routes to the recreated pod's new address when it is master again. With TLS (production's
setting) the certificate carries exactly the rendered Certificate's dnsNames, and HAProxy's check
verifies each pod's name (`verifyhost <pod FQDN>`) against it: a certificate without the pods'
names takes every pod out of the endpoint."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chartgen.engines import helm
from tests.conftest import CHART, FAST_FAILOVER
from tests.live.addresses import PerPodTopology
from tests.live.dns import HostsDns, records
from tests.live.endpoint import (
    CRASH_BOUND_SECONDS,
    HANDOVER_BOUND_SECONDS,
    LocalEndpoint,
    Writer,
    converged,
    writing,
)
from tests.live.tls import issue, make_ca, rendered_dns_names
from tests.live.topology import Pod, require_binaries, running, wait_for

pytestmark = pytest.mark.live


@pytest.fixture
def tls_pods(tmp_path: Path) -> Iterator[PerPodTopology]:
    """Production with TLS on, its certificate issued for the rendered Certificate's names."""
    require_binaries()
    objects = helm.render(CHART, "production", extra=FAST_FAILOVER)
    local = PerPodTopology(tmp_path, objects)
    assert local.tls, "production renders with TLS on"
    make_ca(tmp_path)
    issue(local.tls_dir, 1001, tuple(f"DNS:{name}" for name in rendered_dns_names(objects)))
    local.build(replicas=3, sentinels=3)
    with running(local):
        yield local


@pytest.fixture
def dns(pods: PerPodTopology) -> Iterator[HostsDns]:
    server = HostsDns(pods.hosts)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def endpoint(pods: PerPodTopology, dns: HostsDns) -> Iterator[LocalEndpoint]:
    local = LocalEndpoint.of(pods)
    try:
        local.start_per_pod(pods, dns)
        yield local
    finally:
        local.stop()
        print(local.log.read_text() if local.log.exists() else "")


@pytest.fixture
def writer(pods: PerPodTopology, endpoint: LocalEndpoint) -> Iterator[Writer]:
    master = pods.redis[0]
    wait_for(lambda: endpoint.serving() == address(master), "the endpoint routes to pod 0")
    with writing(endpoint) as client:
        yield client


def address(pod: Pod) -> str:
    return f"{pod.host}:{pod.port}"


def master_at(pods: PerPodTopology, server: str) -> Pod:
    pod = pods.pod_named(server.rsplit(":", 1)[0])
    assert pod is not None and pods.info(pod, "replication")["role"] == "master", server
    return pod


def seen_down_by_every_sentinel(pods: PerPodTopology, gone: Pod) -> bool:
    name = f"{pods.fqdn[gone.name]}:{gone.port}"
    return all(
        "s_down" in pods.sentinel_view(sentinel, "replicas").get(name, "")
        for sentinel in pods.sentinels
    )


def comes_back_and_is_routed_to(
    pods: PerPodTopology, endpoint: LocalEndpoint, writer: Writer, old: Pod, new: Pod
) -> None:
    """`old` is recreated at a new address and rejoins as a replica; a hand-over to it (the
    third pod gone, so it is the one replica left) moves the endpoint to its NEW address,
    which HAProxy resolved again, without a restart."""
    previous = pods.recreate(old)
    assert old.host != previous
    pods.start_redis(pods.redis.index(old))
    wait_for(
        lambda: pods.info(old, "replication").get("master_link_status") == "up",
        f"{old.name} replicating at {old.host}",
    )
    third = next(p for p in pods.redis if p is not old and p is not new)
    pods.kill(third)
    wait_for(lambda: seen_down_by_every_sentinel(pods, third), f"{third.name} down for Sentinel")
    event = time.monotonic()
    hook = pods.pre_stop(new)  # hand the master over to the one replica left: `old`
    assert hook.returncode == 0, hook.stdout + hook.stderr
    seconds, server = converged(writer, event, address(new))
    print(f"endpoint to {old.name} at its new address after a hand-over: {seconds:.2f}s")
    assert server == address(old), (server, old.host, previous)
    master_at(pods, server)


def test_the_endpoint_resolves_pods_by_name(
    pods: PerPodTopology, dns: HostsDns, endpoint: LocalEndpoint
) -> None:
    # The rendered server lines name pods by FQDN; HAProxy asked the DNS server for them.
    config = (endpoint.root / "haproxy.local.cfg").read_text()
    for pod in pods.redis:
        assert f"{pods.fqdn[pod.name]}:6379" in config
        assert records(pods.hosts)[pods.fqdn[pod.name]] == [pod.host]
    assert dns.queries > 0
    assert endpoint.serving() == address(pods.redis[0])
    assert {endpoint.serving() for _ in range(20)} == {address(pods.redis[0])}


def test_writes_follow_a_crash_and_the_pod_at_its_new_address(
    pods: PerPodTopology, endpoint: LocalEndpoint, writer: Writer
) -> None:
    old = pods.redis[0]
    event = time.monotonic()
    pods.kill(old)
    seconds, server = converged(writer, event, address(old))
    print(f"endpoint convergence after a master crash (addresses per pod): {seconds:.2f}s")
    new = master_at(pods, server)
    assert seconds < CRASH_BOUND_SECONDS
    comes_back_and_is_routed_to(pods, endpoint, writer, old, new)


def test_writes_follow_a_hand_over_and_the_pod_at_its_new_address(
    pods: PerPodTopology, endpoint: LocalEndpoint, writer: Writer
) -> None:
    old = pods.redis[0]
    event = time.monotonic()
    hook = pods.pre_stop(old)
    assert hook.returncode == 0 and "pre-stop: replica of" in hook.stdout, hook.stdout
    seconds, server = converged(writer, event, address(old))
    print(f"endpoint convergence after a hand-over (addresses per pod): {seconds:.2f}s")
    pods.kill(old)  # the container stops after its preStop hook
    new = master_at(pods, server)
    assert seconds < HANDOVER_BOUND_SECONDS
    comes_back_and_is_routed_to(pods, endpoint, writer, old, new)


def test_over_tls_the_check_verifies_pod_names_and_follows_a_crash(
    tls_pods: PerPodTopology,
) -> None:
    pods = tls_pods
    dns = HostsDns(pods.hosts)
    dns.start()
    endpoint = LocalEndpoint.of(pods)
    try:
        endpoint.start_per_pod(pods, dns)
        config = (endpoint.root / "haproxy.local.cfg").read_text()
        master = pods.redis[0]
        assert f"verifyhost {pods.fqdn[master.name]}" in config
        wait_for(lambda: endpoint.serving() == address(master), "the endpoint routes to pod 0")
        with writing(endpoint) as writer:
            event = time.monotonic()
            pods.kill(master)
            seconds, server = converged(writer, event, address(master))
            print(f"endpoint convergence after a master crash over TLS: {seconds:.2f}s")
            new = master_at(pods, server)
            assert seconds < CRASH_BOUND_SECONDS
            comes_back_and_is_routed_to(pods, endpoint, writer, master, new)
        # The check verifies names: a renewed certificate without the pods' names (every data
        # pod loads it without a restart) takes every pod out, and the endpoint refuses.
        issue(pods.tls_dir, 1002)
        wait_for(lambda: endpoint.serving() is None, "the endpoint without a verified master")
        assert "certificate" in endpoint.log.read_text().lower()
        issue(pods.tls_dir, 1003, tuple(f"DNS:{n}" for n in rendered_dns_names(pods.objects)))
        wait_for(
            lambda: endpoint.serving() is not None, "the endpoint back with a good certificate"
        )
    finally:
        endpoint.stop()
        dns.stop()
        print(endpoint.log.read_text()[-3000:] if endpoint.log.exists() else "")
