#!/usr/bin/env python3
"""Derive the JSON Schemas of the `crd-schema` check from the upstream CRDs in tests/crds/.

One draft-07 schema per kind and served version, at schemas/crds/<group>/<kind>_<version>.json,
translating each version's `openAPIV3Schema` into what the API server enforces for a create or a
server-side apply with `fieldValidation=Strict`:

- an object is closed (`additionalProperties: false`) unless it declares a map
  (`additionalProperties`) or `x-kubernetes-preserve-unknown-fields`: the server reports every
  field its schema lacks as unknown, and Strict turns that into an error;
- `nullable: true` adds "null" to the type; elsewhere a null is refused, as a server-side
  apply refuses it (tests/kube/test_crd_schemas.py shows both);
- `x-kubernetes-int-or-string` becomes integer or string; enums, patterns, bounds, `required`
  and `format` (the server checks `byte`, `date-time` and the int32/int64 ranges) are kept;
- metadata is ObjectMeta as the server validates it for a custom resource; apiVersion and kind
  are constants;
- `x-kubernetes-validations` (CEL) are recorded but not enforced (JSON Schema cannot evaluate
  CEL): the check does not see them, the server does;
- descriptions are dropped (they are most of the upstream size; the CRD keeps them).

    python3 scripts/derive_crd_schemas.py           # (re)write schemas/crds/
    python3 scripts/derive_crd_schemas.py --check   # exit 1 when the committed files differ
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chartgen.engines.manifests import load_objects  # noqa: E402

CRDS = ROOT / "tests" / "crds"
OUT = ROOT / "chartgen" / "schemas" / "crds"
README = OUT / "README.md"

# Keywords of a structural schema kept as they are (value validations and annotations).
_KEEP = (
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "required",
    "default",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
)
# ObjectMeta as the API server validates a custom resource's metadata (apimachinery's
# ValidateObjectMeta): a DNS-1123 subdomain name, label values of at most 63 characters.
_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
_QUALIFIED_NAME = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def object_meta(namespaced: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "name": {"type": "string", "maxLength": 253, "pattern": _DNS_SUBDOMAIN},
        "generateName": {"type": "string"},
        "labels": {
            "type": "object",
            "propertyNames": {"maxLength": 316, "pattern": _QUALIFIED_NAME},
            "additionalProperties": {"type": "string", "maxLength": 63, "pattern": _LABEL_VALUE},
        },
        "annotations": {
            "type": "object",
            "propertyNames": {"maxLength": 316, "pattern": _QUALIFIED_NAME},
            "additionalProperties": {"type": "string"},
        },
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer"},
        "creationTimestamp": {"type": ["string", "null"]},
        "deletionTimestamp": {"type": ["string", "null"]},
        "deletionGracePeriodSeconds": {"type": "integer"},
        "managedFields": {"type": "array", "items": {"type": "object"}},
        "selfLink": {"type": "string"},
    }
    if namespaced:
        properties["namespace"] = {"type": "string", "maxLength": 63, "pattern": _DNS_LABEL}
    return {"type": "object", "additionalProperties": False, "properties": properties}


def translate(node: dict[str, Any]) -> dict[str, Any]:
    """One structural-schema node as JSON Schema with the server's Strict semantics."""
    out: dict[str, Any] = {}
    kind = node.get("type")
    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    if node.get("x-kubernetes-int-or-string"):
        out["x-kubernetes-int-or-string"] = True
        out["type"] = ["integer", "string"]
    elif kind:
        out["type"] = kind
    if node.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    if node.get("format"):
        out["format"] = node["format"]
    for key in _KEEP:
        if key in node:
            out[key] = node[key]
    if "properties" in node:
        out["properties"] = {k: translate(v) for k, v in sorted(node["properties"].items())}
    if "items" in node:
        out["items"] = translate(node["items"])
    additional = node.get("additionalProperties")
    if isinstance(additional, dict):
        out["additionalProperties"] = translate(additional)
    elif additional is not None:
        out["additionalProperties"] = bool(additional)
    elif kind == "object" and not preserve:
        out["additionalProperties"] = False
    for combinator in ("allOf", "anyOf", "oneOf"):
        if combinator in node:
            out[combinator] = [translate(branch) for branch in node[combinator]]
    if "not" in node:
        out["not"] = translate(node["not"])
    return out


