"""index.yaml of a Helm chart repository: read as Helm reads it, merge one new entry, write it
deterministically.

The new entry's fields come from the embedded engine (`helm repo index` of the new archive
alone), so they are exactly what Helm would write. Earlier entries are kept as they are,
`created` included; `generated` changes only when the index does. Entries are sorted by name and,
per chart, newest version first (Helm's order). Every string is written double-quoted, so no
reader (YAML 1.1 or 1.2) can take a version, a date or `yes` for anything but a string.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartgen.errors import OutputError

INDEX = "index.yaml"
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


@dataclass(frozen=True)
class Published:
    """What the index says about one chart version."""

    version: str
    digest: str
    urls: tuple[str, ...]


def load(repo_dir: Path) -> dict[str, Any]:
    """The repository's index, or an empty one; a damaged index is an error, never replaced."""
    import helm_python

    path = repo_dir / INDEX
    if not path.exists():
        return {"apiVersion": "v1", "entries": {}}
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputError(f"{path}: cannot read the repository index: {exc}") from None
    try:
        index: Any = helm_python.values_from_yaml(text)
    except helm_python.HelmError as exc:
        detail = str(exc).removeprefix("error converting YAML to JSON: ")
        where = re.match(r"yaml: line (\d+): (.*)", detail)
        place, detail = (f"{path}:{where[1]}", where[2]) if where else (str(path), detail)
        raise OutputError(f"{place}: not a readable index: {detail}; fix or remove it") from None
    if not isinstance(index, dict) or not isinstance(index.get("entries", {}), dict):
        raise OutputError(f"{path}:1:1: entries: not a Helm repository index")
    index.setdefault("entries", {})
    return index


def find(index: dict[str, Any], name: str, version: str) -> Published | None:
    for entry in index["entries"].get(name) or []:
        if str(entry.get("version")) == version:
            urls = tuple(str(u) for u in entry.get("urls") or ())
            return Published(version, str(entry.get("digest", "")), urls)
    return None


def new_entry(archive: Path, base_url: str | None) -> dict[str, Any]:
    """The entry `helm repo index` writes for `archive` (alone in a scratch folder)."""
    import helm_python

    with tempfile.TemporaryDirectory(prefix="chartgen-index-") as scratch:
        (Path(scratch) / archive.name).symlink_to(archive.resolve())
        generated = helm_python.repo_index_generate(scratch, base_url=base_url)
    [entries] = generated["entries"].values()
    entry: dict[str, Any] = entries[0]
    return entry


def _semver_key(version: str) -> tuple[Any, ...]:
    """Semantic-version order (pre-releases before their release); unparsable last."""
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+.*)?$", version)
    if not match:
        return (0, (), 0, (), version)
    pre = match.group(4)
    idents = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in (pre or "").split("."))
    numbers = tuple(int(match.group(i)) for i in (1, 2, 3))
    return (1, numbers, 0 if pre else 1, idents if pre else (), version)


def merge(index: dict[str, Any], entry: dict[str, Any], created: str) -> dict[str, Any]:
    """`index` with `entry` added (stamped `created`); other entries untouched."""
    entries = {name: list(versions or []) for name, versions in index["entries"].items()}
    stamped = {**entry, "created": created}
    entries.setdefault(str(entry["name"]), []).append(stamped)
    for versions in entries.values():
        versions.sort(key=lambda e: _semver_key(str(e.get("version", ""))), reverse=True)
    return {
        **index,
        "apiVersion": index.get("apiVersion", "v1"),
        "entries": entries,
        "generated": created,
    }


def _key(key: str) -> str:
    if _PLAIN_KEY.match(key) and key.lower() not in _YAML11_WORDS:
        return key
    return json.dumps(key, ensure_ascii=False)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)


def _emit(value: Any, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, dict):
        for key in sorted(value):
            item = value[key]
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{_key(str(key))}:")
                _emit(item, indent + 2, lines)
            else:
                lines.append(f"{pad}{_key(str(key))}: {_inline(item)}")
    else:
        for item in value:
            if isinstance(item, dict | list) and item:
                child: list[str] = []
                _emit(item, indent + 2, child)
                lines.append(f"{pad}- {child[0].lstrip()}")
                lines.extend(child[1:])
            else:
                lines.append(f"{pad}- {_inline(item)}")


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def dump(index: dict[str, Any]) -> bytes:
    """The index as YAML: sorted keys, every string quoted; the same index, the same bytes."""
    lines: list[str] = []
    _emit(index, 0, lines)
    return ("\n".join(lines) + "\n").encode("utf-8")
