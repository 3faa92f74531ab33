"""Timing harness of the benchmarks: commands with checked exit codes, interleaved runs, rows
of figures beside their baselines."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

GOBIN = Path(os.environ.get("GOBIN") or Path.home() / "go" / "bin")


class BenchError(Exception):
    """A run did not do what the benchmark times: abort rather than report its speed."""


def tool(name: str) -> str | None:
    return shutil.which(name) or (str(GOBIN / name) if (GOBIN / name).is_file() else None)


@dataclass(frozen=True)
class Step:
    """One command and the exit code it must end with; `stdout` optionally saved to a file."""

    command: Sequence[str]
    cwd: Path
    expect: int = 0
    stdout: Path | None = None
    env: dict[str, str] | None = None

    def run(self) -> float:
        """Wall time of the command; BenchError when its exit code is not the expected one."""
        start = time.perf_counter()
        result = subprocess.run(
            list(self.command), cwd=self.cwd, capture_output=True, env=self.env, check=False
        )
        elapsed = time.perf_counter() - start
        if result.returncode != self.expect:
            output = (result.stderr or result.stdout).decode(errors="replace").strip()
            tail = "\n    ".join(output.splitlines()[-15:])
            raise BenchError(
                f"`{' '.join(self.command)}` (in {self.cwd}) exited {result.returncode}, "
                f"expected {self.expect}; its timing would be meaningless.\n    {tail}"
            )
        if self.stdout is not None:
            self.stdout.write_bytes(result.stdout)
        return elapsed


def sequence(steps: Sequence[Step]) -> Callable[[], float]:
    """A sample function: all steps in order, their total wall time."""
    return lambda: sum(step.run() for step in steps)


def interleaved(
    samplers: dict[str, Callable[[], float]], rounds: int, warm_up: bool = True
) -> dict[str, list[float]]:
    """Samples of each sampler, runs interleaved in a rotating order (after one warm-up each)."""
    names = list(samplers)
    if warm_up:
        for name in names:
            samplers[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(samplers[name]())
    return samples


def row(name: str, value: float, baseline_name: str, baseline: float, target: str = "") -> None:
    print(
        f"{name:<44} {value * 1000:7.0f} ms   {baseline_name:<36} {baseline * 1000:7.0f} ms"
        f"   ratio {value / baseline:5.2f}   {target}".rstrip()
    )
