"""What the spec structure reserves: commands no spec role may be granted, whatever its list."""

from __future__ import annotations

from typing import Any

from chartgen.security.acl import role_rules
from chartgen.topology.model import Role

# (command, subcommand or None). Checked by evaluating each role's rules, so `+@all`,
# `+@dangerous`, `+@admin` or `+@keyspace` are caught through what they grant.
FORBIDDEN_FOR_ROLES: tuple[tuple[str, str | None], ...] = (
    ("flushall", None),
    ("flushdb", None),
    ("keys", None),
    ("acl", "setuser"),
    ("acl", "deluser"),
    ("acl", "load"),
    ("acl", "list"),
    ("acl", "getuser"),
    ("config", "set"),
    ("config", "get"),  # returns masterauth in clear text: the replication password
    ("config", "rewrite"),
    ("config", "resetstat"),
    ("debug", None),
    ("shutdown", None),
    ("module", "load"),
    ("module", "list"),
    ("replicaof", None),
    ("slaveof", None),
    ("failover", None),
    ("swapdb", None),
    ("move", None),
    ("copy", None),
    ("migrate", None),
    ("eval", None),
    ("function", "load"),
    ("monitor", None),
    ("client", "kill"),
    ("cluster", "reset"),
)


def spec_role_rules(spec: dict[str, Any], name: str) -> tuple[str, ...]:
    """The ACL rules of spec role `name`, straight from a (schema-valid) spec dict."""
    body = spec["roles"][name]
    databases = spec["databases"]
    role = Role(
        name,
        body["description"],
        tuple(body["databases"]),
        tuple(body["keyPatterns"]),
        tuple(body["commands"]) if "commands" in body else None,
    )
    indexes = {db: databases[db]["index"] for db in role.databases if db in databases}
    role = Role(role.name, role.description, tuple(indexes), role.key_patterns, role.commands)
    return role_rules(role, indexes)
