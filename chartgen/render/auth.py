"""What the chart's templates need to know about the ACL identities: the ACL templates of both
sides (rules without passwords) and the Secret keys each pod mounts."""

from __future__ import annotations

from dataclasses import dataclass, replace

from chartgen.security.acl import (
    AclUser,
    acl_template,
    data_users,
    secret_key,
    sentinel_users,
)
from chartgen.topology.model import Topology

# Identities that exist only where there is replication and Sentinel (mode ha).
HA_ONLY = frozenset({"replication", "sentinel"})


@dataclass(frozen=True)
class AclLine:
    text: str
    ha_only: bool  # rendered inside `if eq .Values.mode "ha"`


@dataclass(frozen=True)
class SecretKey:
    name: str
    ha_only: bool  # needed only in mode ha


@dataclass(frozen=True)
class AuthContext:
    server: tuple[AclLine, ...]
    sentinel: tuple[str, ...]
    server_keys: tuple[SecretKey, ...]  # mounted by the data pods
    sentinel_keys: tuple[str, ...]  # mounted by the Sentinels
    all_keys: tuple[SecretKey, ...]  # every key of the Secret


def _ha_only(user: AclUser) -> bool:
    return user.internal and user.name in HA_ONLY


def auth_context(model: Topology) -> AuthContext:
    """ACL templates and Secret keys for the chart. The mode is a Helm value, so this takes the
    HA shape of `model` and marks what only HA needs; the templates render that in HA mode only."""
    ha = model if model.ha else replace(model, mode="ha")
    server = data_users(ha, default_on=model.auth.default_user)
    sentinel = sentinel_users(ha, default_on=model.auth.default_user)
    lines = tuple(
        AclLine(text, _ha_only(user))
        for user, text in zip(server, acl_template(server), strict=True)
    )
    server_keys = tuple(
        SecretKey(key, all(_ha_only(u) for u in server if secret_key(u) == key))
        for key in dict.fromkeys(secret_key(u) for u in server if u.enabled)
    )
    sentinel_keys = tuple(dict.fromkeys(secret_key(u) for u in sentinel if u.enabled))
    everything = {key.name: key for key in server_keys}
    for key in sentinel_keys:
        everything.setdefault(key, SecretKey(key, True))
    return AuthContext(
        lines, tuple(acl_template(sentinel)), server_keys, sentinel_keys, tuple(everything.values())
    )
