"""Evaluate Redis 7.0 ACL rules: may this user run (command[, subcommand]) on these keys in DB n?

Semantics follow Redis 7.0 (acl.c), applied left to right: `on`/`off`, `+@cat`/`-@cat`,
`+cmd`/`-cmd` (a container command with all its subcommands), `+cmd|sub`/`-cmd|sub`, first-arg
rules `+cmd|arg` on commands without subcommands (only allowed while `cmd` itself is not),
`allcommands`/`nocommands`, `~pattern`/`allkeys`/`resetkeys`, `%R~`/`%W~`/`%RW~` key permissions
(judged by the command's flags: a `readonly` command needs R, any other R and W; stricter than
Redis only for key specs without ACCESS, e.g. TYPE under `%W~` alone), `&pattern`/`allchannels`/
`resetchannels`. Commands flagged `no_auth` (AUTH, HELLO) are always allowed. Categories come from
the table generated from the real redis-server / redis-sentinel (scripts/gen_acl_commands.py).
Password rules (`>`, `#`, `nopass`, ...) are accepted and ignored: they decide who, not what.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).with_name("redis_commands.json")
PASSWORD_RULES = ("nopass", "resetpass")


class AclSyntaxError(ValueError):
    """A rule Redis 7.0 would refuse."""


@cache
def command_table(side: str = "server") -> Mapping[str, Any]:
    """The command table of `side` ('server' or 'sentinel') as shipped in the package."""
    table: dict[str, Any] = json.loads(TABLE.read_text())
    return table[side]  # type: ignore[no-any-return]


def provenance() -> Mapping[str, str]:
    table: dict[str, Any] = json.loads(TABLE.read_text())
    return table["_provenance"]  # type: ignore[no-any-return]


def _names(side: str) -> dict[str, Mapping[str, Any]]:
    """Every command and subcommand as 'cmd' / 'cmd|sub' -> its entry."""
    out: dict[str, Mapping[str, Any]] = {}
    for name, entry in command_table(side).items():
        out[name] = entry
        for sub, sub_entry in entry.get("subcommands", {}).items():
            out[f"{name}|{sub}"] = sub_entry
    return out


@dataclass
class AclUser:
    """The permissions a rule list leaves a user with."""

    side: str = "server"
    enabled: bool = False
    commands: set[str] = field(default_factory=set)  # 'cmd' and 'cmd|sub'
    first_args: dict[str, set[str]] = field(default_factory=dict)
    key_patterns: list[str] = field(default_factory=list)  # read and write
    read_patterns: list[str] = field(default_factory=list)
    write_patterns: list[str] = field(default_factory=list)
    channel_patterns: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, rules: Iterable[str], side: str = "server") -> AclUser:
        user = cls(side=side)
        for rule in rules:
            user.apply(rule)
        return user

    def apply(self, rule: str) -> None:
        names = _names(self.side)
        low = rule.lower()
        if low in ("on", "off"):
            self.enabled = low == "on"
        elif low.startswith((">", "<", "#", "!")) or low in PASSWORD_RULES:
            pass
        elif low in ("allkeys", "~*"):
            self.key_patterns = ["*"]
        elif low == "resetkeys":
            self.key_patterns, self.read_patterns, self.write_patterns = [], [], []
        elif low.startswith(("%r~", "%w~", "%rw~")):
            permissions, _, pattern = rule[1:].partition("~")
            if "r" in permissions.lower() and "w" in permissions.lower():
                self.key_patterns.append(pattern)
            elif "r" in permissions.lower():
                self.read_patterns.append(pattern)
            else:
                self.write_patterns.append(pattern)
        elif low.startswith("%"):
            raise AclSyntaxError(f"{rule}: unknown key permission")
        elif low.startswith("~"):
            self.key_patterns.append(rule[1:])
        elif low in ("allchannels", "&*"):
            self.channel_patterns = ["*"]
        elif low == "resetchannels":
            self.channel_patterns = []
        elif low.startswith("&"):
            self.channel_patterns.append(rule[1:])
        elif low in ("allcommands", "+@all"):
            self.commands = set(names)
            self.first_args.clear()
        elif low in ("nocommands", "-@all"):
            self.commands.clear()
            self.first_args.clear()
        elif low.startswith(("+@", "-@")):
            self._category(low[2:], low[0] == "+", names)
        elif low.startswith(("+", "-")):
            self._command(low[1:], low[0] == "+", names)
        elif low == "reset":
            self.__init__(side=self.side)  # type: ignore[misc]
        else:
            raise AclSyntaxError(f"{rule}: unknown ACL rule")

    def _category(self, category: str, allow: bool, names: Mapping[str, Mapping[str, Any]]) -> None:
        known = {c for entry in names.values() for c in entry["categories"]}
        if category not in known:
            raise AclSyntaxError(f"@{category}: unknown command category")
        for name, entry in names.items():
            if category in entry["categories"]:
                self._set(name, allow)

    def _set(self, name: str, allow: bool) -> None:
        if allow:
            self.commands.add(name)
        else:
            self.commands.discard(name)
        self.first_args.pop(name, None)

    def _command(self, spec: str, allow: bool, names: Mapping[str, Mapping[str, Any]]) -> None:
        name, _, arg = spec.partition("|")
        table = command_table(self.side)
        if name not in table:
            raise AclSyntaxError(f"{spec}: unknown command")
        subs = table[name].get("subcommands", {})
        if not arg:
            self._set(name, allow)
            for sub in subs:
                self._set(f"{name}|{sub}", allow)
        elif subs:
            if arg not in subs:
                raise AclSyntaxError(f"{spec}: unknown subcommand")
            self._set(f"{name}|{arg}", allow)
        elif not allow:
            raise AclSyntaxError(f"-{spec}: first-arg rules can only allow")
        elif name not in self.commands:
            self.first_args.setdefault(name, set()).add(arg)

    def can_run(self, command: str, subcommand: str | None = None) -> bool:
        """The command (with its subcommand or first argument) is allowed, keys aside."""
        name = command.lower()
        table = command_table(self.side)
        entry = table.get(name)
        if entry is None:
            return False
        if "no_auth" in entry["flags"]:
            return True
        if entry.get("subcommands"):
            sub = (subcommand or "").lower()
            return f"{name}|{sub}" in self.commands
        if name in self.commands:
            return True
        return subcommand is not None and subcommand.lower() in self.first_args.get(name, set())

    def can_key(self, key: str, command: str | None = None) -> bool:
        """`key` is within the patterns the command needs: R for a readonly command, R and W
        for any other (or when the command is not given)."""
        flags = command_table(self.side).get((command or "").lower(), {}).get("flags", [])
        read = any(fnmatchcase(key, p) for p in (*self.key_patterns, *self.read_patterns))
        write = any(fnmatchcase(key, p) for p in (*self.key_patterns, *self.write_patterns))
        return read if "readonly" in flags else read and write

    def can_channel(self, channel: str) -> bool:
        return any(fnmatchcase(channel, pattern) for pattern in self.channel_patterns)

    def can_use_db(self, db: int) -> bool:
        """A connection starts in DB 0; any other needs SELECT n."""
        return db == 0 or self.can_run("select", str(db))

    def takes_keys(self, command: str, subcommand: str | None = None) -> bool:
        entry = command_table(self.side).get(command.lower(), {})
        if subcommand and "subcommands" in entry:
            entry = entry["subcommands"].get(subcommand.lower(), {})
        return bool(entry.get("keys"))


def allowed(
    rules: Iterable[str],
    command: str,
    subcommand: str | None = None,
    key: str | None = None,
    db: int | None = None,
    side: str = "server",
    channel: str | None = None,
) -> bool:
    """Whether a user with `rules` (authenticated) may run `command [subcommand] [key]` in `db`."""
    user = AclUser.parse(rules, side)
    if not user.enabled:
        return False
    if db is not None and not user.can_use_db(db):
        return False
    if not user.can_run(command, subcommand):
        return False
    if channel is not None and not user.can_channel(channel):
        return False
    return key is None or not user.takes_keys(command, subcommand) or user.can_key(key, command)
