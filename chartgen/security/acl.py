"""Every ACL user of the chart, derived from the typed model, and the ACL file lines for them.

Data pods (redis-server) get one user per spec role plus the chart's own identities; Sentinel
pods get their own set. Each user is a name and a rule list without passwords; `acl_lines` adds
SHA-256 password hashes (`#<hex>`, several per user while a password rotates), so no clear text
lands in the file. Redis ACL has no per-DB scope: a role is confined by its key patterns and by
`-select +select|<index>` for each of its databases (a connection still starts in DB 0).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chartgen.topology.model import Role, Topology

# For roles with databases that give no `commands`: key-scoped data access, nothing else.
DEFAULT_DATA_COMMANDS: tuple[str, ...] = (
    "+ping", "+client|setname",
    "+multi", "+exec", "+discard", "+watch", "+unwatch",
    "+get", "+set", "+getex", "+getdel", "+mget", "+exists", "+del", "+unlink",
    "+expire", "+pexpire", "+ttl", "+pttl", "+persist",
    "+hget", "+hmget", "+hgetall", "+hset", "+hdel", "+hexists", "+hlen",
    "+zadd", "+zrem", "+zrange", "+zrangebyscore", "+zremrangebyscore", "+zremrangebyrank",
    "+zcard", "+zscore",
)  # fmt: skip

SENTINEL_CHANNEL = "__sentinel__:hello"

# Chart identities on the data pods, by name: (rules after `-@all`, channel patterns).
DATA_INTERNAL: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # masteruser/masterauth: what a replica sends its master (Redis replication docs).
    "replication": (("+psync", "+replconf", "+ping"), ()),
    # sentinel auth-user: monitoring (PING, INFO, ROLE, hello over Pub/Sub) and failover
    # (MULTI, SLAVEOF, CONFIG REWRITE, CLIENT KILL, EXEC; SCRIPT KILL on a busy master).
    "sentinel": (
        (
            "+ping",
            "+info",
            "+role",
            "+client|setname",
            "+client|kill",
            "+subscribe",
            "+publish",
            "+multi",
            "+exec",
            "+slaveof",
            "+config|rewrite",
            "+script|kill",
        ),
        (SENTINEL_CHANNEL,),
    ),
    # The probes, start-redis.sh and the Sentinel start script: is it alive, which role.
    "probe": (("+ping", "+info", "+role"), ()),
    # pre-stop.sh only (ha): a stopping master pauses writes and follows the promoted replica.
    "handover": (
        ("+ping", "+info", "+role", "+client|pause", "+client|unpause", "+replicaof"),
        (),
    ),
    # Applies the rebuilt ACL file (ACL SETUSER per user) after the kubelet updated the mounted
    # Secret (password rotation), gives a replica the rotated replication password (CONFIG SET
    # masterauth) and the server a renewed certificate (CONFIG SET tls-*-file). Internal: its
    # password is only in the pods.
    "reloader": (("+ping", "+acl|setuser", "+config|set"), ()),
    # The operator identity of the guide: `redis-cli -a $REDIS_PASSWORD info replication` and
    # `BGSAVE`; reads state, takes snapshots, changes nothing. (No SLOWLOG: it shows the
    # arguments of other users' commands.)
    "default": (("+ping", "+info", "+role", "+bgsave", "+lastsave"), ()),
}

# Data-side identities that exist only in ha mode.
HA_ONLY: frozenset[str] = frozenset({"replication", "sentinel", "handover"})

# Chart identities on the Sentinel pods.
SENTINEL_INTERNAL: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # sentinel sentinel-user: what one Sentinel sends another (hello, votes, pings).
    "sentinel": (
        ("+ping", "+client|setname", "+publish", "+sentinel|is-master-down-by-addr"),
        (SENTINEL_CHANNEL,),
    ),
    # Chart scripts and probes: where is the master.
    "probe": (("+ping", "+sentinel|get-master-addr-by-name"), ()),
    # pre-stop.sh: hand the master over before its pod stops.
    "handover": (("+ping", "+sentinel|get-master-addr-by-name", "+sentinel|failover"), ()),
    # ACL SETUSER (the rebuilt ACL file, user by user), and the rotated passwords Sentinel uses
    # towards the data pods (SENTINEL SET <master> auth-pass) and its peers (SENTINEL CONFIG SET
    # sentinel-pass).
    "reloader": (("+ping", "+acl|setuser", "+sentinel|set", "+sentinel|config"), ()),
    # The guide's `redis-cli -p 26379 -a $SENTINEL_PASSWORD sentinel masters`: state, read-only.
    "default": (
        (
            "+ping",
            "+info",
            "+role",
            "+sentinel|masters",
            "+sentinel|master",
            "+sentinel|get-master-addr-by-name",
            "+sentinel|replicas",
            "+sentinel|slaves",
            "+sentinel|sentinels",
            "+sentinel|ckquorum",
        ),
        (),
    ),
}

# What redis_exporter 1.45 sends a Sentinel (measured through a logging proxy); CONFIG, LATENCY
# and SLOWLOG do not exist in Sentinel mode (unknown command, not an ACL denial).
SENTINEL_MONITOR = (
    "+ping", "+info", "+client|setname", "+sentinel|masters", "+sentinel|ckquorum",
    "+sentinel|sentinels", "+sentinel|slaves", "+sentinel|replicas",
)  # fmt: skip
MONITOR_ROLE = "monitor"

INTERNAL_NAMES = frozenset(DATA_INTERNAL) | frozenset(SENTINEL_INTERNAL)


@dataclass(frozen=True)
class AclUser:
    """One ACL user: its name, where it exists ('server' or 'sentinel'), its rules."""

    name: str
    side: str
    rules: tuple[str, ...]
    internal: bool

    @property
    def enabled(self) -> bool:
        return self.rules[:1] == ("on",)


def role_commands(role: Role) -> tuple[str, ...]:
    if role.commands is not None:
        return role.commands
    return DEFAULT_DATA_COMMANDS


def database_rules(role: Role, indexes: Mapping[str, int]) -> tuple[str, ...]:
    """DB confinement: no SELECT but of the role's own databases (first-arg rules)."""
    return ("-select", *(f"+select|{indexes[db]}" for db in role.databases))


