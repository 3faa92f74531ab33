"""The `helm test` checks of each spec role: commands it must be allowed and commands it must be
refused, chosen so that running them changes nothing even on a server whose ACL is wrong (no
writes, no KEYS, no FLUSH*)."""

from __future__ import annotations

from dataclasses import dataclass

from chartgen.security.acl import role_commands
from chartgen.topology.model import Role, Topology

# Read-only commands that prove a grant, in order of preference.
ALLOWED = (
    ("+exists", "EXISTS {key}"),
    # TYPE before GET: a missing key is "none" to TYPE, an empty reply to GET
    ("+type", "TYPE {key}"),
    ("+get", "GET {key}"),
    ("+info", "INFO server"),
    ("+lastsave", "LASTSAVE"),
    ("+scan", "SCAN 0 COUNT 1"),
    ("+ping", "PING"),
)
# Harmless commands a role without them must be refused.
FORBIDDEN = (
    ("+config", "CONFIG GET maxmemory"),
    ("+dbsize", "DBSIZE"),
    ("+acl", "ACL WHOAMI"),
)
# A key no spec pattern should cover.
OUTSIDE_KEY = "chartgen-helm-test:outside"


@dataclass(frozen=True)
class RoleCheck:
    """One line of the test script's table: `KEY USER GROUP DB EXPECT COMMAND...`."""

    key: str
    user: str
    group: str  # "sessions" or "cache": which master endpoint serves the role
    db: int
    expect: str  # "ok" or "denied"
    command: str

    @property
    def line(self) -> str:
        return f"{self.key} {self.user} {self.group} {self.db} {self.expect} {self.command}"


def _granted(commands: tuple[str, ...], rule: str) -> bool:
    return any(c == rule or c.startswith(rule + "|") for c in commands)


def role_checks(model: Topology) -> tuple[RoleCheck, ...]:
    """Per role: one allowed command, one forbidden command, and where the role has keys, a key
    outside its patterns and a database outside its own. A role of the cache DB only is checked
    through the cache's endpoint (the sessions' one while the cache shares their group)."""
    indexes = {"sessions": model.sessions.index, "cache": model.cache.index}
    checks: list[RoleCheck] = []
    for role in model.roles:
        checks.extend(_checks(role, indexes))
    return tuple(checks)


def _checks(role: Role, indexes: dict[str, int]) -> list[RoleCheck]:
    commands = role_commands(role)
    key = f"{role.name.upper().replace('-', '_')}_PASSWORD"
    group = "cache" if set(role.databases) == {"cache"} else "sessions"
    db = indexes["sessions" if "sessions" in role.databases else "cache"] if role.databases else 0
    first = role.key_patterns[0] if role.key_patterns else "none:"
    # a pattern may name its permissions first (`%R~cleanup:result:*`)
    prefix = (first.partition("~")[2] if first.startswith("%") else first).rstrip("*")

    def check(expect: str, command: str) -> RoleCheck:
        return RoleCheck(key, role.name, group, db, expect, command)

    out: list[RoleCheck] = []
    for rule, command in ALLOWED:
        if _granted(commands, rule):
            out.append(check("ok", command.format(key=f"{prefix}chartgen-helm-test")))
            break
    for rule, command in FORBIDDEN:
        if not _granted(commands, rule):
            out.append(check("denied", command))
            break
    if role.key_patterns and _granted(commands, "+exists"):
        out.append(check("denied", f"EXISTS {OUTSIDE_KEY}"))
    own = {indexes[name] for name in role.databases}
    out.append(check("denied", f"SELECT {min(set(range(16)) - own - {db})}"))
    return out
