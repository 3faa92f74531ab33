"""Rendered manifests read as Kubernetes reads them.

The API server, kubectl, Helm and Argo CD decode YAML with sigs.k8s.io/yaml (go-yaml v2 rules):
`0555` is octal (365), `yes`/`no`/`on`/`off`/`y`/`n` are booleans, `0o17` is 15, while `1:20`
(a YAML 1.1 sexagesimal) and dates stay strings. A YAML 1.2 reader gets several of these wrong
and a plain YAML 1.1 reader others, so each document is decoded by that same Go code, through the
embedded Helm engine's `values_from_yaml`, instead of by a Python YAML library.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_DOCUMENT_MARKER = re.compile(r"^---[ \t]*$\n?", re.MULTILINE)
_GO_LINE = re.compile(r"line (\d+)")


class ManifestError(ValueError):
    """A document that Kubernetes could not read; `line` is 1-based within the whole text."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line


def documents(text: str) -> Iterator[tuple[int, str]]:
    """(first line, text) of every non-empty document; a marker line never eats the newline
    that ends a block scalar."""
    line = 1
    position = 0
    for marker in _DOCUMENT_MARKER.finditer(text):
        chunk = text[position : marker.start()]
        if chunk.strip():
            yield line, chunk
        line += chunk.count("\n") + marker.group(0).count("\n")
        position = marker.end()
    rest = text[position:]
    if rest.strip():
        yield line, rest


def _is_blank(chunk: str) -> bool:
    return all(not row.strip() or row.lstrip().startswith("#") for row in chunk.splitlines())


def load_objects(text: str) -> list[dict[str, Any]]:
    """Every object of a multi-document manifest, decoded as Kubernetes decodes it."""
    import helm_python

    objects = []
    for first_line, chunk in documents(text):
        if _is_blank(chunk):
            continue
        try:
            body = helm_python.values_from_yaml(chunk)
        except helm_python.HelmError as exc:
            message = str(exc).removeprefix("error converting YAML to JSON: ")
            found = _GO_LINE.search(message)
            line = first_line + int(found.group(1)) - 1 if found else first_line
            if "cannot unmarshal" in message:
                message = "a document that is not an object (mapping)"
            raise ManifestError(line, message) from None
        if body:
            objects.append(body)
    return objects
