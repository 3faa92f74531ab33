"""External programs a validation run may call, and the one way chartgen runs them."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from chartgen.errors import ToolError, UsageError

# Seconds every external program may run, replacing each call's own limit (slow machines).
TIMEOUT_VARIABLE = "CHARTGEN_TOOL_TIMEOUT"


@dataclass
class Tools:
    """External programs the checks may call; None where absent."""

    helm: str | None = None  # a Helm v3 CLI chosen as renderer; None: the embedded engine
    kubeconform: str | None = None
    promtool: str | None = None
    amtool: str | None = None


def run_tool(
    command: list[str], timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run an external program (`env`: variables added to ours); one that cannot start or
    outlives `timeout` is a ToolError. A non-zero exit is the caller's to judge (for most tools
    it is a verdict, not a failure)."""
    name = command[0]
    override = os.environ.get(TIMEOUT_VARIABLE, "")
    try:
        timeout = float(override) if override else timeout
    except ValueError:
        raise UsageError(f"{TIMEOUT_VARIABLE}={override!r} is not a number of seconds") from None
    try:
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **env} if env else None,
        )
    except subprocess.TimeoutExpired:
        raise ToolError(
            f"{' '.join(command[:3])} ... did not finish within {timeout:g} s "
            f"(a slow machine may set {TIMEOUT_VARIABLE}=<seconds>)"
        ) from None
    except OSError as exc:
        raise ToolError(f"{name} could not be started: {exc.strerror or exc}") from None
