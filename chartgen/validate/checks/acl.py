from __future__ import annotations

from collections.abc import Iterator

from chartgen.engines.helm import RenderedObject
from chartgen.errors import Problem, SpecError
from chartgen.security.acl import INTERNAL_NAMES, key_glob, role_commands
from chartgen.security.acl_eval import AclSyntaxError, allowed
from chartgen.security.policy import FORBIDDEN_FOR_ROLES
from chartgen.topology.model import Role, Topology, build_model
from chartgen.validate.context import ValidateContext

ID = "acl"
SEVERITY = "error"

COMPONENT = "app.kubernetes.io/component"
# Chart identities each side must have, by mode.
REQUIRED = {
    ("server", "ha"): {"replication", "sentinel", "probe", "handover", "reloader", "default"},
    ("server", "standalone"): {"probe", "reloader", "default"},
    ("sentinel", "ha"): {"sentinel", "probe", "handover", "reloader", "default"},
}
DATABASES = range(16)


def _users(obj: RenderedObject) -> dict[str, tuple[str, ...]]:
    """ACL users of a rendered users.acl: `<Secret key> user <name> <rules...>` per line."""
    users = {}
    for line in str(obj.body["data"]["users.acl"]).splitlines():
        words = line.split()
        if len(words) >= 3 and words[1] == "user":
            users[words[2]] = tuple(words[3:])
    return users


def _role_findings(role: Role, rules: tuple[str, ...], model: Topology) -> Iterator[str]:
    """What the role's rules do that its declaration does not say, evaluated."""
    indexes = {"sessions": model.sessions.index, "cache": model.cache.index}
    own_dbs = [indexes[d] for d in role.databases]
    own_key = key_glob(role.key_patterns[0]).replace("*", "x") if role.key_patterns else None
    db: int | None = own_dbs[0] if own_dbs else None
    for rule in role_commands(role):
        if not rule.startswith("+") or rule.startswith("+@"):
            continue
        command, _, subcommand = rule[1:].partition("|")
        if not allowed(rules, command, subcommand or None, key=own_key, db=db):
            yield f"cannot run {rule[1:]} on its own keys, which its declaration grants"
    for index in DATABASES:
        if index not in own_dbs and allowed(rules, "select", str(index)):
            yield f"can SELECT database {index}, outside its databases {own_dbs}"
    if own_key is not None and allowed(rules, "get", key="chartgen-foreign:x", db=db):
        yield "can read keys outside its key patterns"
    for command, sub in FORBIDDEN_FOR_ROLES:
        if allowed(rules, command, sub, db=db):
            yield f"can run {command}{'|' + sub if sub else ''}, which no spec role may"


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """The ACL users each environment renders give every spec role what its declaration says,
    evaluated by Redis 7.0 ACL semantics (the command table of the real server): its commands on
    its key patterns in its databases, no other database, no foreign key, none of the commands
    reserved from roles; and each side has the chart's own identities, the default user as the
    spec says. With the cache on its own group (cache.group: separate) neither group has the
    roles of the other's database only (app on the cache group, cache on the sessions')."""
    spec = ctx.validated
    if isinstance(spec, SpecError):
        return  # the spec check reports it
    model = build_model(spec.base)
    for env, result in ctx.renders.items():
        if isinstance(result, str):
            continue
        mode = str(ctx.values(env).get("mode", model.mode))
        separate = (ctx.values(env).get("cache") or {}).get("group") == "separate"
        for obj in result:
            if obj.kind != "ConfigMap" or "users.acl" not in (obj.body.get("data") or {}):
                continue
            labels = obj.body["metadata"].get("labels", {})
            side = "sentinel" if labels.get(COMPONENT) == "sentinel" else "server"
            yield from _check_side(ctx, env, obj, side, mode, model, separate)


def _check_side(
    ctx: ValidateContext,
    env: str,
    obj: RenderedObject,
    side: str,
    mode: str,
    model: Topology,
    separate: bool = False,
) -> Iterator[Problem]:
    users = _users(obj)

    def problem(name: str, message: str) -> Problem:
        return ctx.object_problem(
            env, obj, "data.users.acl", f"user {name}: {message}", needle=f"user {name} "
        )

    for name in sorted(REQUIRED.get((side, mode), set()) - set(users)):
        yield problem(name, "missing: a chart identity of this side")
    default = users.get("default", ())
    if default and (default[0] == "on") != model.auth.default_user:
        state = "on" if model.auth.default_user else "off"
        yield problem("default", f"is {default[0]}, but the spec's auth.defaultUser says {state}")
    if side != "server":
        return
    # With the cache on its own group each group holds one database: the roles of the other
    # one only must not exist there.
    component = obj.body["metadata"].get("labels", {}).get(COMPONENT)
    absent = {"cache": "sessions", "redis": "cache" if separate else ""}.get(str(component), "")
    for role in model.roles:
        rules = users.get(role.name)
        if absent and set(role.databases) == {absent}:
            if rules is not None:
                yield problem(role.name, f"on the {component} group, which holds no {absent}")
            continue
        if rules is None:
            yield problem(role.name, "missing: the spec declares this role")
            continue
        try:
            for message in _role_findings(role, rules, model):
                yield problem(role.name, message)
        except AclSyntaxError as error:
            yield problem(role.name, f"not a valid ACL rule list: {error}")
    declared = INTERNAL_NAMES | {r.name for r in model.roles}
    for name in users:
        if name not in declared:
            yield problem(name, "not declared: neither a spec role nor a chart identity")
