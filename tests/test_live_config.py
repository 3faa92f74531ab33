"""The configuration each environment's values produce is the configuration real Redis runs:
the rendered redis.conf and start script, booted with redis-server on 127.0.0.1, read back with
CONFIG GET."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chartgen.engines import helm
from tests.conftest import CHART, install_values
from tests.live.topology import REDIS_SET, LocalTopology, cli, info, require_binaries

pytestmark = pytest.mark.live

Boot = Callable[[str], LocalTopology]


def config(port: int, name: str) -> str:
    """The running value of one setting ("" when empty: the reply is then the name alone)."""
    name_and_value = cli(port, "CONFIG", "GET", name).splitlines()
    assert name_and_value[0] == name, f"no setting {name}"
    return name_and_value[1] if len(name_and_value) > 1 else ""


@pytest.fixture
def boot(tmp_path: Path) -> Iterator[Boot]:
    require_binaries()
    started: list[LocalTopology] = []

    def start(environment: str) -> LocalTopology:
        local = LocalTopology(
            tmp_path / environment,
            # plaintext: tests/test_live_tls.py boots production with its certificates
            helm.render(
                CHART, environment, extra=install_values(environment, {"tls": {"enabled": False}})
            ),
        )
        local.build(replicas=1, sentinels=0)
        started.append(local)
        local.start_redis(0)
        return local

    yield start
    for local in started:
        local.stop()


def test_production_values_reach_the_running_server(boot: Boot) -> None:
    # No Sentinel answers yet, so pod 0 starts as the seed master with production's settings.
    topology: LocalTopology = boot("production")
    port = topology.redis[0].port
    assert config(port, "maxmemory") == str(4 * 1024**3)
    assert config(port, "maxmemory-policy") == "noeviction"
    assert config(port, "save") == "900 1 300 10 60 10000"
    assert config(port, "tcp-keepalive") == "300"
    assert config(port, "appendonly") == "yes"
    assert config(port, "min-replicas-to-write") == "1"
    assert config(port, "min-replicas-max-lag") == "10"
    assert info(port, "replication")["role"] == "master"
    assert "starting as master" in topology.redis[0].log.read_text()
    # the service cache's own group: the seed's allkeys-lru, its own memory, nothing persisted
    assert len(topology.cache) == 2, "production's render lays out its cache group"
    topology.start_cache(0)
    cache = topology.cache[0].port
    assert config(cache, "maxmemory") == str(1024**3)
    assert config(cache, "maxmemory-policy") == "allkeys-lru"
    assert config(cache, "save") == ""
    assert config(cache, "appendonly") == "no"
    assert config(cache, "min-replicas-to-write") == "0"
    assert info(cache, "replication")["role"] == "master"


def test_development_runs_one_standalone_server(boot: Boot) -> None:
    topology: LocalTopology = boot("development")
    pod = topology.redis[0]
    assert pod.env["REDIS_MODE"] == "standalone"
    assert config(pod.port, "maxmemory") == str(256 * 1024**2)
    assert config(pod.port, "save") == ""
    assert config(pod.port, "appendonly") == "no"
    assert config(pod.port, "min-replicas-to-write") == "0"  # no replicas to wait for
    assert cli(pod.port, "-n", "0", "SET", "session:s1", "u1", "EX", "3600") == "OK"
    assert cli(pod.port, "-n", "1", "SET", "cache:svc:k", "v", "EX", "86400") == "OK"
    assert topology.probe(REDIS_SET, pod, "livenessProbe")
    # standalone has no one to hand over to: no preStop hook at all
    assert "lifecycle" not in topology.container(REDIS_SET)