def _canonical(node: Any) -> str:
    return json.dumps(node, sort_keys=True, separators=(",", ":"))


def _children(node: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(name hint, sub-schema) of every schema directly below a schema node."""
    for name, sub in node.get("properties", {}).items():
        yield name, sub
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            yield key, node[key]
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key, []):
            yield key, sub


def _rebuild(node: dict[str, Any], change: Any) -> dict[str, Any]:
    """`node` with each sub-schema replaced by change(hint, sub)."""
    out = dict(node)
    if "properties" in node:
        out["properties"] = {k: change(k, v) for k, v in node["properties"].items()}
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            out[key] = change(key, node[key])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in node:
            out[key] = [change(key, v) for v in node[key]]
    return out


def share(schema: dict[str, Any], minimum: int = 2048) -> dict[str, Any]:
    """Sub-schemas repeated within one schema (ApplicationSet nests the Application template in
    every generator) move to `definitions` and are referenced, so each file stays
    self-contained at a fraction of the size."""
    counts: dict[str, int] = {}

    def count(node: dict[str, Any]) -> None:
        text = _canonical(node)
        if len(text) >= minimum:
            counts[text] = counts.get(text, 0) + 1
        for _, sub in _children(node):
            count(sub)

    count(schema)
    names: dict[str, str] = {}
    definitions: dict[str, Any] = {}

    def replace(hint: str, node: dict[str, Any]) -> dict[str, Any]:
        text = _canonical(node)
        if counts.get(text, 0) > 1:
            if text not in names:
                name = f"{hint}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
                names[text] = name
                definitions[name] = _rebuild(node, replace)
            return {"$ref": f"#/definitions/{names[text]}"}
        return _rebuild(node, replace)

    shared = _rebuild(schema, replace)
    if definitions:
        shared["definitions"] = dict(sorted(definitions.items()))
    return shared


def derive(crd: dict[str, Any], version: dict[str, Any], source: Path) -> dict[str, Any]:
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    api_version = f"{group}/{version['name']}"
    namespaced = crd["spec"]["scope"] == "Namespaced"
    body = translate(version["schema"]["openAPIV3Schema"])
    properties = body.setdefault("properties", {})
    properties["apiVersion"] = {"const": api_version}
    properties["kind"] = {"const": kind}
    properties["metadata"] = object_meta(namespaced)
    body["required"] = sorted({"apiVersion", "kind", "metadata", *body.get("required", [])})
    provenance = _provenance(source)
    schema: dict[str, Any] = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"{kind} ({api_version})",
        "x-provenance": {
            **provenance,
            "scope": crd["spec"]["scope"],
            "deprecated": bool(version.get("deprecated", False)),
            "derivedBy": "scripts/derive_crd_schemas.py (descriptions dropped; CEL not enforced)",
        },
        **body,
    }
    schema["properties"]["metadata"]["required"] = ["name"]
    shared = share(schema)
    assert _expand(shared, shared.get("definitions", {})) == schema, f"sharing changed {kind}"
    return shared


def _expand(node: Any, definitions: dict[str, Any]) -> Any:
    """`node` with every `$ref` replaced by its definition (and no `definitions`)."""
    if isinstance(node, dict):
        if set(node) == {"$ref"}:
            return _expand(definitions[node["$ref"].rsplit("/", 1)[1]], definitions)
        return {k: _expand(v, definitions) for k, v in node.items() if k != "definitions"}
    if isinstance(node, list):
        return [_expand(v, definitions) for v in node]
    return node


def _provenance_table() -> dict[str, dict[str, str]]:
    """tests/crds/PROVENANCE.md's table: folder -> project, tag, commit, upstream path."""
    rows: dict[str, dict[str, str]] = {}
    for line in (CRDS / "PROVENANCE.md").read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("folder", "") or set(cells[0]) <= {"-"}:
            continue
        commit = re.match(r"[0-9a-f]{40}", cells[3])
        rows[cells[0]] = {
            "project": cells[1],
            "tag": cells[2],
            "commit": commit.group(0) if commit else cells[3],
            "upstreamDir": cells[4],
        }
    return rows


def _provenance(source: Path) -> dict[str, str]:
    row = _provenance_table()[source.parent.name]
    return {
        "project": row["project"],
        "tag": row["tag"],
        "commit": row["commit"],
        "upstreamPath": f"{row['upstreamDir']}/{source.name}",
        "sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "vendored": source.relative_to(ROOT).as_posix(),
    }


def render_all() -> dict[str, str]:
    """Relative path under schemas/crds/ -> file text, for every served version."""
    files: dict[str, str] = {}
    rows: list[tuple[str, str, str, str, str]] = []
    for source in sorted(CRDS.glob("*/*.yaml")):
        for crd in load_objects(source.read_text("utf-8")):
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            group = crd["spec"]["group"]
            kind = crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if not version.get("served"):
                    continue
                schema = derive(crd, version, source)
                rel = f"{group}/{kind.lower()}_{version['name']}.json"
                files[rel] = json.dumps(schema, indent=1, sort_keys=False) + "\n"
                prov = schema["x-provenance"]
                rows.append((kind, f"{group}/{version['name']}", prov["project"], prov["tag"], rel))
    files["README.md"] = _readme(sorted(rows), files)
    return dict(sorted(files.items()))


def _readme(rows: list[tuple[str, str, str, str, str]], files: dict[str, str]) -> str:
    table = "\n".join(
        f"| {kind} | {gv} | {project} {tag} | `{rel}` | {len(files[rel]) // 1024} KiB |"
        for kind, gv, project, tag, rel in rows
    )
    return f"""# CRD schemas used by `chartgen validate` (check `crd-schema`)

Generated by `scripts/derive_crd_schemas.py` from the unmodified upstream CRDs in `tests/crds/`
(see `tests/crds/PROVENANCE.md`); do not edit by hand. `python3 scripts/derive_crd_schemas.py
--check` fails when these files differ from a fresh derivation.

One JSON Schema (draft-07) per kind and **served** version, at `<group>/<kind>_<version>.json`,
self-contained. Each records `x-provenance`: project, release tag, commit, upstream path, the
sha256 of the vendored CRD file and whether the version is deprecated.

The translation follows what the API server enforces with `fieldValidation=Strict`: objects are
closed (unknown fields rejected) unless upstream declares a map or
`x-kubernetes-preserve-unknown-fields`; `x-kubernetes-int-or-string`, `nullable`, enums, patterns,
bounds, `required` and the formats the server checks (`byte`, `date-time`, the int32 and int64
ranges; `chartgen/validate/checks/crd_schema.py` checks them) are kept; metadata is
ObjectMeta (DNS-subdomain name, label keys and values, string annotations); apiVersion and kind
are constants. Descriptions are dropped (the CRD has them).

**Not enforced here:** `x-kubernetes-validations` (CEL rules). They are copied into the
schema under that key so a reader sees them, but JSON Schema cannot evaluate CEL: an object that
breaks only a CEL rule passes `crd-schema` and is refused by the API server
(`tests/kube/test_crd_schemas.py` asserts such cases as known differences). List uniqueness
(`x-kubernetes-list-type: set|map`) is recorded only. `status` is validated as written, while
the server ignores status values on the main resource (the chart never writes a status).

Agreement: `tests/kube/test_crd_schemas.py` gives every kind good and broken objects (unknown,
nested and metadata fields, wrong types, missing required fields, enums, int-or-string,
patterns, int32 range, null), the chart's custom resources of every environment and the
generated Argo CD objects, and asserts the same verdict from these schemas and from a real
kube-apiserver with these CRDs (server-side apply dry-run, `fieldValidation=Strict`).

| kind | group/version | upstream | file | size |
|---|---|---|---|---|
{table}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 on drift")
    parser.add_argument("--out", type=Path, default=OUT, help="default: chartgen/schemas/crds")
    args = parser.parse_args()
    out: Path = args.out
    files = render_all()
    on_disk = {
        p.relative_to(out).as_posix(): p.read_text("utf-8") for p in out.rglob("*") if p.is_file()
    }
    stale = sorted(p for p in files.keys() | on_disk.keys() if files.get(p) != on_disk.get(p))
    if args.check:
        for path in stale:
            print(f"{out / path}: differs from the derivation", file=sys.stderr)
        return 1 if stale else 0
    for path in on_disk.keys() - files.keys():
        (out / path).unlink()
    for path, text in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
    print(f"{len(files) - 1} schemas written to {out} ({len(stale)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
