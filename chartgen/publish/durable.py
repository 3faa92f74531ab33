"""Crash-safe file placement in the repository directory.

Every file is written to a temporary name in the same directory, fsynced, renamed into place and
the directory fsynced: after a crash a name holds either its old content or its new one, never a
partial file. Temporary names share one prefix so the next publish can remove leftovers.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TEMP_PREFIX = ".chartgen-publish-"


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def place(data: bytes, target: Path) -> None:
    """Write `data` to `target` atomically and durably."""
    fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)  # mkstemp's 0600 would hide the file from a web server
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_dir(target.parent)


def remove_leftovers(directory: Path) -> list[str]:
    """Temporary files a killed publish left behind (never named by the index)."""
    removed = []
    for path in sorted(directory.glob(f"{TEMP_PREFIX}*")):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path.name)
    return removed
