"""The Helm values of authentication: where the passwords come from (`auth`) and the passwords
given as values (`redis.auth`, the deployment guide's `--set redis.auth.password=...`)."""

from __future__ import annotations

from typing import Any

from chartgen.render.params import Group, Node, Param
from chartgen.render.value_parts import STRING
from chartgen.security.acl import secret_keys
from chartgen.topology.constraints import spec_property
from chartgen.topology.model import Auth, Topology

# Given as redis.auth.password and redis.auth.sentinel.password (the guide's flags).
GUIDE_KEYS = ("REDIS_PASSWORD", "SENTINEL_PASSWORD")


def _spec_schema(*path: str) -> dict[str, Any]:
    """The spec's own schema of an auth setting, without its description and default."""
    node = spec_property(("auth", *path))
    return {k: v for k, v in node.items() if k not in ("description", "default")}


def auth_values(auth: Auth) -> dict[str, Node]:
    def setting(value: str, description: str, *path: str) -> Param:
        return Param(value, description, _spec_schema(*path), ("auth", *path))

    external = auth.external
    return {
        "auth": Group(
            "Where the passwords of the ACL identities come from (chart README, Security). "
            "Passwords given as redis.auth values always win.",
            {
                "source": setting(
                    auth.source,
                    "values (the chart makes the Secret from redis.auth), existingSecret or "
                    "externalSecret.",
                    "source",
                ),
                "existingSecret": setting(
                    auth.existing_secret,
                    "The Secret for source existingSecret; keys <NAME>_PASSWORD (chart README).",
                    "existingSecret",
                ),
                "externalSecret": Group(
                    "The ExternalSecret (External Secrets Operator) for source externalSecret.",
                    {
                        "apiVersion": setting(
                            external.api_version,
                            "external-secrets.io/v1 (v1beta1 is no longer served by the operator).",
                            "externalSecret",
                            "apiVersion",
                        ),
                        "storeKind": setting(
                            external.store_kind,
                            "SecretStore or ClusterSecretStore.",
                            "externalSecret",
                            "storeKind",
                        ),
                        "storeName": setting(
                            external.store_name, "Name of the store.", "externalSecret", "storeName"
                        ),
                        "remoteKey": setting(
                            external.remote_key,
                            "Key in the store; its properties are the <NAME>_PASSWORD entries.",
                            "externalSecret",
                            "remoteKey",
                        ),
                        "refreshInterval": setting(
                            external.refresh_interval,
                            "How often the operator re-reads the store.",
                            "externalSecret",
                            "refreshInterval",
                        ),
                    },
                ),
            },
        )
    }


def redis_auth_values(model: Topology) -> Group:
    """`redis.auth`: passwords as Helm values (source values). Never put them in a values file:
    give them with --set or --set-file at install time."""
    others = [key for key in secret_keys(model) if key not in GUIDE_KEYS]
    password_schema = {"type": "string"}
    return Group(
        "Passwords as Helm values (give them with --set, never in a values file). Setting "
        "redis.auth.password makes the chart create the Secret, whatever auth.source says.",
        {
            "password": Param(
                "",
                "REDIS_PASSWORD: the default (operator) user's. Passwords not given are derived "
                "from it (sha256 of it and the key name).",
                STRING,
            ),
            "sentinel": Group(
                "Sentinel.",
                {
                    "password": Param(
                        "", "SENTINEL_PASSWORD: the Sentinels' default (operator) user's.", STRING
                    )
                },
            ),
            "passwords": Param(
                {},
                "Other identities' passwords by Secret key ("
                + ", ".join(others)
                + "); one per line while a password rotates.",
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {key: password_schema for key in others},
                },
            ),
        },
    )
