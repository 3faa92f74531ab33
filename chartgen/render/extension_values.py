"""Escape hatches of the Redis and Sentinel pods (labels, env, volumes, extra containers, extra
redis.conf directives) and the pod security context. Each is schema-checked, and what the chart
itself sets is refused twice: by values.schema.json and by a `fail` in the templates (Helm skips
the schema with --skip-schema-validation, and some tools render without it)."""

from __future__ import annotations

from typing import Any

from chartgen.render.params import Group, Node, Param
from chartgen.render.value_parts import BOOLEAN, integer

# Pod labels the chart sets; the first three are the StatefulSet selector, which a pod label
# must never change (the StatefulSet would no longer own its pods).
CHART_POD_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
)

# Environment variables the chart's scripts read, per component.
CHART_ENV = {
    "redis": (
        "POD_NAME",
        "REDIS_MODE",
        "REDIS_PORT",
        "CONFIG_FILE",
        "RUNTIME_DIR",
        "DATA_DIR",
        "AUTH_DIR",
        "TLS_DIR",
        "ANNOUNCE_HOST",
        "SEED_HOST",
        "SEED_PORT",
        "SENTINEL_HOST",
        "SENTINEL_PORT",
        "MASTER_SET",
        "SENTINEL_PEERS",
        "FAILOVER_WAIT_SECONDS",
        # with the exporter sidecar: what the password watcher publishes for it
        "AUTH_STATE_DIR",
        "AUTH_STATE_KEYS",
    ),
    "sentinel": (
        "POD_NAME",
        "ANNOUNCE_HOST",
        "SENTINEL_PORT",
        "SENTINEL_PEERS",
        "REDIS_NODES",
        "MASTER_SET",
        # the cache's own group (cache.group separate): its master set and pods
        "CACHE_MASTER_SET",
        "CACHE_REDIS_NODES",
        "QUORUM",
        "CONFIG_DIR",
        "RUNTIME_DIR",
        "AUTH_DIR",
        "TLS_DIR",
        "AUTH_STATE_DIR",
        "AUTH_STATE_KEYS",
    ),
}
# The cache's own group runs the data pods' container and scripts.
CHART_ENV["cache"] = CHART_ENV["redis"]
EXPORTER_VOLUMES = ("exporter-scripts", "exporter-auth", "auth-state")
CHART_VOLUMES = {
    # exporter-*, auth-state: the exporter sidecar's
    "redis": ("config", "scripts", "auth", "tls", "runtime", "tmp", "data", *EXPORTER_VOLUMES),
    "sentinel": ("config", "scripts", "auth", "tls", "runtime", "tmp", *EXPORTER_VOLUMES),
}
CHART_VOLUMES["cache"] = CHART_VOLUMES["redis"]
CHART_MOUNTS = {
    "redis": (
        "/data",
        "/etc/redis",
        "/scripts",
        "/run/redis",
        "/etc/redis-auth",
        "/etc/redis-tls",
        "/tmp",
        "/run/auth-state",
    ),
    "sentinel": (
        "/etc/sentinel",
        "/scripts",
        "/run/sentinel",
        "/etc/sentinel-auth",
        "/etc/sentinel-tls",
        "/tmp",
        "/run/auth-state",
    ),
}

CHART_MOUNTS["cache"] = CHART_MOUNTS["redis"]

# redis.conf directives the chart owns -> what sets them instead. Directive names are
# lower-case in extraConfig (the schema says so), so one comparison covers them.
OWNED_DIRECTIVES = {
    "port": "redis.port",
    "bind": "the chart (all addresses; the NetworkPolicies restrict who connects)",
    "protected-mode": "the chart (ACL users protect every connection)",
    "include": "the chart (start-redis.sh includes redis.conf)",
    "daemonize": "the chart (the server runs in the foreground as the container's process)",
    "dir": "the chart (the data volume)",
    "dbfilename": "the chart (the data volume)",
    "databases": "the chart (sessions and cache DB indexes)",
    "replicaof": "Sentinel (the current master)",
    "slaveof": "Sentinel (the current master)",
    "replica-read-only": "the chart (replicas never take writes)",
    "slave-read-only": "the chart (replicas never take writes)",
    "replica-announce-ip": "the chart (the pod's DNS name)",
    "replica-announce-port": "the chart (redis.port)",
    "slave-announce-ip": "the chart (the pod's DNS name)",
    "slave-announce-port": "the chart (redis.port)",
    "requirepass": "auth (ACL users from the Secret)",
    "masterauth": "auth (the replication user)",
    "masteruser": "auth (the replication user)",
    "aclfile": "auth (ACL users from the Secret)",
    "user": "auth (ACL users from the Secret)",
    "rename-command": "auth (ACL rules restrict commands per user)",
    "maxmemory": "redis.config.maxmemory",
    "maxmemory-policy": "redis.config.maxmemoryPolicy",
    "save": "redis.config.save",
    "appendonly": "redis.config.appendonly",
    "tcp-keepalive": "redis.config.tcpKeepalive",
    "min-replicas-to-write": "redis.config.minReplicasToWrite",
    "min-slaves-to-write": "redis.config.minReplicasToWrite",
    "min-replicas-max-lag": "redis.config.minReplicasMaxLag",
    "min-slaves-max-lag": "redis.config.minReplicasMaxLag",
}
# Every tls-* directive: tls.enabled and cert-manager's Secret decide them.
OWNED_DIRECTIVE_PREFIX = "tls-"
DIRECTIVE_NAME = r"^[a-z][a-z0-9-]*$"
DIGEST = r"^(sha256:[a-f0-9]{64})?$"


