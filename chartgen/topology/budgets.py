"""Time budgets derived from the topology: how long a data pod needs to stop, and how long each
probe script can run in the worst case (every step timing out)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from chartgen.topology.constraints import spec_default
from chartgen.topology.units import redis_bytes

# Seconds left after the hand-over and the final save: SIGTERM handling, closing clients.
STOP_MARGIN_SECONDS = 10

# Sequential redis-cli steps of each probe script (files/health.sh, files/sentinel-health.sh);
# the Sentinels are asked in parallel, one step. Each step gets at least one second, and one
# second of the probe's timeout is kept for starting the shell and redis-cli.
PROBE_STEPS = {
    ("redis", "startupProbe"): 1,
    ("redis", "livenessProbe"): 3,
    ("redis", "readinessProbe"): 2,
    # the cache's own group runs the same health.sh
    ("cache", "startupProbe"): 1,
    ("cache", "livenessProbe"): 3,
    ("cache", "readinessProbe"): 2,
    ("sentinel", "livenessProbe"): 1,
    ("sentinel", "readinessProbe"): 1,
}


@dataclass(frozen=True)
class StopBudget:
    handover: int  # ha: a master's preStop waits this long for Sentinel to hand over
    save: int  # the final snapshot of a full dataset at the assumed disk speed
    margin: int

    @property
    def total(self) -> int:
        return self.handover + self.save + self.margin

    def explain(self) -> str:
        return f"{self.handover} s hand-over + {self.save} s final save + {self.margin} s margin"


def _redis(spec: dict[str, Any], key: str) -> Any:
    return spec["redis"].get(key, spec_default(("redis", key)))


def _group(spec: dict[str, Any], group: str) -> dict[str, Any]:
    settings: dict[str, Any] = spec[group] if group in spec else spec_default((group,))
    return settings


def stop_budget(spec: dict[str, Any], group: str = "redis") -> StopBudget:
    """What a data pod of `group` (redis, or cache: the cache's own group) needs between
    SIGTERM and SIGKILL: the hand-over and the disk speed are the sessions' group's settings,
    the data to save the group's own (none for a cache without persistence)."""
    config = _group(spec, group)["config"]
    handover = _redis(spec, "handoverSeconds") if spec["mode"] == "ha" else 0
    saves = bool(str(config.get("save", "")).strip()) or bool(config.get("appendonly", True))
    data = redis_bytes(str(config["maxmemory"])) if saves else 0
    speed = _redis(spec, "shutdownSaveMBps") * 10**6
    return StopBudget(int(handover), math.ceil(data / speed), STOP_MARGIN_SECONDS)


def grace_period(spec: dict[str, Any], group: str = "redis") -> int:
    """terminationGracePeriodSeconds of `group`: the spec's, else its stop budget."""
    given = _group(spec, group).get("terminationGracePeriodSeconds")
    return int(given) if given is not None else stop_budget(spec, group).total


def probe_floor(path: tuple[str, str]) -> int:
    """The smallest timeoutSeconds in which the probe's worst case still ends."""
    return PROBE_STEPS[path] + 1
