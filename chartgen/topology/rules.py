"""Stage 2b: semantic rules the schema cannot express.

Each rule is a small plugin: an id, a severity and a docstring (shown to users), and a check that
yields (key path, message) for one resolved spec (the topology with one overlay applied). Rules run
only on specs that already passed the schema, so they may rely on its shapes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from chartgen.topology.argocd import argocd_source
from chartgen.topology.autoscaling import (
    autoscaling_bounds,
    autoscaling_data_memory,
    autoscaling_data_min,
    autoscaling_data_pods,
    autoscaling_endpoint_min,
    autoscaling_sentinel,
    autoscaling_standalone,
)
from chartgen.topology.constraints import spec_default
from chartgen.topology.ingress import ingress_auth
from chartgen.topology.load import KeyPath
from chartgen.topology.monitoring import scrape_timeouts
from chartgen.topology.quorum import majority
from chartgen.topology.resource_rules import (
    data_groups,
    ephemeral_data,
    eviction_policy,
    grace_period_budget,
    maxmemory_headroom,
    maxmemory_limit,
    memory_request,
    probe_timeouts,
    qos_class,
    requests_within_limits,
)
from chartgen.topology.schedule import cleanup_schedule

Finding = tuple[KeyPath, str]
Check = Callable[[dict[str, Any]], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    check: Check

    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip()


def sentinel_count(spec: dict[str, Any]) -> Iterator[Finding]:
    """HA needs at least 3 Sentinels so that a majority survives the loss of one."""
    if spec["mode"] == "ha" and spec["sentinel"]["replicas"] < 3:
        yield (
            ("sentinel", "replicas"),
            (f"{spec['sentinel']['replicas']} Sentinels cannot survive losing one; use 3 or more"),
        )


def sentinel_count_odd(spec: dict[str, Any]) -> Iterator[Finding]:
    """An even Sentinel count tolerates no more failures than the odd count below it."""
    count = spec["sentinel"]["replicas"]
    if spec["mode"] == "ha" and count >= 3 and count % 2 == 0:
        yield (
            ("sentinel", "replicas"),
            (f"{count} Sentinels tolerate as many failures as {count - 1}; use an odd count"),
        )


def sentinel_quorum(spec: dict[str, Any]) -> Iterator[Finding]:
    """A given quorum must be reachable: no larger than the Sentinel count."""
    sentinel = spec["sentinel"]
    quorum = sentinel.get("quorum")
    if quorum is not None and quorum > sentinel["replicas"]:
        yield (
            ("sentinel", "quorum"),
            (
                f"quorum {quorum} exceeds the {sentinel['replicas']} Sentinels: no failover could "
                f"ever be agreed; omit it to derive {majority(sentinel['replicas'])}"
            ),
        )


def sentinel_quorum_minority(spec: dict[str, Any]) -> Iterator[Finding]:
    """A quorum below a majority lets a partitioned minority of Sentinels flag a healthy master."""
    sentinel = spec["sentinel"]
    quorum = sentinel.get("quorum")
    if quorum is not None and quorum < majority(sentinel["replicas"]):
        yield (
            ("sentinel", "quorum"),
            (
                f"quorum {quorum} is less than a majority of {sentinel['replicas']} Sentinels "
                f"({majority(sentinel['replicas'])})"
            ),
        )


def failure_domains(spec: dict[str, Any]) -> Iterator[Finding]:
    """Losing one node, or one declared zone, must leave a majority of the Sentinels, or no
    failover can be authorised: Sentinels need podAntiAffinity hard, and the declared zones
    must be enough that the fullest one holds fewer Sentinels than the majority leaves over."""
    if spec["mode"] != "ha":
        return
    sentinel = spec["sentinel"]
    count = sentinel["replicas"]
    needed = majority(count)
    anti = sentinel.get("podAntiAffinity", spec_default(("sentinel", "podAntiAffinity")))
    if anti != "hard":
        yield (
            ("sentinel", "podAntiAffinity"),
            (
                f"{anti}: one node may hold several Sentinels, and losing it can leave fewer "
                f"than the {needed} of {count} a failover needs; use hard"
            ),
        )
    zones = spec.get("placement", {}).get("zones", spec_default(("placement", "zones")))
    if zones:
        fullest = math.ceil(count / zones)
        if count - fullest < needed:
            yield (
                ("placement", "zones"),
                (
                    f"{count} Sentinels over {zones} zone(s) put {fullest} in one zone: losing "
                    f"it leaves {count - fullest}, below the {needed} a failover needs"
                ),
            )


def data_pods(spec: dict[str, Any]) -> Iterator[Finding]:
    """Standalone runs exactly one data pod; HA needs a master and at least one replica (each
    Redis group: redis, and cache when databases.cache.group is separate)."""
    for key, group in data_groups(spec):
        replicas = group["replicas"]
        if spec["mode"] == "standalone" and replicas != 1:
            yield (key, "replicas"), f"standalone mode runs one Redis pod, not {replicas}"
        if spec["mode"] == "ha" and replicas < 2:
            yield (key, "replicas"), "ha mode needs a master and at least one replica (>= 2)"


def _replica_write_guard(spec: dict[str, Any]) -> tuple[int, int]:
    """(minReplicasToWrite, replica count) in ha mode; (0, 0) where the guard does not apply."""
    if spec["mode"] != "ha":
        return 0, 0
    return spec["redis"]["config"].get("minReplicasToWrite", 0), spec["redis"]["replicas"] - 1


def min_replicas_to_write(spec: dict[str, Any]) -> Iterator[Finding]:
    """In ha mode the master takes writes only with minReplicasToWrite replicas connected:
    asking for more replicas than exist refuses every write."""
    wanted, replicas = _replica_write_guard(spec)
    if wanted > replicas >= 1:
        yield (
            ("redis", "config", "minReplicasToWrite"),
            f"{wanted} replicas wanted but only {replicas} exist: every write is refused",
        )


def min_replicas_all(spec: dict[str, Any]) -> Iterator[Finding]:
    """Requiring every replica for writes stops writes whenever one restarts."""
    wanted, replicas = _replica_write_guard(spec)
    if 0 < wanted == replicas:
        yield (
            ("redis", "config", "minReplicasToWrite"),
            f"all {replicas} replicas must be up to write: a rolling update or one lost replica "
            f"stops writes; use at most {replicas - 1} or add a data pod",
        )


def distinct_databases(spec: dict[str, Any]) -> Iterator[Finding]:
    """Sessions and cache must live in different Redis DB indexes."""
    dbs = spec["databases"]
    if dbs["sessions"]["index"] == dbs["cache"]["index"]:
        yield (
            ("databases", "cache", "index"),
            (f"DB index {dbs['cache']['index']} is already the sessions database"),
        )


def distinct_ports(spec: dict[str, Any]) -> Iterator[Finding]:
    """Redis, Sentinel and metrics share a pod network namespace: their ports must differ."""
    seen: dict[int, str] = {}
    for name, port in spec["ports"].items():
        if port in seen:
            yield ("ports", name), f"port {port} is already used by ports.{seen[port]}"
        seen.setdefault(port, name)


def distinct_master_sets(spec: dict[str, Any]) -> Iterator[Finding]:
    """With the cache on its own group the Sentinels monitor two master sets, by name: the
    names must differ, or both groups would be one set to Sentinel."""
    groups = dict(data_groups(spec))
    if "cache" in groups and groups["cache"]["masterSet"] == spec["sentinel"]["masterSet"]:
        yield (
            ("cache", "masterSet"),
            f"{groups['cache']['masterSet']} is already sentinel.masterSet (the sessions' set)",
        )


def pinned_image(spec: dict[str, Any]) -> Iterator[Finding]:
    """Images are pinned: 'latest' makes the same chart deploy different Redis versions."""
    if spec["image"]["tag"] in {"latest", "alpine", "stable"}:
        yield ("image", "tag"), f"'{spec['image']['tag']}' is a moving tag; pin a version"


def role_databases(spec: dict[str, Any]) -> Iterator[Finding]:
    """Roles may only name databases the spec declares."""
    known = set(spec["databases"])
    for role, body in spec["roles"].items():
        for index, name in enumerate(body["databases"]):
            if name not in known:
                yield (
                    ("roles", role, "databases", index),
                    (f"unknown database '{name}' (declared: {', '.join(sorted(known))})"),
                )


def token_lifetimes(spec: dict[str, Any]) -> Iterator[Finding]:
    """Cleanup must run more often than sessions live, and refresh tokens outlive sessions."""
    sessions = spec["databases"]["sessions"]
    if sessions["refreshTokenTtlSeconds"] < sessions["sessionTtlSeconds"]:
        yield (
            ("databases", "sessions", "refreshTokenTtlSeconds"),
            ("refresh tokens expire before the sessions they renew"),
        )
    if sessions["cleanupIntervalSeconds"] > sessions["sessionTtlSeconds"]:
        yield (
            ("databases", "sessions", "cleanupIntervalSeconds"),
            ("cleanup runs less often than a session lives; expired index entries pile up"),
        )
    cache = spec["databases"]["cache"]
    if cache["cleanupBatchSize"] > cache["maxEntriesPerService"]:
        yield (
            ("databases", "cache", "cleanupBatchSize"),
            ("a batch larger than the per-service limit; lower it"),
        )


def role_keys_and_databases(spec: dict[str, Any]) -> Iterator[Finding]:
    """Key patterns and databases go together: patterns without a database cannot be reached
    (no SELECT) except in DB 0 by accident; a database without patterns grants nothing in it."""
    for role, body in spec["roles"].items():
        if body["keyPatterns"] and not body["databases"]:
            yield ("roles", role, "keyPatterns"), "key patterns but no database to use them in"
        if body["databases"] and not body["keyPatterns"]:
            yield ("roles", role, "databases"), "databases but no key patterns: no key is reachable"


def role_name_internal(spec: dict[str, Any]) -> Iterator[Finding]:
    """The chart's own ACL identities (default, replication, sentinel, probe) are not role names."""
    from chartgen.security.acl import INTERNAL_NAMES

    for role in spec["roles"]:
        if role in INTERNAL_NAMES:
            yield (
                ("roles", role),
                f"'{role}' is an identity the chart defines itself; rename the role",
            )


