"""What every check sees: the validation context, and how findings about rendered objects are
located in the chart's templates and traced back to the spec key that produced them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from chartgen.errors import Location, Problem, SpecError
from chartgen.helm import RenderedObject
from chartgen.spec.loader import display_path
from chartgen.tools import Tools

DEFAULTS = "defaults"  # the environment name of plain values.yaml


@dataclass(frozen=True)
class Check:
    """A validation check: an id, a default severity, and a function yielding problems."""

    id: str
    severity: str
    run: Callable[[ValidateContext], Iterable[Problem]]

    @property
    def doc(self) -> str:
        return " ".join((self.run.__doc__ or "").split())


@dataclass
class ValidateContext:
    """One validation run. Expensive artifacts (spec, renders) are computed once and shared."""

    spec: Path
    chart_root: Path
    environments: tuple[str, ...] | None  # None: every environment the spec declares
    kube_versions: tuple[str, ...]
    tools: Tools
    root: Path = field(default_factory=Path.cwd)
    _futures: dict[tuple[str, str], Future[Any]] = field(default_factory=dict)
    _values: dict[str, dict[str, Any]] = field(default_factory=dict)

    @cached_property
    def validated(self) -> Any:
        """The validated spec, or the SpecError it raised."""
        from chartgen.spec.validate import validate

        try:
            return validate(self.spec, root=self.root)
        except SpecError as error:
            return error

    @cached_property
    def base_doc(self) -> Any:
        """The spec as located YAML (for pointing findings at spec keys); None if unreadable."""
        from chartgen.spec.loader import load_yaml

        doc = load_yaml(self.spec, display_path(self.spec, self.root))
        return None if isinstance(doc, Problem) else doc

    @cached_property
    def chart_name(self) -> str:
        doc = self.base_doc
        name = doc.data.get("chart", {}).get("name") if doc is not None else None
        return str(name) if isinstance(name, str) else "session-database"

    @property
    def chart_dir(self) -> Path:
        return self.chart_root / self.chart_name

    @cached_property
    def environment_names(self) -> tuple[str, ...]:
        if self.environments is not None:
            return self.environments
        found = sorted(
            p.name[len("values-") : -len(".yaml")] for p in self.chart_dir.glob("values-*.yaml")
        )
        return (DEFAULTS, *found)

    def _render(self, env: str) -> list[RenderedObject] | str:
        from chartgen import helm
        from chartgen.errors import RenderError

        values_env = None if env == DEFAULTS else env
        try:
            if self.tools.helm:
                return helm.render_cli(self.tools.helm, self.chart_dir, values_env)
            return helm.render(self.chart_dir, values_env)
        except RenderError as error:
            return str(error)

    def _lint(self, env: str) -> dict[str, Any]:
        from chartgen import helm

        return helm.lint(self.chart_dir, None if env == DEFAULTS else env)

    def start_background_work(self, pool: Executor, lint: bool) -> None:
        """Start Helm lint and render of every environment on `pool`. The Helm engine runs
        outside the GIL, so this overlaps with the Python checks that run meanwhile."""
        for env in self.environment_names:
            self._futures[("render", env)] = pool.submit(self._render, env)
            if lint:
                self._futures[("lint", env)] = pool.submit(self._lint, env)

    def lint_report(self, env: str) -> dict[str, Any]:
        future = self._futures.get(("lint", env))
        report: dict[str, Any] = future.result() if future else self._lint(env)
        return report

    def values(self, env: str) -> dict[str, Any]:
        """The merged Helm values of one environment."""
        from chartgen import helm

        if env not in self._values:
            self._values[env] = helm.merged_values(self.chart_dir, None if env == DEFAULTS else env)
        return self._values[env]

    @cached_property
    def renders(self) -> dict[str, list[RenderedObject] | str]:
        """Rendered objects per environment, or the render error's message."""
        results: dict[str, list[RenderedObject] | str] = {}
        for env in self.environment_names:
            future = self._futures.get(("render", env))
            results[env] = future.result() if future else self._render(env)
        return results

    def objects(self) -> Iterator[tuple[str, RenderedObject]]:
        """(environment, object) for every environment that rendered."""
        for env, result in self.renders.items():
            if not isinstance(result, str):
                for obj in result:
                    yield env, obj

    @cached_property
    def template_texts(self) -> dict[str, list[str]]:
        texts = {}
        for path in sorted((self.chart_dir / "templates").rglob("*")):
            if path.is_file():
                rel = path.relative_to(self.chart_dir).as_posix()
                texts[rel] = path.read_text("utf-8").splitlines()
        return texts

    def chart_location(self, relative: str, line: int = 1, column: int = 1) -> Location:
        return Location(display_path(self.chart_dir / relative, self.root), line, column)

    def object_problem(
        self,
        check: str,
        env: str,
        obj: RenderedObject,
        path: str,
        message: str,
        severity: str = "error",
        needle: str | None = None,
    ) -> Problem:
        """A problem about a rendered object, at the template line of the offending field (or of
        `needle` below it) and, where a Helm value sets that field, naming the spec key."""
        line, column, value = self._template_position(obj.template, path, needle, obj)
        hint = self._spec_hint(value)
        where = f"[{env}] {obj.kind}/{obj.name}"
        key = f"{where}.{path}" if path else where
        return Problem(
            self.chart_location(obj.template, line, column),
            key,
            f"{message}{hint}",
            check,
            severity,
        )

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
        self, template: str, path: str, needle: str | None, obj: RenderedObject
    ) -> tuple[int, int, str | None]:
        """(line, column, Helm value on that line) of the deepest key of `path` written in the
        template, following the path's keys in order from the object's `kind:` line; keys may
        contain dots (redis.conf)."""
        lines = self.template_texts.get(template, [])
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
        match = re.search(r"\.Values\.([A-Za-z0-9_.]+)", lines[row])
        return row + 1, column + 1, match.group(1) if match else None

    def _spec_hint(self, value: str | None) -> str:
        if value is None or self.base_doc is None:
            return ""
        from chartgen.render.values import SPEC_SOURCES
        from chartgen.spec.loader import dotted

        for spec_key, values_key in SPEC_SOURCES.items():
            if values_key == value or values_key.startswith(value + "."):
                extra = values_key.count(".") - value.count(".")
                top = spec_key[: len(spec_key) - extra]
                while top and top not in self.base_doc.locations:
                    top = top[:-1]
                if top:
                    return f" (set by {self.base_doc.locations[top]} {dotted(top)})"
        return f" (Helm value {value})"
