"""Stage 2a: JSON Schema validation of the spec and its overlays, with file positions."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator, ValidationError

from chartgen.errors import Problem
from chartgen.topology.load import KeyPath, SourceDoc, dotted

SCHEMA_FILE = "topology.schema.json"

# Keys that decide what exists; an overlay may not change them per environment.
STRUCTURAL_KEYS: tuple[KeyPath, ...] = (
    ("version",),
    ("chart",),
    ("environments",),
    ("roles",),
    ("checks",),
    ("auth", "defaultUser"),
    ("databases", "sessions", "index"),
    ("databases", "cache", "index"),
    # Argo CD: one project, source and namespace for every environment; only the destination
    # cluster may differ per environment.
    ("argocd", "namespace"),
    ("argocd", "project"),
    ("argocd", "application"),
    ("argocd", "source"),
    ("argocd", "destination", "namespace"),
)


@cache
def topology_schema() -> dict[str, Any]:
    """The spec schema shipped with chartgen (schemas/topology.schema.json)."""
    text = resources.files("chartgen").joinpath("schemas").joinpath(SCHEMA_FILE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _without_required(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_required(v) for k, v in node.items() if k != "required"}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node


@cache
def overlay_schema() -> dict[str, Any]:
    """An overlay is a partial spec: the same shapes, nothing required."""
    schema: dict[str, Any] = _without_required(copy.deepcopy(topology_schema()))
    return schema


def _problems(error: ValidationError, doc: SourceDoc) -> Iterator[Problem]:
    path: KeyPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(schema.get("properties", {}))
        for extra in sorted(set(error.instance) - known):
            key = (*path, extra)
            allowed = ", ".join(sorted(known))
            yield Problem(
                doc.locate(key), dotted(key), f"unknown key (allowed: {allowed})", "schema"
            )
        return
    if error.validator == "required" and isinstance(error.validator_value, list):
        for name in error.validator_value:
            if isinstance(error.instance, dict) and name not in error.instance:
                key = (*path, name)
                yield Problem(doc.locate(path), dotted(key), "required key is missing", "schema")
        return
    message = error.message
    if error.validator == "oneOf" and error.context:
        message = f"{error.instance!r} is not a valid quantity (e.g. 250m, 2, 512Mi, 4Gi)"
    elif error.validator == "pattern":
        message = f"{error.instance!r} does not match the expected format"
        description = schema.get("description")
        if description:
            message += f" ({description})"
    yield Problem(doc.locate(path), dotted(path), message, "schema")


def problems_against(schema: dict[str, Any], doc: SourceDoc) -> list[Problem]:
    """Every violation of `schema` in `doc`, each at its own key."""
    validator = Draft7Validator(schema)
    problems: list[Problem] = []
    for error in sorted(validator.iter_errors(doc.data), key=lambda e: list(map(str, e.path))):
        problems.extend(_problems(error, doc))
    return problems


def schema_problems(doc: SourceDoc, *, overlay: bool) -> list[Problem]:
    """Every schema violation in `doc`, each at its own key."""
    problems = problems_against(overlay_schema() if overlay else topology_schema(), doc)
    if overlay:
        for key in STRUCTURAL_KEYS:
            node: Any = doc.data
            for part in key:
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                problems.append(
                    Problem(
                        doc.locate(key),
                        dotted(key),
                        "structure cannot change per environment; set it in the topology spec",
                        "overlay-structure",
                    )
                )
    return problems
