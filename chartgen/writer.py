"""Stage 5: write the chart atomically, or compare it (--check).

The chart is written to a temporary sibling directory and swapped in with one atomic
renameat2(RENAME_EXCHANGE); where that call is missing, two renames and a recovery step on the
next run give the same guarantee: a killed build never leaves a half-written chart.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from chartgen.errors import OutputError

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@dataclass(frozen=True)
class Drift:
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    extra: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not (self.changed or self.missing or self.extra)


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` by relative POSIX path."""
    if not root.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def compare(files: Mapping[str, bytes], out_dir: Path) -> Drift:
    """What differs between the rendered chart and the one on disk."""
    try:
        on_disk = read_tree(out_dir)
    except OSError as exc:
        raise OutputError(f"cannot read {out_dir}: {exc.strerror}") from None
    return Drift(
        changed=tuple(p for p in files if p in on_disk and on_disk[p] != files[p]),
        missing=tuple(p for p in files if p not in on_disk),
        extra=tuple(p for p in sorted(on_disk) if p not in files),
    )


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories; False where the kernel or libc lacks renameat2."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    if ctypes.get_errno() in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: not supported here
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(a))


def _recover(out_dir: Path, old: Path) -> None:
    """Finish or undo a swap that a killed run left half done."""
    if old.exists() and not out_dir.exists():
        os.replace(old, out_dir)
    elif old.exists():
        shutil.rmtree(old)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stage(files: Mapping[str, bytes], out_dir: Path, executable: bool = False) -> Path:
    """Write `files` to the temporary sibling of `out_dir`, synced; return it. With
    `executable`, files that start with `#!` get mode 0755 (scripts a user runs by path)."""
    parent = out_dir.parent
    new = parent / f".{out_dir.name}.chartgen-new"
    old = parent / f".{out_dir.name}.chartgen-old"
    parent.mkdir(parents=True, exist_ok=True)
    _recover(out_dir, old)
    if new.exists():
        shutil.rmtree(new)
    for rel, data in files.items():
        target = new / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if executable and data.startswith(b"#!"):
            target.chmod(0o755)
    new.mkdir(exist_ok=True)
    _fsync_dir(new)
    return new


def _swap(new: Path, out_dir: Path) -> None:
    parent = out_dir.parent
    old = parent / f".{out_dir.name}.chartgen-old"
    if out_dir.exists() and _exchange(new, out_dir):
        shutil.rmtree(new)  # now holds the previous tree
    else:
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(new, out_dir)
        if old.exists():
            shutil.rmtree(old)
    _fsync_dir(parent)


def generated_tree(out_dir: Path, note: str) -> bool:
    """Whether `out_dir` exists and every file in it carries `note`: a tree an earlier build
    wrote, which a build may remove without losing anything a person wrote."""
    try:
        files = read_tree(out_dir)
    except OSError:
        return False
    marker = note.encode()
    return bool(files) and all(marker in data for data in files.values())


def remove_atomically(out_dir: Path) -> None:
    """Make `out_dir` disappear at once (renamed aside, then deleted)."""
    old = out_dir.parent / f".{out_dir.name}.chartgen-old"
    try:
        if old.exists():
            shutil.rmtree(old)
        os.replace(out_dir, old)
        _fsync_dir(out_dir.parent)
        shutil.rmtree(old)
    except OSError as exc:
        raise OutputError(f"cannot remove {out_dir}: {exc.strerror or exc}") from None


def write_atomically(files: Mapping[str, bytes], out_dir: Path) -> None:
    """Replace `out_dir` with exactly `files`, all at once."""
    write_trees_atomically({out_dir: files})


def write_trees_atomically(
    trees: Mapping[Path, Mapping[str, bytes]], executable: Collection[Path] = ()
) -> None:
    """Replace each directory with exactly its files. Every tree is staged (written and synced)
    before the first swap, so a failure while writing changes none of them; each swap is
    atomic on its own. The trees in `executable` hold scripts run by path (see _stage)."""
    out_dir = next(iter(trees), Path("."))
    try:
        staged = []
        for out_dir, files in trees.items():
            staged.append((_stage(files, out_dir, out_dir in executable), out_dir))
        for new, out_dir in staged:
            _swap(new, out_dir)
    except OSError as exc:
        raise OutputError(f"cannot write {out_dir}: {exc.strerror or exc}") from None
