"""ACL identities from the spec: rules that reject contradictions, the rendered ACL lines and the
Redis 7.0 ACL evaluator (proven against real Redis by tests/test_acl_matrix.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartgen.security.acl import acl_lines, data_users, password_hash, sentinel_users
from chartgen.security.acl_eval import AclSyntaxError, AclUser, allowed, provenance
from chartgen.topology.model import Topology, build_model
from chartgen.topology.resolve import resolve
from tests.test_bad_specs import Case, _apply
from tests.test_cli import run

REPO = Path(__file__).resolve().parent.parent
TOPOLOGY = "values/topology.yaml"
# the backup role's body after its description
BACKUP_ROLE = (
    '    databases: [sessions]\n    keyPatterns: ["backup:result:*"]\n'
    + "".join(
        line + "\n"
        for line in (REPO / TOPOLOGY)
        .read_text()
        .split('keyPatterns: ["backup:result:*"]\n')[1]
        .split("\n    ]\n")[0]
        .split("\n")
    )
    + "    ]\n"
)
APP_PATTERNS = '    keyPatterns: ["session:*", "refresh:*", "user:*"]\n    # Session'

CASES = [
    Case(
        "patterns-without-database",
        TOPOLOGY,
        '    databases: [sessions, cache]\n    keyPatterns: ["%R~cleanup:result:*", "%R~backup',
        '    databases: []\n    keyPatterns: ["%R~cleanup:result:*", "%R~backup',
        "roles.monitor.keyPatterns",
        "key patterns but no database",
        'keyPatterns: ["%R~cleanup:result:*", "%R~backup:result:*"]',
        4,
    ),
    Case(
        "database-without-patterns",
        TOPOLOGY,
        '    databases: [cache]\n    keyPatterns: ["cache:*"]',
        "    databases: [cache]\n    keyPatterns: []",
        "roles.cache.databases",
        "databases but no key patterns",
        "databases: [cache]\n    keyPatterns: []",
        4,
    ),
    Case(
        "internal-name-reused",
        TOPOLOGY,
        "",
        "  replication:\n    description: x\n    databases: []\n    keyPatterns: []\n"
        '    commands: ["+ping"]\n',
        "roles.replication",
        "an identity the chart defines itself",
        "replication:\n    description: x",
        2,
    ),
]
for _rule, _cmd in (
    ("all", "+@all"),
    ("dangerous", "+@dangerous"),
    ("flushall", "+flushall"),
    ("keys", "+keys"),
    ("acl", "+acl"),
    ("config-set", "+config|set"),
    ("debug", "+debug"),
    ("shutdown", "+shutdown"),
    ("module", "+module"),
    ("replicaof", "+replicaof"),
    ("write-category", "+@write"),
):
    CASES.append(
        Case(
            f"forbidden-{_rule}",
            TOPOLOGY,
            '      "+ping", "+client|setname", "+wait",\n      "+multi", "+exec", "+discard"',
            f'      "+ping", "{_cmd}",\n      "+multi", "+exec", "+discard"',
            "roles.app.commands",
            "which no spec role may run",
            "commands: [",
            4,
        )
    )
CASES += [
    Case(
        "password-in-commands",
        TOPOLOGY,
        '"+ping", "+info", "+bgsave"',
        '">hunter2", "+info", "+bgsave"',
        "roles.backup.commands[0]",
        "a password or password hash in the spec",
        '">hunter2"',
    ),
    Case(
        "hash-in-commands",
        TOPOLOGY,
        '"+ping", "+info", "+bgsave"',
        f'"{password_hash("hunter2")}", "+info", "+bgsave"',
        "roles.backup.commands[0]",
        "a password or password hash in the spec",
        f'"{password_hash("hunter2")}"',
    ),
    Case(
        "secret-named-role",
        TOPOLOGY,
        "",
        "  password:\n    description: x\n    databases: []\n    keyPatterns: []\n"
        '    commands: ["+ping"]\n',
        "roles.password",
        "a password in the spec",
        "password:\n    description: x",
        2,
    ),
    Case(
        "no-commands-without-databases",
        TOPOLOGY,
        # the backup role without databases, key patterns and commands
        BACKUP_ROLE,
        "    databases: []\n    keyPatterns: []\n",
        "roles.backup.commands",
        "required key is missing",
        "  backup:",
        2,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_role_is_reported_at_its_key(workspace: Path, case: Case) -> None:
    line, _column = _apply(workspace, case)
    result = run("build", "--out", "out", cwd=workspace)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    prefix = f"{case.file}:{line}:"
    matching = [ln for ln in result.stderr.splitlines() if f": {case.key}: " in ln]
    assert matching, f"no line for {case.key}:\n{result.stderr}"
    assert any(case.message in ln for ln in matching), result.stderr
    assert any(ln.startswith(prefix) for ln in matching), (prefix, result.stderr)
    assert "hunter2" not in result.stderr + result.stdout
    assert password_hash("hunter2")[1:] not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def model() -> Topology:
    return build_model(resolve(REPO / TOPOLOGY, root=REPO).base)


def test_added_role_with_databases_gets_the_default_list(workspace: Path) -> None:
    spec = workspace / TOPOLOGY
    spec.write_text(
        spec.read_text()
        + '  reports:\n    description: r\n    databases: [cache]\n    keyPatterns: ["rep:*"]\n'
    )
    users = {u.name: u for u in data_users(build_model(resolve(spec, root=workspace).base))}
    rules = users["reports"].rules
    assert allowed(rules, "get", key="rep:1", db=1)
    # every connection starts in DB 0 without SELECT: the key pattern, not the DB, confines it
    assert allowed(rules, "get", key="rep:1", db=0)
    assert not allowed(rules, "get", key="session:1", db=1)
    assert not allowed(rules, "select", "0")
    assert not allowed(rules, "flushdb")


def test_rendered_lines_carry_hashes_never_passwords(model: Topology) -> None:
    users = data_users(model) + sentinel_users(model)
    passwords = {u.name: [f"pw-{u.name}-old", f"pw-{u.name}-new"] for u in users}
    lines = acl_lines(users, passwords)
    text = "\n".join(lines)
    assert "pw-" not in text and ">" not in text and "nopass" not in text
    app = next(ln for ln in lines if ln.startswith("user app "))
    assert password_hash("pw-app-old") in app and password_hash("pw-app-new") in app
    assert app.endswith("-select +select|0")
    with pytest.raises(ValueError, match="no password"):
        acl_lines(users, {})
    off = acl_lines(data_users(model, default_on=False), passwords)
    assert next(ln for ln in off if ln.startswith("user default ")).startswith(
        "user default off resetpass resetkeys"
    )


def test_every_user_parses(model: Topology) -> None:
    for user in data_users(model) + sentinel_users(model):
        parsed = AclUser.parse(user.rules, user.side)
        assert parsed.enabled


def test_evaluator_semantics() -> None:
    rules = ["on", "resetkeys", "~a:*", "-@all", "+@read", "-@dangerous", "-select", "+select|2"]
    assert allowed(rules, "get", key="a:1")
    assert not allowed(rules, "get", key="b:1")
    assert not allowed(rules, "keys", key="a:*")  # @read but @dangerous
    assert not allowed(rules, "set", key="a:1")
    assert allowed(rules, "select", "2") and not allowed(rules, "select", "3")
    assert allowed(rules, "get", key="a:1", db=2) and not allowed(rules, "get", key="a:1", db=3)
    assert allowed(rules, "auth")  # no-auth commands are never denied
    assert allowed(["on", "+config"], "config", "set")
    assert not allowed(["on", "+config", "-config|set"], "config", "set")
    assert not allowed(["off", "+@all"], "ping")
    assert allowed(["on", "+@all", "-@dangerous"], "move", key="x") is False  # no keys
    assert allowed(["on", "~*", "+@all", "-@dangerous"], "move", key="x")
    with pytest.raises(AclSyntaxError):
        AclUser.parse(["+nosuchcommand"])
    with pytest.raises(AclSyntaxError):
        AclUser.parse(["-select|0"])
    assert allowed(["on", "-@all", "+sentinel|masters"], "sentinel", "masters", side="sentinel")
    assert not allowed(["on", "-@all", "+sentinel|masters"], "sentinel", "set", side="sentinel")


def test_command_table_provenance() -> None:
    record = provenance()
    assert record["redis_version"].startswith("7.0.") and record["date"]
