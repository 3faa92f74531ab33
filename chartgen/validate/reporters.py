"""Reporters: the same problems as text, JSON, JUnit XML, GitHub annotations or SARIF 2.1.0."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from xml.etree import ElementTree

from chartgen import __version__
from chartgen.errors import Problem


@dataclass(frozen=True)
class CheckSummary:
    id: str
    severity: str
    doc: str


def _counts(problems: Sequence[Problem]) -> dict[str, int]:
    return {
        level: sum(p.severity == level for p in problems) for level in ("error", "warning", "info")
    }


def text(problems: Sequence[Problem], checks: Sequence[CheckSummary]) -> str:
    counts = _counts(problems)
    lines = [p.format() for p in problems]
    lines.append(
        f"{counts['error']} error(s), {counts['warning']} warning(s), "
        f"{counts['info']} note(s) from {len(checks)} checks"
    )
    return "\n".join(lines)


def _as_reported(problem: Problem) -> dict[str, str | int]:
    """A problem as the JSON report shows it: its rule is the reporting check's id."""
    record = problem.as_record()
    record["check"] = record.pop("rule")
    return {
        key: record[key]
        for key in ("file", "line", "column", "key", "message", "check", "severity")
    }


def as_json(problems: Sequence[Problem], checks: Sequence[CheckSummary]) -> str:
    return json.dumps(
        {
            "tool": {"name": "chartgen", "version": __version__},
            "checks": [c.id for c in checks],
            "summary": _counts(problems),
            "problems": [_as_reported(p) for p in problems],
        },
        indent=2,
    )


def junit(problems: Sequence[Problem], checks: Sequence[CheckSummary]) -> str:
    """One testcase per check; each problem of a failing check is one <failure>."""
    suite = ElementTree.Element("testsuite", name="chartgen validate", tests=str(len(checks)))
    failures = 0
    for check in checks:
        case = ElementTree.SubElement(suite, "testcase", classname="chartgen", name=check.id)
        found = [p for p in problems if p.rule.split("/")[0] == check.id and p.severity != "info"]
        if any(p.severity == "error" for p in found):
            failures += 1
        for problem in found:
            tag = "failure" if problem.severity == "error" else "system-out"
            node = ElementTree.SubElement(case, tag)
            if tag == "failure":
                node.set("message", problem.message)
                node.set("type", problem.severity)
            node.text = problem.format()
    suite.set("failures", str(failures))
    root = ElementTree.Element("testsuites")
    root.append(suite)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, "unicode")


def _escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


def github(problems: Sequence[Problem], checks: Sequence[CheckSummary]) -> str:
    """GitHub Actions workflow commands: one annotation per problem."""
    level = {"error": "error", "warning": "warning", "info": "notice"}
    lines = []
    for p in problems:
        props = (
            f"file={_escape(p.location.file, prop=True)},line={p.location.line},"
            f"col={p.location.column},title={_escape('chartgen ' + p.rule, prop=True)}"
        )
        lines.append(f"::{level[p.severity]} {props}::{_escape(f'{p.key}: {p.message}')}")
    return "\n".join([*lines, text([], checks) if not problems else ""]).rstrip("\n")


def sarif(problems: Sequence[Problem], checks: Sequence[CheckSummary]) -> str:
    level = {"error": "error", "warning": "warning", "info": "note"}
    rules = [
        {
            "id": c.id,
            "shortDescription": {"text": c.doc},
            "defaultConfiguration": {"level": level[c.severity]},
        }
        for c in checks
    ]
    rule_index = {c.id: index for index, c in enumerate(checks)}
    results = []
    for p in problems:
        result: dict[str, Any] = {
            "ruleId": p.rule,
            "level": level[p.severity],
            "message": {"text": f"{p.key}: {p.message}" if p.key else p.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": p.location.file},
                        "region": {"startLine": p.location.line, "startColumn": p.location.column},
                    }
                }
            ],
        }
        check_id = p.rule.split("/")[0]
        if check_id in rule_index:
            result["ruleIndex"] = rule_index[check_id]
        results.append(result)
    return json.dumps(
        {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {"name": "chartgen", "version": __version__, "rules": rules}
                    },
                    "results": results,
                }
            ],
        },
        indent=2,
    )


Reporter = Callable[[Sequence[Problem], Sequence[CheckSummary]], str]
FORMATS: Mapping[str, Reporter] = MappingProxyType(
    {
        "text": text,
        "json": as_json,
        "junit": junit,
        "github": github,
        "sarif": sarif,
    }
)