def role_commands_forbidden(spec: dict[str, Any]) -> Iterator[Finding]:
    """A role's commands, evaluated as Redis 7.0 would, must not grant what the spec structure
    reserves (flushing, KEYS, ACL, CONFIG SET, DEBUG, SHUTDOWN, MODULE, replication topology,
    moving keys across databases)."""
    from chartgen.security.acl_eval import AclSyntaxError, allowed
    from chartgen.security.policy import FORBIDDEN_FOR_ROLES, spec_role_rules

    for role, body in spec["roles"].items():
        if any(c.startswith(PASSWORD_PREFIXES) for c in body.get("commands", ())):
            continue  # reported by acl-password-literal
        try:
            rules = spec_role_rules(spec, role)
            granted = [
                f"{cmd}|{sub}" if sub else cmd
                for cmd, sub in FORBIDDEN_FOR_ROLES
                if allowed(rules, cmd, sub)
            ]
        except AclSyntaxError as exc:
            yield ("roles", role, "commands"), str(exc)
            continue
        if granted:
            yield (
                ("roles", role, "commands"),
                f"grants {', '.join(granted)}, which no spec role may run",
            )


PASSWORD_PREFIXES = (">", "<", "#", "!")
SECRET_KEY_NAMES = frozenset({"password", "passwd", "pass", "secret", "token", "requirepass"})


