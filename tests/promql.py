"""PromQL as the tests read it: the metric names an expression uses, and the queries of the
generated dashboards as Grafana would send them (every panel target and annotation, the
dashboard's variables replaced, Grafana's own $__ variables by fixed durations)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import MONITORING

PROMQL_WORDS = {
    "by", "on", "and", "or", "unless", "without", "group_left", "group_right", "bool",
    "sum", "min", "max", "count", "rate", "increase", "time", "ignoring",
    "vector", "changes", "absent",
}  # fmt: skip
GROUPING = re.compile(r"\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)")

# Grafana's built-ins: $__rate_interval is at least four scrape intervals, $__range the time
# range. The live pipeline scrapes every 2 s.
BUILTINS = {"__rate_interval": "1m", "__range": "1h", "__interval": "15s"}
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
_LABEL_VALUES = re.compile(r"^label_values\((.*),\s*([a-z_]+)\)$")


def files(environment: str | None = None) -> list[Path]:
    pattern = f"{environment or '*'}/dashboards/*.json"
    return sorted(MONITORING.glob(pattern))


def load(path: Path) -> dict[str, Any]:
    board: dict[str, Any] = json.loads(path.read_text())
    return board


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside rows too."""
    found = []
    for panel in board["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def expressions(board: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title or annotation name, PromQL) of every query."""
    found = [
        (panel["title"], target["expr"])
        for panel in panels(board)
        for target in panel.get("targets", [])
    ]
    found += [(a["name"], a["expr"]) for a in board["annotations"]["list"]]
    return found


def variables(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in board["templating"]["list"]}


def constants(board: dict[str, Any]) -> dict[str, str]:
    return {n: v["query"] for n, v in variables(board).items() if v["type"] == "constant"}


def label_values(query: str) -> tuple[str, str]:
    """A query variable's `label_values(<selector>, <label>)`: (selector, label)."""
    match = _LABEL_VALUES.match(query)
    assert match, query
    return match.group(1), match.group(2)


def concrete(text: str, values: dict[str, str]) -> str:
    """`text` with every $variable / ${variable} replaced; an unknown one fails."""
    known = {**BUILTINS, **values}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in known, f"unknown variable ${name} in {text}"
        return known[name]

    return _VARIABLE.sub(replace, text)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    expr = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "", expr)  # Grafana variables
    expr = re.sub(r'"[^"]*"', "", expr)  # label values
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range durations
    expr = re.sub(r"\{[^}]*\}", "", expr)  # matchers
    expr = GROUPING.sub("", expr)
    return {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr) if w not in PROMQL_WORDS}
