"""Package the chart with the embedded Helm engine, byte for byte the same for the same content.

Helm writes each file's modification time and mode into the archive, so two packages of the same
chart differ after `chartgen build` rewrites the files or a checkout changes the umask. The chart
is copied to a staging folder with one fixed time and normalised modes before packaging.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from chartgen.errors import OutputError, RenderError

# 1980-01-01T00:00:00Z: the oldest time every archive format (zip, tar, gzip) can hold.
FIXED_MTIME = 315532800


def sha256_of(path: Path) -> str:
    """The hex digest Helm's index.yaml records for an archive."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _normalise(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):  # children before their folders
        if path.is_symlink():
            continue
        if path.is_dir():
            os.chmod(path, 0o755)
        else:
            executable = os.stat(path).st_mode & 0o111
            os.chmod(path, 0o755 if executable else 0o644)
        os.utime(path, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
    os.utime(root, (FIXED_MTIME, FIXED_MTIME))


def package(chart_dir: Path, staging: Path) -> Path:
    """`helm package` of a normalised copy of `chart_dir`; the archive lands in `staging`."""
    import helm_python

    source = staging / "chart" / chart_dir.name
    try:
        shutil.copytree(chart_dir, source, symlinks=True)
    except OSError as exc:
        raise OutputError(f"cannot copy {chart_dir} to package it: {exc}") from None
    _normalise(source)
    try:
        archive = helm_python.package(str(source), destination=str(staging))
    except helm_python.HelmError as exc:
        raise RenderError(f"helm package {chart_dir}: {exc}") from None
    return Path(archive)
