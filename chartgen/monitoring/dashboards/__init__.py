"""Grafana dashboards built with grafana-foundation-sdk (typed builders, not hand-written JSON):
Redis overview, Sessions, Cache, Resource utilisation and Alert status.

`chartgen build` writes each environment's set to generated/monitoring/<env>/dashboards/ and
the chart's copy to files/dashboards/, which the ConfigMap <fullname>-dashboards reads; the
chart's copy carries a token where an environment's set has a spec parameter (per-user limits,
TTLs), and the ConfigMap replaces it with the release's Helm value, so a release of an
environment gets exactly that environment's files."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from chartgen.monitoring.dashboards.base import Board
from chartgen.monitoring.dashboards.cluster import EXTERNAL, alert_status, resources
from chartgen.monitoring.dashboards.data import CACHE_CONSTANTS, SESSION_CONSTANTS, cache, sessions
from chartgen.monitoring.dashboards.overview import overview
from chartgen.topology.model import Topology

UID_LIMIT = 40  # Grafana refuses longer uids
DIR = "dashboards"
# Helm values path of every constant, for the chart ConfigMap's replacements
CONSTANTS: dict[str, str] = {**SESSION_CONSTANTS, **CACHE_CONSTANTS}

# name (file <name>.json) -> (uid suffix, title)
TITLES: dict[str, tuple[str, str]] = {
    "redis-overview": ("overview", "Redis overview"),
    "sessions": ("sessions", "Sessions"),
    "cache": ("cache", "Cache"),
    "resources": ("resources", "Resource utilisation"),
    "alerts": ("alerts", "Alert status"),
}


def uid(chart: str, suffix: str) -> str:
    """<chart>-<suffix>, at most 40 characters: a longer chart name is cut and a hash of the
    whole name keeps two such charts apart. Derived from the chart name only, so every build
    and every release of the chart gives the same uid."""
    full = f"{chart}-{suffix}"
    if len(full) <= UID_LIMIT:
        return full
    digest = hashlib.sha256(chart.encode()).hexdigest()[:6]
    keep = UID_LIMIT - len(suffix) - len(digest) - 2
    return f"{chart[:keep].rstrip('-')}-{digest}-{suffix}"


def token(path: str) -> str:
    """What the chart's copy holds instead of the value at Helm values `path`."""
    return f"@values.{path}@"


def _values(model: Topology) -> dict[str, str]:
    figures = {
        "max_sessions_per_user": model.sessions.max_sessions_per_user,
        "max_refresh_tokens_per_user": model.sessions.max_refresh_tokens_per_user,
        "session_ttl_seconds": model.sessions.session_ttl,
        "refresh_token_ttl_seconds": model.sessions.refresh_token_ttl,
        "sessions_cleanup_interval_seconds": model.sessions.cleanup_interval,
        "max_entries_per_service": model.cache.max_entries_per_service,
        "cache_default_ttl_seconds": model.cache.default_ttl,
        "cache_cleanup_interval_seconds": model.cache.cleanup_interval,
    }
    assert figures.keys() == CONSTANTS.keys()
    return {name: str(value) for name, value in figures.items()}


def boards(model: Topology, constants: dict[str, str]) -> list[Board]:
    chart = model.chart.name

    def ids(name: str) -> tuple[str, str]:
        suffix, title = TITLES[name]
        return uid(chart, suffix), f"{chart} / {title}"

    builders: dict[str, Callable[[str, str], Board]] = {
        "redis-overview": overview,
        "sessions": lambda u, t: sessions(u, t, constants, f"db{model.sessions.index}"),
        "cache": lambda u, t: cache(u, t, constants, f"db{model.cache.index}"),
        "resources": resources,
        "alerts": alert_status,
    }
    return [builders[name](*ids(name)) for name in TITLES]


def environment_files(model: Topology) -> dict[str, bytes]:
    """One environment's dashboards: dashboards/<name>.json."""
    return {f"{DIR}/{b.name}.json": b.json() for b in boards(model, _values(model))}


def chart_files(model: Topology) -> dict[str, bytes]:
    """The chart's copy: files/dashboards/<name>.json, spec parameters as tokens."""
    tokens = {name: token(path) for name, path in CONSTANTS.items()}
    return {f"files/{DIR}/{b.name}.json": b.json() for b in boards(model, tokens)}


def dashboard_context(model: Topology) -> dict[str, object]:
    """What the chart's ConfigMap template and README need: each dashboard's file, uid and
    title, and each token with the Helm values path that replaces it."""
    return {
        "boards": [
            {"file": f"{name}.json", "uid": uid(model.chart.name, suffix), "title": title}
            for name, (suffix, title) in TITLES.items()
        ],
        "tokens": [(token(path), path) for path in CONSTANTS.values()],
        "dir": f"files/{DIR}",
    }


__all__ = [
    "CONSTANTS",
    "EXTERNAL",
    "TITLES",
    "chart_files",
    "dashboard_context",
    "environment_files",
    "token",
    "uid",
]
