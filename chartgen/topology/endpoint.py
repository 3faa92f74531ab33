"""The master endpoint's part of the typed model (HAProxy pods in ha mode)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chartgen.topology.autoscaling import Autoscaling, autoscaling_model
from chartgen.topology.constraints import spec_default


@dataclass(frozen=True)
class EndpointCheck:
    interval_ms: int
    fall: int
    rise: int


@dataclass(frozen=True)
class Endpoint:
    """The master endpoint (HAProxy pods in ha mode)."""

    replicas: int
    repository: str
    tag: str
    digest: str
    requests: tuple[tuple[str, str], ...]  # (resource, quantity), Kubernetes resource names
    limits: tuple[tuple[str, str], ...]
    check: EndpointCheck
    max_connections: int
    idle_timeout_seconds: int
    autoscaling: Autoscaling


def endpoint_model(spec: dict[str, Any]) -> Endpoint:
    """The spec's endpoint section, every default resolved."""
    raw = spec.get("endpoint", {})

    def setting(*path: str) -> Any:
        node: Any = raw
        for part in path:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node if node != {} else spec_default(("endpoint", *path))

    def quantities(kind: str) -> tuple[tuple[str, str], ...]:
        names = ("cpu", "memory", "ephemeral-storage")
        return tuple((name, str(setting("resources", kind, name))) for name in names)

    return Endpoint(
        replicas=int(setting("replicas")),
        repository=str(setting("image", "repository")),
        tag=str(setting("image", "tag")),
        digest=str(setting("image", "digest")),
        requests=quantities("requests"),
        limits=quantities("limits"),
        check=EndpointCheck(
            int(setting("check", "intervalMilliseconds")),
            int(setting("check", "fall")),
            int(setting("check", "rise")),
        ),
        max_connections=int(setting("maxConnections")),
        idle_timeout_seconds=int(setting("idleTimeoutSeconds")),
        autoscaling=autoscaling_model(spec, "endpoint"),
    )
