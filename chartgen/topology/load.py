"""Stage 1: read YAML files with ruamel.yaml, keeping the line and column of every key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode
from ruamel.yaml.reader import ReaderError

from chartgen.errors import Location, Problem

KeyPath = tuple[str | int, ...]


def display_path(path: Path, root: Path) -> str:
    """`path` relative to `root` when inside it, as messages show file names."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def dotted(path: KeyPath) -> str:
    """`('redis', 'config', 'maxmemory')` -> `redis.config.maxmemory`; list items as `[i]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass(frozen=True)
class SourceDoc:
    """A YAML document as plain data plus where each key and list item stands."""

    path: str
    data: dict[str, Any]
    locations: dict[KeyPath, Location] = field(default_factory=dict)

    def locate(self, path: KeyPath) -> Location:
        """The location of `path`, or of its nearest ancestor that exists in the file."""
        for end in range(len(path), 0, -1):
            found = self.locations.get(path[:end])
            if found is not None:
                return found
        return Location(self.path, 1, 1)


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, column: int) -> None:
        self.key, self.line, self.column = key, line, column


def _plain(
    node: Node, path: KeyPath, file: str, out: dict[KeyPath, Location], construct: Any
) -> Any:
    """Plain data from a composed node, recording where each key and list item stands."""
    if isinstance(node, MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(construct(key_node))
            if key in result:
                mark = key_node.start_mark
                raise _DuplicateKey(key, mark.line + 1, mark.column + 1)
            child = (*path, key)
            out[child] = Location(
                file, key_node.start_mark.line + 1, key_node.start_mark.column + 1
            )
            result[key] = _plain(value_node, child, file, out, construct)
        return result
    if isinstance(node, SequenceNode):
        items = []
        for index, item_node in enumerate(node.value):
            item_path = (*path, index)
            out[item_path] = Location(
                file, item_node.start_mark.line + 1, item_node.start_mark.column + 1
            )
            items.append(_plain(item_node, item_path, file, out, construct))
        return items
    return construct(node)


def load_yaml(path: Path, display: str) -> SourceDoc | Problem:
    """Parse one file; a syntax error comes back as a Problem at its position.

    Composes nodes with the C parser (fast) and builds the data from them, so every key keeps
    its line and column without ruamel's slower round-trip loader.
    """
    yaml = YAML(typ="safe")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return Problem(Location(display, 1, 1), "", f"cannot read file: {exc.strerror}", "yaml")
    except UnicodeDecodeError:
        return Problem(Location(display, 1, 1), "", "file is not UTF-8 text", "yaml")
    locations: dict[KeyPath, Location] = {}
    try:
        node = yaml.compose(text)
        if node is None:
            return SourceDoc(display, {}, {})
        if not isinstance(node, MappingNode):
            return Problem(Location(display, 1, 1), "", "the document must be a mapping", "yaml")
        data = _plain(node, (), display, locations, yaml.constructor.construct_object)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        return Problem(Location(display, line, col), "", f"invalid YAML: {reason}", "yaml")
    except ReaderError as exc:  # a character YAML does not allow, e.g. a pasted C1 control
        line, col = _position(text, exc.position)
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1])
        return Problem(
            Location(display, line, col),
            _key_at(yaml, text.replace(chr(code), " "), display, line),
            f"invalid YAML: character U+{code:04X} is not allowed in YAML ({exc.reason}); "
            "remove it or write it as an escape in a double-quoted string",
            "yaml",
        )
    except _DuplicateKey as dup:
        return Problem(
            Location(display, dup.line, dup.column), dup.key, "invalid YAML: duplicate key", "yaml"
        )
    except (ValueError, TypeError, YAMLError) as exc:  # e.g. a bad !!binary scalar
        return Problem(Location(display, 1, 1), "", f"invalid YAML: {exc}", "yaml")
    return SourceDoc(display, data, locations)


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _key_at(yaml: YAML, text: str, display: str, line: int) -> str:
    """The dotted key standing on or above `line`, read from `text` ("" when it cannot be)."""
    locations: dict[KeyPath, Location] = {}
    try:
        node = yaml.compose(text)
        if isinstance(node, MappingNode):
            _plain(node, (), display, locations, yaml.constructor.construct_object)
    except (YAMLError, _DuplicateKey, ValueError, TypeError):
        return ""
    above = [(path, loc) for path, loc in locations.items() if loc.line <= line]
    if not above:
        return ""
    return dotted(max(above, key=lambda item: (item[1].line, item[1].column))[0])


def _walk(data: Any, path: KeyPath) -> Iterator[KeyPath]:
    yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _walk(value, (*path, key))


@dataclass(frozen=True)
class MergedDoc:
    """The spec with one overlay applied; each path remembers which file set it."""

    data: dict[str, Any]
    origins: dict[KeyPath, Location]

    def locate(self, path: KeyPath, fallback: Location) -> Location:
        for end in range(len(path), 0, -1):
            found = self.origins.get(path[:end])
            if found is not None:
                return found
        return fallback


def merge(base: SourceDoc, overlay: SourceDoc | None) -> MergedDoc:
    """Deep-merge `overlay` onto `base`: mappings merge, lists and scalars replace."""
    origins = dict(base.locations)
    if overlay is None:
        return MergedDoc(base.data, origins)

    def combine(left: Any, right: Any, path: KeyPath) -> Any:
        if isinstance(left, dict) and isinstance(right, dict):
            merged = dict(left)
            for key, value in right.items():
                merged[key] = combine(left.get(key), value, (*path, key))
            return merged
        # a replaced subtree keeps no location from the base
        for stale in [p for p in origins if p[: len(path)] == path and len(p) > len(path)]:
            del origins[stale]
        return right

    data = combine(base.data, overlay.data, ())
    for path in _walk(overlay.data, ()):
        if path and path in overlay.locations:
            origins[path] = overlay.locations[path]
    origins.update({p: loc for p, loc in overlay.locations.items() if isinstance(p[-1], int)})
    return MergedDoc(data, origins)


FALLBACK_CHART_NAME = "session-database"


def chart_name_of(spec: SourceDoc | Path | None) -> str:
    """The chart name the spec declares (its directory under the chart root), read leniently:
    a spec too broken to name it falls back to the default name."""
    if isinstance(spec, Path):
        loaded = load_yaml(spec, str(spec))
        spec = None if isinstance(loaded, Problem) else loaded
    chart = spec.data.get("chart") if spec is not None else None
    name = chart.get("name") if isinstance(chart, dict) else None
    return name if isinstance(name, str) and name else FALLBACK_CHART_NAME
