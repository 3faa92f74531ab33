"""Stage 2: load the spec and its overlays, check them, and return every resolved environment.

All problems from all files are collected before anything fails, so one run shows them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartgen.errors import Location, Problem, SpecError
from chartgen.topology.load import MergedDoc, SourceDoc, display_path, dotted, load_yaml, merge
from chartgen.topology.rules import RULES
from chartgen.topology.schema import schema_problems


@dataclass(frozen=True)
class ValidatedSpec:
    """The base spec and each environment's resolved spec, all known to be valid."""

    base: dict[str, Any]
    environments: dict[str, dict[str, Any]]
    overlay_keys: dict[str, frozenset[tuple[str, ...]]]  # spec keys each overlay sets
    warnings: tuple[Problem, ...]


def _rule_problems(merged: MergedDoc, fallback: Location) -> list[Problem]:
    problems = []
    for rule in RULES:
        for key, message in rule.check(merged.data):
            problems.append(
                Problem(merged.locate(key, fallback), dotted(key), message, rule.id, rule.severity)
            )
    return problems


def _environment_problems(
    base: SourceDoc, overlays: dict[str, SourceDoc], unreadable: set[str]
) -> list[Problem]:
    declared = base.data.get("environments")
    if not isinstance(declared, list):
        return []
    problems = []
    for name, doc in overlays.items():
        if name not in declared:
            problems.append(
                Problem(
                    Location(doc.path, 1, 1),
                    "environments",
                    f"unknown environment '{name}': not listed in "
                    f"{base.path} environments ({', '.join(map(str, declared))})",
                    "environments",
                )
            )
    for index, name in enumerate(declared):
        if isinstance(name, str) and name not in overlays and name not in unreadable:
            problems.append(
                Problem(
                    base.locate(("environments", index)),
                    f"environments[{index}]",
                    f"environment '{name}' has no overlay file {name}.yaml",
                    "environments",
                )
            )
    return problems


def _leaf_keys(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in data.items():
        if isinstance(value, dict) and value:
            yield from _leaf_keys(value, (*prefix, key))
        else:
            yield (*prefix, key)


def resolve(
    spec_path: Path, environments_dir: Path | None = None, root: Path | None = None
) -> ValidatedSpec:
    """Load and check `spec_path` and every overlay in `environments_dir`.

    Raises SpecError with every error (and the warnings) when anything is wrong.
    """
    root = root or Path.cwd()
    env_dir = environments_dir or spec_path.parent / "environments"
    problems: list[Problem] = []

    loaded = load_yaml(spec_path, display_path(spec_path, root))
    overlays: dict[str, SourceDoc] = {}
    unreadable: set[str] = set()
    for path in sorted(env_dir.glob("*.yaml")) if env_dir.is_dir() else []:
        doc = load_yaml(path, display_path(path, root))
        if isinstance(doc, Problem):
            problems.append(doc)
            unreadable.add(path.stem)
        else:
            overlays[path.stem] = doc
    if isinstance(loaded, Problem):
        raise SpecError([loaded, *problems])
    base = loaded

    problems += schema_problems(base, overlay=False)
    for doc in overlays.values():
        problems += schema_problems(doc, overlay=True)
    problems += _environment_problems(base, overlays, unreadable)
    if any(p.severity == "error" for p in problems):
        raise SpecError(problems)

    fallback = Location(base.path, 1, 1)
    resolved: dict[str, dict[str, Any]] = {}
    problems += _rule_problems(merge(base, None), fallback)
    for name in base.data["environments"]:
        merged = merge(base, overlays[name])
        # an overlay can break what the base alone satisfies; report it at the overlay's key
        env_schema = SourceDoc(overlays[name].path, merged.data, dict(merged.origins))
        shape_problems = schema_problems(env_schema, overlay=False)
        problems += shape_problems
        if not shape_problems:  # rules rely on the schema's shapes
            problems += _rule_problems(merged, fallback)
        resolved[name] = merged.data

    unique = list(dict.fromkeys(problems))
    if any(p.severity == "error" for p in unique):
        raise SpecError(unique)
    overlay_keys = {name: frozenset(_leaf_keys(doc.data)) for name, doc in overlays.items()}
    return ValidatedSpec(base.data, resolved, overlay_keys, tuple(unique))
