"""Kubernetes schema validation of rendered objects with the embedded `kubernetes-validate`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chartgen.helm import RenderedObject

DEFAULT_VERSIONS = ("1.25.0", "latest")


def resolve_version(version: str) -> str:
    import kubernetes_validate.utils as kv

    return str(kv.latest_version()) if version == "latest" else version


@dataclass(frozen=True)
class SchemaFinding:
    template: str
    kind: str
    name: str
    version: str
    message: str


def validate_objects(objects: Iterable[RenderedObject], version: str) -> list[SchemaFinding]:
    """Every object checked against the strict schema of `version`; one finding per failure."""
    import kubernetes_validate.utils as kv

    resolved = resolve_version(version)
    findings = []
    for obj in objects:
        try:
            kv.validate(obj.body, resolved, strict=True)
        except kv.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            findings.append(
                SchemaFinding(
                    obj.template,
                    obj.kind,
                    obj.name,
                    resolved,
                    f"{path}: {exc.message}" if path else exc.message,
                )
            )
        except kv.SchemaNotFoundError as exc:
            findings.append(
                SchemaFinding(obj.template, obj.kind, obj.name, resolved, f"no schema: {exc}")
            )
    return findings
