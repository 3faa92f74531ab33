"""Which groups of pods an alert watches, and when each variant exists.

An alert names its scopes; each scope that applies to an environment becomes one rule (a
variant) with the same alert name, selecting that group's series and labelled `group`, so
Alertmanager routes, inhibitions and the runbook tell the sessions' group, the cache's own group
and the Sentinels apart. Whether a variant exists is decided twice, from one table: by the model
for the generated files, by a Helm condition for the chart (an overlay may switch the layout)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chartgen.topology.model import Topology


@dataclass(frozen=True)
class Scope:
    component: str  # the pods' component: redis | cache | sentinel (Service and pod names)
    label: str  # the rules' `group` label
    helm: str  # Helm condition under which the variant exists ("" always)
    applies: Callable[[Topology], bool]
    replicas: str  # Helm value of the group's data pods ("" for Sentinels)


def _separate(model: Topology) -> bool:
    return model.cache_group.separate


SEPARATE = 'eq .Values.cache.group "separate"'
SCOPES: dict[str, Scope] = {
    # the sessions' group (with databases.cache.group shared it holds the cache's DB too)
    "sessions": Scope("redis", "sessions", "", lambda m: True, ".Values.redis.replicas"),
    # the cache's own group (databases.cache.group separate)
    "cache": Scope("cache", "cache", SEPARATE, _separate, ".Values.cache.replicas"),
    # ... only while it cannot evict: full memory is an evicting cache's normal state
    "cache-noeviction": Scope(
        "cache",
        "cache",
        f'and ({SEPARATE}) (eq .Values.cache.config.maxmemoryPolicy "noeviction")',
        lambda m: _separate(m) and m.cache_group.config.maxmemory_policy == "noeviction",
        ".Values.cache.replicas",
    ),
    # the sessions' group while it holds the cache's DB (databases.cache.group shared)
    "shared-cache": Scope(
        "redis",
        "sessions",
        'ne .Values.cache.group "separate"',
        lambda m: not _separate(m),
        ".Values.redis.replicas",
    ),
    "sentinel": Scope("sentinel", "sentinel", 'eq .Values.mode "ha"', lambda m: m.ha, ""),
}

# Scope lists of the alerts (Alert.scopes).
SESSIONS = ("sessions",)
DATA = ("sessions", "cache")
ALL = ("sessions", "cache", "sentinel")
SENTINEL = ("sentinel",)
MEMORY = ("sessions", "cache-noeviction")  # memory share of maxmemory
CACHE_DB = ("shared-cache", "cache")  # whichever group serves the cache's DB
CACHE = ("cache",)


def replicas(model: Topology, scope: Scope) -> int:
    return model.cache_group.replicas if scope.component == "cache" else model.redis.replicas