def _not_one_of(names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {"not": {"enum": list(names)}}


def _named_list(what: str, name: dict[str, Any], **more: dict[str, Any]) -> dict[str, Any]:
    """An array of Kubernetes objects with a `name` (EnvVar, Volume, Container, ...); the
    API server checks the rest of each object."""
    return {
        "type": "array",
        "description": what,
        "items": {
            "type": "object",
            "required": ["name", *more],
            "properties": {"name": {"type": "string", "minLength": 1, **name}, **more},
        },
    }


def pod_extensions(component: str) -> dict[str, Node]:
    """The extension values of one component's pods ("redis", "cache" or "sentinel"); the
    cache's pods run a container named redis."""
    container = "sentinel" if component == "sentinel" else "redis"
    volumes = CHART_VOLUMES[component]
    return {
        "podLabels": Param(
            {},
            "Extra pod labels; the chart's own (app.kubernetes.io/*) are refused: they select "
            "the pods.",
            {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "propertyNames": _not_one_of(CHART_POD_LABELS),
                # the same refusal, reported at the key's own path
                "properties": dict.fromkeys(CHART_POD_LABELS, False),
            },
        ),
        "extraEnv": Param(
            [],
            f"Extra environment variables (EnvVar objects) of the {container} container; the "
            "names the chart sets are refused.",
            _named_list("EnvVar objects.", _not_one_of(CHART_ENV[component])),
        ),
        "extraVolumes": Param(
            [],
            "Extra pod volumes (Volume objects); the chart's volume names are refused.",
            _named_list("Volume objects.", _not_one_of(volumes)),
        ),
        "extraVolumeMounts": Param(
            [],
            f"Extra mounts (VolumeMount objects) of the {container} container; the chart's "
            "mount paths are refused.",
            _named_list(
                "VolumeMount objects.",
                {},
                mountPath={"type": "string", **_not_one_of(CHART_MOUNTS[component])},
            ),
        ),
        "sidecars": Param(
            [],
            "Extra containers (Container objects) beside the chart's.",
            _named_list("Container objects.", _not_one_of([container]), image={"type": "string"}),
        ),
        "initContainers": Param(
            [],
            "Init containers (Container objects), run before the chart's container.",
            _named_list("Container objects.", _not_one_of([container]), image={"type": "string"}),
        ),
    }


def extra_config(group: str = "redis") -> Param:
    """<group>.extraConfig: directives appended to that group's redis.conf after the chart's."""
    return Param(
        {},
        "Extra redis.conf directives (directive: value), written after the chart's; the "
        "directives the chart owns (port, replicaof, requirepass, rename-command, tls-*, ...; "
        "chart README) are refused."
        + (
            " Not inherited from redis.extraConfig (e.g. lazyfree-lazy-eviction yes suits a "
            "cache only)."
            if group == "cache"
            else ""
        ),
        {
            "type": "object",
            "propertyNames": {
                "pattern": DIRECTIVE_NAME,
                "not": {
                    "anyOf": [
                        {"enum": list(OWNED_DIRECTIVES)},
                        {"pattern": f"^{OWNED_DIRECTIVE_PREFIX}"},
                    ]
                },
            },
            # the same refusal, reported at the directive's own path
            "properties": dict.fromkeys(OWNED_DIRECTIVES, False),
            "patternProperties": {f"^{OWNED_DIRECTIVE_PREFIX}": False},
            "additionalProperties": {
                "type": ["string", "integer", "boolean"],
                # one directive per key: a newline would smuggle in another one
                "pattern": r"^[^\r\n]*$",
            },
        },
    )


def image_digest(digest: str) -> Param:
    return Param(
        digest,
        "Image digest (sha256:...); when set, pods run repository:tag@digest (the digest "
        "decides, the tag stays for humans).",
        {"type": "string", "pattern": DIGEST},
        ("image", "digest"),
    )


def security_context() -> dict[str, Node]:
    return {
        "securityContext": Group(
            "Pod security context of the Redis and Sentinel pods (Pod Security restricted).",
            {
                "openshift": Param(
                    False,
                    "OpenShift restricted-v2: no fixed runAsUser/runAsGroup/fsGroup (the "
                    "namespace's range assigns them); the rest stays.",
                    BOOLEAN,
                ),
                "runAsUser": Param(
                    10001, "UID of every container (above 10000: no host user).", integer(1)
                ),
                "runAsGroup": Param(10001, "GID of every container.", integer(1)),
                "fsGroup": Param(
                    10001, "Group owning the data volume and the mounted Secrets.", integer(1)
                ),
            },
        )
    }


def _helm_list(names: tuple[str, ...] | list[str]) -> str:
    return "(list " + " ".join(f'"{n}"' for n in names) + ")"


def extension_context() -> dict[str, Any]:
    """What the templates' `fail` checks refuse, as Helm literals (one source with the schema)."""
    return {
        "pod_labels": _helm_list(CHART_POD_LABELS),
        "env": {c: _helm_list(names) for c, names in CHART_ENV.items()},
        "volumes": {c: _helm_list(names) for c, names in CHART_VOLUMES.items()},
        "mounts": {c: _helm_list(names) for c, names in CHART_MOUNTS.items()},
        "directives": "(dict "
        + " ".join(f'"{k}" "{v}"' for k, v in OWNED_DIRECTIVES.items())
        + ")",
        "directive_prefix": OWNED_DIRECTIVE_PREFIX,
    }
