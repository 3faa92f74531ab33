"""A tree of Helm values with their descriptions and schemas: one source for values.yaml,
values-<env>.yaml, values.schema.json and the README's values table."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Param:
    """A leaf value: its default, what it means, its JSON schema and, where a spec key sets it,
    that key's path (`source`)."""

    value: Any
    description: str
    schema: dict[str, Any] = field(default_factory=dict)
    source: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Group:
    """A mapping of values with a fixed set of keys."""

    description: str
    children: dict[str, Node]


Node = Param | Group

_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9._/-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def scalar(value: Any) -> str:
    """A YAML scalar that reads back as exactly `value`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        if _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
            return value
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {scalar(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no YAML form for {value!r}")


def _emit_plain(value: Any, indent: int) -> Iterator[str]:
    """Nested plain data (dicts of scalars) below a Param, e.g. a resources default."""
    pad = "  " * indent
    for key, item in value.items():
        if isinstance(item, dict) and item:
            yield f"{pad}{key}:"
            yield from _emit_plain(item, indent + 1)
        else:
            yield f"{pad}{key}: {scalar(item)}"


def emit_yaml(tree: dict[str, Node], *, comments: bool = True, indent: int = 0) -> Iterator[str]:
    """YAML lines for `tree`, each key preceded by its `# --` description (helm-docs style)."""
    pad = "  " * indent
    for key, node in tree.items():
        if comments:
            yield f"{pad}# -- {node.description}"
        if isinstance(node, Group):
            yield f"{pad}{key}:"
            yield from emit_yaml(node.children, comments=comments, indent=indent + 1)
            if indent == 0 and comments:
                yield ""
        elif isinstance(node.value, dict) and node.value:
            yield f"{pad}{key}:"
            yield from _emit_plain(node.value, indent + 1)
        else:
            yield f"{pad}{key}: {scalar(node.value)}"


def to_schema(tree: dict[str, Node]) -> dict[str, Any]:
    """A strict draft-07 object schema for `tree`."""
    properties: dict[str, Any] = {}
    for key, node in tree.items():
        if isinstance(node, Group):
            properties[key] = {"description": node.description, **to_schema(node.children)}
        else:
            properties[key] = {"description": node.description, **node.schema}
    return {"type": "object", "additionalProperties": False, "properties": properties}


def flatten(tree: dict[str, Node], prefix: str = "") -> Iterator[tuple[str, Param]]:
    """(dotted key, Param) for every leaf, in file order."""
    for key, node in tree.items():
        if isinstance(node, Group):
            yield from flatten(node.children, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", node


def sources(tree: dict[str, Node]) -> dict[tuple[str, ...], str]:
    """Spec key -> the dotted Helm value it sets, for every leaf of `tree` that has a source."""
    found: dict[tuple[str, ...], str] = {}
    for dotted_key, param in flatten(tree):
        if param.source is not None:
            if param.source in found:
                raise ValueError(
                    f"spec key {'.'.join(param.source)} sets both {found[param.source]} "
                    f"and {dotted_key}"
                )
            found[param.source] = dotted_key
    return found


def diff(
    base: dict[str, Node],
    env: dict[str, Node],
    pinned: frozenset[str] = frozenset(),
    prefix: str = "",
) -> dict[str, Node]:
    """What values-<env>.yaml must set: values that differ from `base`, and the values named in
    `pinned` (dotted keys the overlay sets explicitly), so the file shows what the environment
    decides even where it matches today's default."""
    changed: dict[str, Node] = {}
    for key, node in env.items():
        other, dotted_key = base[key], f"{prefix}{key}"
        if isinstance(node, Group) and isinstance(other, Group):
            inner = diff(other.children, node.children, pinned, f"{dotted_key}.")
            if inner:
                changed[key] = Group(node.description, inner)
        elif (
            isinstance(node, Param)
            and isinstance(other, Param)
            and (node.value != other.value or dotted_key in pinned)
        ):
            changed[key] = node
    return changed