KEY_PERMISSIONS = ("%R~", "%W~", "%RW~")


def key_rule(pattern: str) -> str:
    """A spec key pattern as an ACL rule: `~glob` (read and write), or as given when it names
    its permissions (`%R~glob`: read only)."""
    return pattern if pattern.upper().startswith(KEY_PERMISSIONS) else f"~{pattern}"


def key_glob(pattern: str) -> str:
    """The glob of a spec key pattern, without its permissions."""
    return pattern.split("~", 1)[1] if key_rule(pattern) == pattern else pattern


def role_rules(role: Role, indexes: Mapping[str, int]) -> tuple[str, ...]:
    """The rule list of a spec role, without password."""
    return (
        "on",
        "resetkeys",
        *(key_rule(pattern) for pattern in role.key_patterns),
        "resetchannels",
        "-@all",
        *role_commands(role),
        *database_rules(role, indexes),
    )


def _internal(
    name: str, side: str, body: tuple[tuple[str, ...], tuple[str, ...]], on: bool = True
) -> AclUser:
    commands, channels = body
    rules = (
        "on" if on else "off",
        "resetkeys",
        "resetchannels",
        *(f"&{channel}" for channel in channels),
        "-@all",
        *commands,
        *(("-select",) if side == "server" else ()),
    )
    return AclUser(name, side, rules, internal=True)


def database_indexes(model: Topology) -> dict[str, int]:
    return {"sessions": model.sessions.index, "cache": model.cache.index}


def data_users(model: Topology, default_on: bool = True) -> tuple[AclUser, ...]:
    """The users of every redis-server: spec roles, then the chart's identities."""
    indexes = database_indexes(model)
    roles = tuple(
        AclUser(role.name, "server", role_rules(role, indexes), internal=False)
        for role in model.roles
    )
    internal = tuple(
        _internal(name, "server", body, on=default_on or name != "default")
        for name, body in DATA_INTERNAL.items()
        if model.ha or name not in HA_ONLY
    )
    return roles + internal


