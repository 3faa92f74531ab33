"""redis.extraConfig reaches the running server: the rendered redis.conf and start script,
booted with redis-server on 127.0.0.1, read back with CONFIG GET; the chart's own lines still
decide what the chart owns."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartgen.engines import helm
from tests.conftest import CHART, install_values
from tests.live.topology import LocalTopology, cli, require_binaries

pytestmark = pytest.mark.live


def config(port: int, name: str) -> str:
    name_and_value = cli(port, "CONFIG", "GET", name).splitlines()
    assert name_and_value[0] == name, f"no setting {name}"
    return name_and_value[1] if len(name_and_value) > 1 else ""


def test_extra_directives_reach_the_running_server(tmp_path: Path) -> None:
    require_binaries()
    extra = {
        "tls": {"enabled": False},
        "redis": {
            "extraConfig": {"hz": 20, "latency-tracking": False, "slowlog-max-len": 512},
            "extraEnv": [{"name": "EXTRA_FLAG", "value": "on"}],
        },
    }
    local = LocalTopology(
        tmp_path, helm.render(CHART, "production", extra=install_values("production", extra))
    )
    local.build(replicas=1, sentinels=0)
    try:
        local.start_redis(0)
        port = local.redis[0].port
        # the defaults differ (hz 10, latency-tracking yes, slowlog-max-len 128): the lines took
        assert config(port, "hz") == "20"
        assert config(port, "latency-tracking") == "no"
        assert config(port, "slowlog-max-len") == "512"
        # the chart's settings are untouched and its own lines still come after the include
        assert config(port, "maxmemory-policy") == "noeviction"
        assert config(port, "port") == str(port)
        assert local.redis[0].env["EXTRA_FLAG"] == "on"
    finally:
        local.stop()
