"""The Ingress of the bundled monitoring stack's UIs (spec monitoring.ingress) and the rule that
Prometheus and Alertmanager, which have no login of their own, are never exposed without one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chartgen.topology.constraints import spec_default
from chartgen.topology.load import KeyPath

UIS = ("grafana", "prometheus", "alertmanager")
# The UIs without a login of their own: exposed only behind the controller's authentication.
UNAUTHENTICATED = ("prometheus", "alertmanager")
SPEC = ("monitoring", "ingress")


@dataclass(frozen=True)
class Ingress:
    enabled: bool
    class_name: str
    hosts: tuple[tuple[str, str], ...]  # UI -> host ("" = not exposed), in UIS order
    issuer_kind: str
    issuer_name: str
    auth_type: str  # basic | external | none
    auth_secret: str
    auth_url: str
    auth_signin: str


def ingress_model(monitoring: dict[str, Any]) -> Ingress:
    raw = monitoring.get("ingress", {})

    def get(*path: str) -> Any:
        node = raw
        for key in path[:-1]:
            node = node.get(key, {})
        return node.get(path[-1], spec_default((*SPEC, *path)))

    return Ingress(
        enabled=bool(get("enabled")),
        class_name=str(get("className")),
        hosts=tuple((ui, str(get("hosts", ui))) for ui in UIS),
        issuer_kind=str(get("tls", "issuerKind")),
        issuer_name=str(get("tls", "issuerName")),
        auth_type=str(get("auth", "type")),
        auth_secret=str(get("auth", "secretName")),
        auth_url=str(get("auth", "url")),
        auth_signin=str(get("auth", "signin")),
    )


def ingress_auth(spec: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """An Ingress never exposes Prometheus or Alertmanager without authentication: they have no
    login of their own (anyone reaching them reads every series, deletes series through the
    admin API if enabled, silences alerts). basic needs the htpasswd Secret, external the
    authentication URL."""
    monitoring = spec.get("monitoring", {})
    mode = monitoring.get("mode", spec_default(("monitoring", "mode")))
    ingress = ingress_model(monitoring)
    if mode != "bundled" or not ingress.enabled:
        return
    exposed = [ui for ui, host in ingress.hosts if host and ui in UNAUTHENTICATED]
    if not exposed:
        return
    names = " and ".join(exposed)
    if ingress.auth_type == "none":
        yield (
            (*SPEC, "auth", "type"),
            f"none would expose {names} without authentication (they have no login); use basic "
            "(auth.secretName: an htpasswd Secret) or external (auth.url: e.g. oauth2-proxy), or "
            "leave their hosts empty",
        )
    elif ingress.auth_type == "basic" and not ingress.auth_secret:
        yield (
            (*SPEC, "auth", "secretName"),
            f"basic authentication in front of {names} needs the htpasswd Secret's name",
        )
    elif ingress.auth_type == "external" and not ingress.auth_url:
        yield (
            (*SPEC, "auth", "url"),
            f"external authentication in front of {names} needs the authentication URL",
        )