def _secret_findings(data: Any, path: tuple[str | int, ...]) -> Iterator[Finding]:
    import re

    if isinstance(data, dict):
        for key, value in data.items():
            if str(key).lower() in SECRET_KEY_NAMES:
                yield (*path, key), "a password in the spec: give it through a Secret"
            else:
                yield from _secret_findings(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _secret_findings(value, (*path, index))
    elif isinstance(data, str):
        in_commands = "commands" in path
        if (in_commands and data.startswith(PASSWORD_PREFIXES)) or re.fullmatch(
            r"#?[0-9a-fA-F]{64}", data
        ):
            yield path, "a password or password hash in the spec: give it through a Secret"


def acl_password_literal(spec: dict[str, Any]) -> Iterator[Finding]:
    """No password, password hash or secret-named key anywhere in the spec (the value is never
    echoed)."""
    yield from _secret_findings(spec, ())


RULES: tuple[Rule, ...] = (
    Rule("sentinel-count", "error", sentinel_count),
    Rule("sentinel-count-odd", "warning", sentinel_count_odd),
    Rule("sentinel-quorum", "error", sentinel_quorum),
    Rule("sentinel-quorum-minority", "warning", sentinel_quorum_minority),
    Rule("failure-domains", "warning", failure_domains),
    Rule("data-pods", "error", data_pods),
    Rule("min-replicas-to-write", "error", min_replicas_to_write),
    Rule("min-replicas-all", "warning", min_replicas_all),
    Rule("distinct-databases", "error", distinct_databases),
    Rule("distinct-ports", "error", distinct_ports),
    Rule("maxmemory-limit", "error", maxmemory_limit),
    Rule("maxmemory-headroom", "warning", maxmemory_headroom),
    Rule("eviction-policy", "warning", eviction_policy),
    Rule("requests-within-limits", "error", requests_within_limits),
    Rule("memory-request", "error", memory_request),
    Rule("qos-class", "error", qos_class),
    Rule("ephemeral-data", "error", ephemeral_data),
    Rule("grace-period", "error", grace_period_budget),
    Rule("probe-timeouts", "error", probe_timeouts),
    Rule("distinct-master-sets", "error", distinct_master_sets),
    Rule("pinned-image", "error", pinned_image),
    Rule("role-databases", "error", role_databases),
    Rule("token-lifetimes", "warning", token_lifetimes),
    Rule("cleanup-schedule", "error", cleanup_schedule),
    Rule("role-keys-and-databases", "error", role_keys_and_databases),
    Rule("role-name-internal", "error", role_name_internal),
    Rule("role-commands-forbidden", "error", role_commands_forbidden),
    Rule("acl-password-literal", "error", acl_password_literal),
    Rule("argocd-source", "error", argocd_source),
    Rule("scrape-timeouts", "error", scrape_timeouts),
    Rule("autoscaling-standalone", "error", autoscaling_standalone),
    Rule("autoscaling-sentinel", "error", autoscaling_sentinel),
    Rule("autoscaling-data-pods", "error", autoscaling_data_pods),
    Rule("autoscaling-data-min", "error", autoscaling_data_min),
    Rule("autoscaling-data-memory", "error", autoscaling_data_memory),
    Rule("autoscaling-bounds", "error", autoscaling_bounds),
    Rule("autoscaling-endpoint-min", "warning", autoscaling_endpoint_min),
    Rule("ingress-auth", "error", ingress_auth),
)
