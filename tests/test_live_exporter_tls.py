"""The exporter sidecar over TLS, live: production as rendered (TLS on) with two data pods and
three Sentinels on 127.0.0.1, a certificate carrying exactly the rendered Certificate's names,
and a real redis_exporter per pod started from the rendered sidecar's args and env (the
`rediss://localhost` address verified against the release CA). Both log in as the chart's
monitor user from the rendered ACL file; the data pods' exporters publish the cleanup result
keys with the rights the monitor role declares."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from chartgen.engines import helm
from chartgen.monitoring import exporter
from chartgen.topology.model import build_model
from chartgen.topology.resolve import resolve
from tests.conftest import CHART, SPEC
from tests.live.prometheus import EXPORTER, Processes, Target, scrape, start_exporters
from tests.live.tls import issue, make_ca, rendered_dns_names
from tests.live.topology import (
    REDIS_SET,
    SENTINEL_SET,
    LocalTopology,
    cli,
    online_replicas,
    require_binaries,
    running,
    wait_for,
)

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def exporters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Target]]:
    require_binaries()
    root = tmp_path_factory.mktemp("exporter-tls")
    objects = helm.render(CHART, "production")
    local = LocalTopology(root / "topology", objects)
    assert local.tls, "production renders with TLS on"
    (root / "topology").mkdir()
    make_ca(root / "topology")
    names = rendered_dns_names(objects)
    assert "localhost" in names  # what the sidecar connects to
    issue(local.tls_dir, serial=3001, names=(*(f"DNS:{n}" for n in names), "IP:127.0.0.1"))
    local.build(replicas=2, sentinels=3)
    procs = Processes(root)
    with running(local):
        # production's write guard: a write needs one replica online
        wait_for(lambda: online_replicas(local.redis[0].port) == 1, "the replica online")
        model = build_model(resolve(SPEC).environments["production"])
        for job, index in exporter.cleanup_jobs(model).items():
            for field in exporter.CLEANUP_FIELDS:
                key = exporter.cleanup_key(job, field)
                assert cli(local.redis[0].port, "-n", str(index), "SET", key, "42") == "OK"
        try:
            yield start_exporters(
                local,
                procs,
                "session-db",
                [(REDIS_SET, local.redis), (SENTINEL_SET, local.sentinels)],
            )
        except AssertionError:
            print(procs.logs())
            raise
        finally:
            procs.stop()


def _samples(target: Target) -> list[str]:
    try:
        return scrape(target.port)
    except OSError:
        return []


def test_every_exporter_reaches_its_server_over_tls(exporters: list[Target]) -> None:
    started = time.monotonic()
    for target in exporters:
        wait_for(lambda t=target: "redis_up 1" in _samples(t), f"{target.pod_name}: redis_up 1")
        assert 'redis_exporter_last_scrape_error{err=""} 0' in _samples(target)
    took = time.monotonic() - started
    print(f"\n{len(exporters)} exporters ({EXPORTER}) up over TLS in {took:.1f}s")


def test_the_data_exporter_publishes_the_cleanup_results(exporters: list[Target]) -> None:
    data = [t for t in exporters if t.service.endswith("-redis-headless")]
    assert len(data) == 2
    for target in data:  # the master and its replica
        wait_for(
            lambda t=target: any(s.startswith("redis_key_value") for s in _samples(t)),
            f"{target.pod_name}: redis_key_value",
        )
        samples = _samples(target)
        for job, db in (("sessions", "db0"), ("cache", "db1")):
            for field in exporter.CLEANUP_FIELDS:
                key = exporter.cleanup_key(job, field)
                assert f'redis_key_value{{db="{db}",key="{key}"}} 42' in samples, (target, key)
    for sentinel in (t for t in exporters if t.service.endswith("-sentinel-headless")):
        assert not [s for s in _samples(sentinel) if s.startswith("redis_key_value")]
