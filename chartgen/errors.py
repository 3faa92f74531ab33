"""One exception hierarchy and one exit-code table for every command.

Each stage raises its own subclass once, at its boundary; the CLI's one handler maps the class to
an exit code and prints the message. No traceback reaches the user: anything else that escapes is
an internal error, reported as such with its own exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Exit codes of every chartgen command (documented in README.md)."""

    OK = 0
    PROBLEMS = 1  # the spec is invalid, --check found drift, or validate found problems
    USAGE = 2  # bad command line (click's own code), missing file, unknown environment
    RENDER = 3  # a template failed to render: a chartgen bug or a broken template
    IO = 4  # the chart could not be read or written
    TOOL = 5  # an external program (helm, kubeconform, promtool, amtool) failed or timed out
    INTERNAL = 6  # a bug in chartgen: the message says where to report it
    CONFLICT = 7  # publish: that chart version is already published with other content


# Where an internal error tells the user to go (README.md, "Reporting a bug").
REPORT_BUG = "a bug in chartgen: please report it with this output (README.md, Reporting a bug)"


@dataclass(frozen=True)
class Location:
    """Where something is in a YAML file: 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One finding about the spec or the chart."""

    location: Location
    key: str
    message: str
    rule: str
    severity: str = "error"  # "error" or "warning"

    def as_record(self) -> dict[str, str | int]:
        """Plain data for JSON reports and the verdict cache."""
        return {
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "key": self.key,
            "message": self.message,
            "rule": self.rule,
            "severity": self.severity,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Problem:
        where = Location(str(record["file"]), int(record["line"]), int(record["column"]))
        return cls(where, record["key"], record["message"], record["rule"], record["severity"])

    def format(self) -> str:
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.location}: {self.key or '<root>'}: {prefix}{self.message} [{self.rule}]"


class ChartgenError(Exception):
    """Base of every error chartgen reports to the user."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(ChartgenError):
    """The command line names something that does not exist or cannot be used."""

    exit_code = ExitCode.USAGE


class ToolError(ChartgenError):
    """An external program failed, timed out or gave output chartgen cannot read."""

    exit_code = ExitCode.TOOL


class SpecError(ChartgenError):
    """The spec (or an overlay) is invalid; carries every problem found, not just the first."""

    exit_code = ExitCode.PROBLEMS

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(p.format() for p in self.problems))


class DriftError(ChartgenError):
    """--check: the chart on disk differs from what the spec builds."""

    exit_code = ExitCode.PROBLEMS

    def __init__(
        self, out_dir: str, changed: Sequence[str], missing: Sequence[str], extra: Sequence[str]
    ) -> None:
        self.changed, self.missing, self.extra = tuple(changed), tuple(missing), tuple(extra)
        lines = [f"{out_dir} is not what the spec builds (run `chartgen build`):"]
        lines += [f"  changed: {name}" for name in self.changed]
        lines += [f"  missing: {name}" for name in self.missing]
        lines += [f"  not produced by the spec: {name}" for name in self.extra]
        super().__init__("\n".join(lines))

    @classmethod
    def of(cls, drifts: Sequence[DriftError]) -> DriftError:
        """One error for several output directories (the chart, the Argo CD objects)."""
        first = drifts[0]
        if len(drifts) > 1:
            first.args = ("\n".join(str(d) for d in drifts),)
        return first


class RenderError(ChartgenError):
    """A chartgen template failed to render."""

    exit_code = ExitCode.RENDER


class ValidationFailed(ChartgenError):
    """publish: the chart fails `chartgen validate`; the message is validate's report."""

    exit_code = ExitCode.PROBLEMS


class PublishConflict(ChartgenError):
    """publish: a published version is immutable; other content under it is refused."""

    exit_code = ExitCode.CONFLICT


class OutputError(ChartgenError):
    """The output directory could not be read or written."""

    exit_code = ExitCode.IO