def sentinel_users(model: Topology, default_on: bool = True) -> tuple[AclUser, ...]:
    """The users of every Sentinel (ha mode; none in standalone)."""
    if not model.ha:
        return ()
    users = [
        _internal(name, "sentinel", body, on=default_on or name != "default")
        for name, body in SENTINEL_INTERNAL.items()
    ]
    if any(role.name == MONITOR_ROLE for role in model.roles):
        users.insert(0, _internal(MONITOR_ROLE, "sentinel", (SENTINEL_MONITOR, ())))
    return tuple(users)


def password_hash(password: str) -> str:
    """`#<sha256 hex>`: the ACL form of a password that keeps the clear text out of the file."""
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def acl_lines(users: Sequence[AclUser], passwords: Mapping[str, Sequence[str]]) -> list[str]:
    """ACL file lines, one per user, each with the hashes of its passwords (all accepted, which is
    how a rotation overlaps). An enabled user without a password is an error, never `nopass`."""
    lines = []
    for user in users:
        given = passwords.get(user.name, ())
        if user.enabled and not given:
            raise ValueError(f"ACL user {user.name!r} ({user.side}) has no password")
        secrets = [password_hash(p) for p in given] if user.enabled else []
        state, rest = user.rules[0], user.rules[1:]
        lines.append(" ".join(("user", user.name, state, "resetpass", *secrets, *rest)))
    return lines


# The Secret key that holds each chart identity's passwords (the deployment guide's .env names
# for the default users and the roles: REDIS_PASSWORD, SENTINEL_PASSWORD, APP_PASSWORD, ...).
INTERNAL_KEYS: Mapping[tuple[str, str], str] = {
    ("server", "default"): "REDIS_PASSWORD",
    ("sentinel", "default"): "SENTINEL_PASSWORD",
    ("server", "replication"): "REPLICATION_PASSWORD",
    ("server", "sentinel"): "SENTINEL_AUTH_PASSWORD",
    ("sentinel", "sentinel"): "SENTINEL_PEER_PASSWORD",
    ("server", "probe"): "PROBE_PASSWORD",
    ("sentinel", "probe"): "PROBE_PASSWORD",
    ("server", "handover"): "HANDOVER_PASSWORD",
    ("sentinel", "handover"): "HANDOVER_PASSWORD",
    ("server", "reloader"): "RELOADER_PASSWORD",
    ("sentinel", "reloader"): "RELOADER_PASSWORD",
}


def secret_key(user: AclUser) -> str:
    """The Secret key of a user's passwords; a role's is <NAME>_PASSWORD on both sides."""
    if user.internal and (user.side, user.name) in INTERNAL_KEYS:
        return INTERNAL_KEYS[(user.side, user.name)]
    return f"{user.name.upper().replace('-', '_')}_PASSWORD"


# Passwords a Sentinel presents to the data pods (beside those of its own users).
SENTINEL_PRESENTS: tuple[str, ...] = ("SENTINEL_AUTH_PASSWORD",)


def secret_keys(model: Topology) -> tuple[str, ...]:
    """Every key the chart's Secret holds, in a stable order."""
    users = (*data_users(model), *sentinel_users(model))
    return tuple(dict.fromkeys(secret_key(u) for u in users if u.enabled))


def acl_template(users: Sequence[AclUser]) -> list[str]:
    """The users of one side as the chart ships them: `<SECRET_KEY> user <name> on resetpass
    <rules>` (`-` for a user that is off). The container replaces `resetpass` by `resetpass`
    and the `#<sha256>` of each password in the mounted Secret file of that key."""
    lines = []
    for user in users:
        key = secret_key(user) if user.enabled else "-"
        state, rest = user.rules[0], user.rules[1:]
        lines.append(" ".join((key, "user", user.name, state, "resetpass", *rest)))
    return lines
