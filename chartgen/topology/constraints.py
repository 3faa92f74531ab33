"""Value constraints the spec and the chart's values.schema.json share, with one definition: the
topology schema (schemas/topology.schema.json). The values schema is built from what this module
reads, so the two cannot drift apart."""

from __future__ import annotations

from typing import Any

from chartgen.topology.schema import topology_schema


def spec_property(path: tuple[str, ...]) -> dict[str, Any]:
    """The topology schema of the spec key at `path` (object properties only, `$ref` followed)."""
    node: dict[str, Any] = topology_schema()
    for part in path:
        node = resolve_ref(node["properties"][part])
    return node


def resolve_ref(node: dict[str, Any]) -> dict[str, Any]:
    """`node` with a local `$ref` (#/definitions/<name>) replaced by the schema it names; draft-07
    ignores a `$ref`'s siblings, so only the referenced schema constrains."""
    ref = node.get("$ref")
    if ref is None:
        return node
    prefix = "#/definitions/"
    if not isinstance(ref, str) or not ref.startswith(prefix):
        raise ValueError(f"unsupported $ref {ref!r}")
    target: dict[str, Any] = topology_schema()["definitions"][ref[len(prefix) :]]
    return target


def _quantity_pattern() -> str:
    (string,) = [
        b for b in topology_schema()["definitions"]["quantity"]["oneOf"] if b["type"] == "string"
    ]
    pattern: str = string["pattern"]
    return pattern


def spec_default(path: tuple[str, ...]) -> Any:
    """The schema's `default` for the optional spec key at `path`."""
    return spec_property(path)["default"]


# A Kubernetes quantity (250m, 2, 512Mi): resources and volume sizes.
QUANTITY_PATTERN: str = _quantity_pattern()
# Redis memory units (768mb, 4gb): redis.config.maxmemory.
MAXMEMORY_PATTERN: str = spec_property(("redis", "config", "maxmemory"))["pattern"]
# Redis eviction policies: redis.config.maxmemoryPolicy.
EVICTION_POLICIES: tuple[str, ...] = tuple(
    spec_property(("redis", "config", "maxmemoryPolicy"))["enum"]
)


def placeholder_spec() -> dict[str, Any]:
    """A spec of the schema's shape with every key present: defaults where the schema has them,
    otherwise a value of the right type (no other constraint holds). For what depends only on
    the spec's shape, e.g. which spec key sets which Helm value."""
    placeholder = _placeholder(topology_schema())
    assert isinstance(placeholder, dict)
    return placeholder


def _placeholder(node: dict[str, Any]) -> Any:
    node = resolve_ref(node)
    for keyword in ("default", "const"):
        if keyword in node:
            return node[keyword]
    if "enum" in node:
        return node["enum"][0]
    if "oneOf" in node:
        return _placeholder(node["oneOf"][0])
    kind = node["type"][0] if isinstance(node["type"], list) else node["type"]
    if kind == "object":
        return {key: _placeholder(child) for key, child in node.get("properties", {}).items()}
    return {"array": [], "string": "", "integer": 0, "number": 0, "boolean": False}[kind]
