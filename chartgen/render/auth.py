"""What the chart's templates need to know about the ACL identities: the ACL templates of both
sides (rules without passwords) and the Secret keys each pod mounts. The mode is a Helm value,
so both shapes are derived and each line or key says in which mode it exists."""

from __future__ import annotations

from dataclasses import dataclass, replace

from chartgen.security.acl import (
    SENTINEL_PRESENTS,
    AclUser,
    acl_template,
    data_users,
    secret_key,
    sentinel_users,
)
from chartgen.topology.model import Topology

BOTH = ""  # rendered in every mode; else "ha" or "standalone"


@dataclass(frozen=True)
class AclLine:
    text: str
    only: str  # BOTH, "ha" or "standalone"
    # on the cache's own group too; False for roles of the sessions' DB only (there they
    # would only find an empty DB 0, or be misused to write sessions where they get evicted)
    cache_group: bool = True
    # on the sessions' group with the cache on its own; False for roles of the cache DB only
    # (cache writes there would fill the noeviction group the sessions need)
    sessions_group: bool = True


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


def _keys(users: tuple[AclUser, ...]) -> list[str]:
    return list(dict.fromkeys(secret_key(u) for u in users if u.enabled))


def _lines(
    ha: tuple[AclUser, ...],
    standalone: tuple[AclUser, ...],
    sessions_only: frozenset[str],
    cache_only: frozenset[str],
) -> tuple[AclLine, ...]:
    """One line per user and mode; a line the same in both modes is rendered once."""
    alone = dict(zip((u.name for u in standalone), acl_template(standalone), strict=True))
    lines = []
    for user, text in zip(ha, acl_template(ha), strict=True):
        other = alone.get(user.name)
        groups = (user.name not in sessions_only, user.name not in cache_only)
        if other == text:
            lines.append(AclLine(text, BOTH, *groups))
            continue
        lines.append(AclLine(text, "ha", *groups))
        if other is not None:
            lines.append(AclLine(other, "standalone", *groups))
    return tuple(lines)


def auth_context(model: Topology) -> AuthContext:
    """ACL templates and Secret keys for the chart, in both modes."""
    default_on = model.auth.default_user
    ha = data_users(replace(model, mode="ha"), default_on=default_on)
    standalone = data_users(replace(model, mode="standalone"), default_on=default_on)
    sentinel = sentinel_users(replace(model, mode="ha"), default_on=default_on)
    standalone_keys = set(_keys(standalone))
    server_keys = tuple(SecretKey(k, k not in standalone_keys) for k in _keys(ha))
    sentinel_keys = tuple(dict.fromkeys([*_keys(sentinel), *SENTINEL_PRESENTS]))
    everything = {key.name: key for key in server_keys}
    for key in sentinel_keys:
        everything.setdefault(key, SecretKey(key, True))

    def only(database: str) -> frozenset[str]:
        return frozenset(r.name for r in model.roles if set(r.databases) == {database})

    return AuthContext(
        _lines(ha, standalone, only("sessions"), only("cache")),
        tuple(acl_template(sentinel)),
        server_keys,
        sentinel_keys,
        tuple(everything.values()),
    )
