"""Where the Go-built tools the parity tests compare against are (installed by .ci/run)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def go_tool(name: str) -> str:
    """The binary on PATH or in Go's install folder; an AssertionError names the missing step."""
    found = shutil.which(name)
    gobin = os.environ.get("GOBIN") or str(Path.home() / "go" / "bin")
    if found is None and (Path(gobin) / name).is_file():
        found = str(Path(gobin) / name)
    assert found, f"{name} is missing: .ci/run installs it with `go install` (see README)"
    return found
