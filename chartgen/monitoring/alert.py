"""An alert as data, and the builders its test series use (the list itself: alerts.py).

Expressions and annotations use placeholders that the renderers (rules.py) replace, either by
Helm template code or by one environment's values, for each of the alert's scopes (groups.py):
  @data@                   label matchers of the variant's pods (a data group or the Sentinels)
  @sentinel@ @all@         the Sentinels; the sessions' data pods and the Sentinels
  @pods@                   namespace and pod-name matchers of the variant's pods for
                           cAdvisor/kube-state-metrics
  @t:<name>@               the threshold monitoring.alerts.<name>
  @quorum@ @replicas1@     the Sentinel quorum; the group's data pods less one (replicas a
                           master needs)
  @sessionsDb@ @cacheDb@   the exporter's db label of DB 0 and DB 1
Test series and labels are built for the variant's Target (Target.group).
Annotations may use Prometheus' {{ $labels.<name> }} (never $value: the generated tests
compare annotations exactly)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chartgen.monitoring.groups import SESSIONS
from chartgen.monitoring.series import Series, Target, data

Thresholds = dict[str, Any]  # thresholds and derived figures (Concrete.inputs)
Inputs = Callable[[Target, Thresholds], list[Series]]
Labels = Callable[[Target], dict[str, str]]

TEST_MINUTES = 40  # every test series spans this many 1-minute steps; alerts are checked at 35m


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str  # critical | warning | info
    expr: str
    for_: str
    summary: str
    description: str
    meaning: str  # the runbook's "what it means"
    checks: tuple[str, str, str]  # the runbook's first three things to check
    fire: Inputs
    silent: tuple[tuple[str, Inputs], ...]  # named cases in which it stays silent
    labels: Labels  # the labels of the fired alert, besides alertname and severity
    ha_only: bool = False
    external: tuple[str, ...] = field(default=())  # metrics not from redis_exporter
    scopes: tuple[str, ...] = SESSIONS  # the groups it watches, one rule each (groups.py)

    @property
    def anchor(self) -> str:
        return self.name.lower()


def steady(value: float | int) -> str:
    return f"{value}x{TEST_MINUTES}"


def counter(per_minute: int) -> str:
    return f"0+{per_minute}x{TEST_MINUTES}"


def data_labels(index: int = 0) -> Labels:
    return lambda t: t.data_labels(index)


def group(kind: str) -> Labels:
    def labels(t: Target) -> dict[str, str]:
        service = t.data_service if kind == "data" else t.sentinel_service
        return {"namespace": t.namespace, "service": service}

    return labels


def replication(t: Target, master: int = 0, replicas: int = 2) -> list[Series]:
    roles = [
        data(t, "redis_instance_info", steady(1), i, role="master" if i == master else "slave")
        for i in range(replicas + 1)
    ]
    return [*(data(t, "redis_up", steady(1), i) for i in range(replicas + 1)), *roles]


def _job(t: Target, job: str) -> str:
    """The cache's own group holds only the cache job's results."""
    return "cache" if t.group == "cache" else job


def cleanup(t: Target, job: str, field_: str, values: str) -> Series:
    job = _job(t, job)
    db = "db0" if job == "sessions" else "db1"
    return data(t, "redis_key_value", values, db=db, key=f"cleanup:result:{job}:{field_}")


def cleanup_labels(job: str, field_: str) -> Labels:
    return lambda t: {**group("data")(t), "key": f"cleanup:result:{_job(t, job)}:{field_}"}
