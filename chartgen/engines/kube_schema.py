"""Kubernetes schema validation of rendered objects with the schemas `kubernetes-validate` ships.

The validator loads each version's definitions and each kind's schema once and keeps compiled
validators, so validating many environments costs one load per kind, not one per object.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_VERSIONS = ("1.25.0", "latest")


@cache
def schema_root() -> Path:
    """The folder of per-version strict schemas inside the kubernetes-validate package."""
    return Path(str(resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")))


@cache
def shipped_versions() -> list[str]:
    found = [
        p.name[1:].removesuffix("-local-strict")
        for p in schema_root().iterdir()
        if p.name.endswith("-local-strict")
    ]
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))


def resolve_version(version: str) -> str:
    """`latest` -> the newest shipped version; `1.25` -> `1.25.0`."""
    if version == "latest":
        return shipped_versions()[-1]
    version = version.removeprefix("v")
    return version if version.count(".") == 2 else f"{version}.0"


def schema_file_name(api_version: str, kind: str) -> str:
    """`apps/v1`, `StatefulSet` -> `statefulset-apps-v1.json` (kubeconform's naming too)."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return f"{kind.lower()}-{group_version}.json"


@dataclass(frozen=True)
class SchemaFinding:
    """One schema violation; `path` is the dotted path inside the object."""

    kind: str
    name: str
    version: str
    path: str
    message: str


@dataclass
class KubeValidator:
    """Validates objects for one Kubernetes version; compiled schemas are kept per kind."""

    version: str
    _validators: dict[str, Any] = field(default_factory=dict)
    _registry: Any = None
    _results: dict[str, list[SchemaFinding]] = field(default_factory=dict)

    def _validator(self, file_name: str) -> Any:
        import jsonschema
        from referencing import Registry, Resource

        if file_name in self._validators:
            return self._validators[file_name]
        folder = schema_root() / f"v{self.version}-local-strict"
        if not folder.is_dir():
            raise ValueError(f"kubernetes-validate ships no schemas for {self.version}")
        if self._registry is None:
            definitions = json.loads((folder / "_definitions.json").read_text("utf-8"))
            self._registry = Resource.from_contents(definitions) @ Registry()
        path = folder / file_name
        if not path.is_file():
            self._validators[file_name] = None
            return None
        schema = json.loads(path.read_text("utf-8"))
        registry = Resource.from_contents(schema) @ self._registry
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        self._validators[file_name] = validator
        return validator

    def has_schema(self, body: dict[str, Any]) -> bool:
        name = schema_file_name(str(body.get("apiVersion", "")), str(body.get("kind", "")))
        return self._validator(name) is not None

    def validate(self, body: dict[str, Any]) -> list[SchemaFinding]:
        # environments share most objects: validate each distinct object once
        key = json.dumps(body, sort_keys=True, default=str)
        if key not in self._results:
            self._results[key] = self._validate(body)
        return self._results[key]

    def _validate(self, body: dict[str, Any]) -> list[SchemaFinding]:
        kind = str(body.get("kind", ""))
        name = str(body.get("metadata", {}).get("name", ""))
        validator = self._validator(schema_file_name(str(body.get("apiVersion", "")), kind))
        if validator is None:
            return [
                SchemaFinding(
                    kind, name, self.version, "", f"no schema for {body.get('apiVersion')} {kind}"
                )
            ]
        return [
            SchemaFinding(
                kind,
                name,
                self.version,
                ".".join(str(p) for p in error.absolute_path),
                error.message,
            )
            for error in sorted(validator.iter_errors(body), key=lambda e: e.json_path)
        ]
