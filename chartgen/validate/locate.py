"""Where a finding about a rendered object stands: the template line that wrote the offending
field and, where a Helm value set it, the spec key behind that value."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from chartgen.engines.helm import RenderedObject
from chartgen.errors import Location
from chartgen.topology.load import SourceDoc, display_path, dotted


@dataclass
class TemplateLocator:
    """Finds template lines in one chart directory; template texts are read once."""

    chart_dir: Path
    root: Path
    spec_doc: SourceDoc | None  # the spec as located YAML; None when it cannot be read
    spec_sources: dict[tuple[str, ...], str]  # spec key -> the Helm value it sets
    _texts: dict[str, list[str]] = field(default_factory=dict)

    def lines(self, template: str) -> list[str]:
        if not self._texts:
            for path in sorted((self.chart_dir / "templates").rglob("*")):
                if path.is_file():
                    rel = path.relative_to(self.chart_dir).as_posix()
                    self._texts[rel] = path.read_text("utf-8").splitlines()
        return self._texts.get(template, [])

    def chart_location(self, relative: str, line: int = 1, column: int = 1) -> Location:
        return Location(display_path(self.chart_dir / relative, self.root), line, column)

    def object_location(
        self, obj: RenderedObject, path: str, needle: str | None = None
    ) -> tuple[Location, str]:
        """The location of `path` in the object's template and a hint naming the spec key (or
        Helm value) that set it ("" when none)."""
        line, column, value = self._template_position(obj, path, needle)
        return self.chart_location(obj.template, line, column), self._spec_hint(value)

    @staticmethod
    def _document_start(lines: list[str], obj: RenderedObject) -> int:
        """The `kind:` line of the object's document in a template that may hold several of
        that kind: the one whose `name:` ends in the literal tail of the object's name."""
        kind_line = re.compile(rf"^kind:\s*{re.escape(obj.kind)}\s*$")
        starts = [i for i, text in enumerate(lines) if kind_line.match(text)]
        best, best_tail = (starts[0] if starts else 0), -1
        for start in starts:
            name_line = next(
                (t for t in lines[start : start + 6] if t.strip().startswith("name:")), ""
            )
            tail = name_line.rsplit("}}", 1)[-1].strip().strip("\"'")
            if obj.name.endswith(tail) and len(tail) > best_tail:
                best, best_tail = start, len(tail)
        return best

    def _template_position(
        self, obj: RenderedObject, path: str, needle: str | None
    ) -> tuple[int, int, str | None]:
        """(line, column, Helm value on that line) of the deepest key of `path` written in the
        template, following the path's keys in order from the object's `kind:` line; keys may
        contain dots (redis.conf)."""
        lines = self.lines(obj.template)
        parts = [p for p in path.split(".") if p and not p.isdigit()]
        start = self._document_start(lines, obj)
        index, found = 0, None
        while index < len(parts):
            for width in (3, 2, 1):  # the longest dotted key that the template writes
                key = ".".join(parts[index : index + width])
                pattern = re.compile(rf"^(\s*)(- )?{re.escape(key)}:")
                hit = next((i for i in range(start, len(lines)) if pattern.match(lines[i])), None)
                if hit is not None and len(parts[index : index + width]) == width:
                    match = pattern.match(lines[hit])
                    assert match is not None
                    found = (hit, len(match.group(1)) + len(match.group(2) or ""))
                    start, index = hit + 1, index + width
                    break
            else:
                index += 1
        if found is None:
            return 1, 1, None
        row, column = found
        if needle is not None:
            below = next((i for i in range(row, len(lines)) if needle in lines[i]), None)
            if below is not None:
                text = lines[below]
                return below + 1, len(text) - len(text.lstrip()) + 1, None
        return row + 1, column + 1, _values_key(lines, lines[row])

    def _spec_hint(self, value: str | None) -> str:
        if value is None or self.spec_doc is None:
            return ""
        for spec_key, values_key in self.spec_sources.items():
            if values_key == value or values_key.startswith(value + "."):
                extra = values_key.count(".") - value.count(".")
                top = spec_key[: len(spec_key) - extra]
                while top and top not in self.spec_doc.locations:
                    top = top[:-1]
                if top:
                    return f" (set by {self.spec_doc.locations[top]} {dotted(top)})"
        return f" (Helm value {value})"


# `{{- $g := .Values.redis }}`: a template variable that names a subtree of the values (the
# data-group templates read their group's values through one).
_ALIAS = re.compile(r"\$(\w+)\s*:=\s*\.Values\.([A-Za-z0-9_.]+)\s*-?}}")


def _values_key(lines: list[str], line: str) -> str | None:
    """The Helm value a template line writes: `.Values.a.b`, or `$g.b` with `$g := .Values.a`."""
    direct = re.search(r"\.Values\.([A-Za-z0-9_.]+)", line)
    if direct:
        return direct.group(1)
    aliases = {m.group(1): m.group(2) for text in lines for m in _ALIAS.finditer(text)}
    for reference in re.finditer(r"\$(\w+)\.([A-Za-z0-9_.]+)", line):
        if reference.group(1) in aliases:
            return f"{aliases[reference.group(1)]}.{reference.group(2)}"
    return None
