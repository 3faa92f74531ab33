"""Which checks run and at what severity: the spec's `checks:` section, then `.chartgen.yaml`
(which wins). Both are read with the topology schema's own `checks` shape, so a malformed file
is reported at its key like any spec problem."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartgen.errors import Problem, UsageError
from chartgen.topology.load import SourceDoc, display_path, load_yaml
from chartgen.topology.schema import problems_against, topology_schema

CONFIG_FILE = Path(".chartgen.yaml")


@dataclass(frozen=True)
class CheckConfig:
    disabled: frozenset[str]
    severity: dict[str, str]
    problems: tuple[Problem, ...]


def config_path(explicit: Path | None) -> Path | None:
    """The settings file in force: the one given, else .chartgen.yaml when present."""
    if explicit is not None:
        if not explicit.is_file():
            raise UsageError(f"{explicit}: config file not found")
        return explicit
    return CONFIG_FILE if CONFIG_FILE.is_file() else None


def _config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {"checks": topology_schema()["properties"]["checks"]},
    }


def _problem(doc: SourceDoc, path: tuple[str | int, ...], key: str, message: str) -> Problem:
    return Problem(doc.locate(path), key, message, "config")


def _read(
    source: Path, root: Path, is_spec: bool, known: set[str]
) -> tuple[dict[str, Any], list[Problem]]:
    """The valid `checks` section of one file and the problems found in it."""
    doc = load_yaml(source, display_path(source, root))
    if isinstance(doc, Problem):
        # the spec check reports an unreadable spec; a broken settings file is reported here
        return {}, [] if is_spec else [doc]
    problems: list[Problem] = []
    if not is_spec:  # the spec's own schema problems belong to the spec check
        problems = [
            Problem(p.location, p.key, p.message, "config")
            for p in problems_against(_config_schema(), doc)
        ]
    section = doc.data.get("checks")
    if not isinstance(section, dict):
        return {}, problems
    disable = section.get("disable")
    severity = section.get("severity")
    usable: dict[str, Any] = {
        "disable": [d for d in disable if isinstance(d, str)] if isinstance(disable, list) else [],
        "severity": severity if isinstance(severity, dict) else {},
    }
    for index, check_id in enumerate(usable["disable"]):
        if check_id not in known:
            where = ("checks", "disable", index)
            problems.append(
                _problem(doc, where, f"checks.disable[{index}]", f"unknown check '{check_id}'")
            )
    for check_id in usable["severity"]:
        if check_id not in known:
            where = ("checks", "severity", check_id)
            problems.append(
                _problem(doc, where, f"checks.severity.{check_id}", f"unknown check '{check_id}'")
            )
    return usable, problems


def load_check_config(
    spec: Path, explicit: Path | None, known: Iterable[str], root: Path
) -> CheckConfig:
    """Disable/severity settings of the spec and of the settings file, every problem listed."""
    from chartgen.validate.checks import LEVELS

    known_ids = set(known)
    disabled: set[str] = set()
    levels: dict[str, str] = {}
    problems: list[Problem] = []
    sources = [(spec, True)] if spec.is_file() else []
    settings = config_path(explicit)
    if settings is not None:
        sources.append((settings, False))
    for source, is_spec in sources:
        section, found = _read(source, root, is_spec, known_ids)
        problems += found
        disabled.update(d for d in section.get("disable", []) if d in known_ids)
        levels.update(
            {
                str(k): v
                for k, v in section.get("severity", {}).items()
                if k in known_ids and v in LEVELS
            }
        )
    return CheckConfig(frozenset(disabled), levels, tuple(dict.fromkeys(problems)))
