"""kubeconform through a subprocess: strict, local schemas only (never the network), parallel
workers, JSON output parsed back into per-object findings."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from chartgen.engines.helm import RenderedObject
from chartgen.engines.kube_schema import schema_root
from chartgen.engines.tools import run_tool
from chartgen.errors import ToolError, UsageError

# Bump when the layout of the prepared schemas changes, so old caches are not reused.
_LAYOUT = "standalone-1"
_DEFINITION_REF = re.compile(r'"#/\$defs/([^"]+)"')


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    from importlib.metadata import version

    return Path(base) / "chartgen" / "kubeconform" / f"{version('kubernetes-validate')}-{_LAYOUT}"


def _standalone(text: str, definitions: dict[str, Any], encoded: dict[str, str]) -> str:
    """One kind's schema with the definitions it reaches copied in, so that it is self-contained.

    kubeconform compiles every schema it loads; pointing 40 kinds at the shared 0.8-1.3 MB
    _definitions.json makes each run parse it again per kind (0.4-0.7 s), while the reachable
    subset compiles in a few milliseconds.
    """
    reached: set[str] = set()
    pending = _DEFINITION_REF.findall(text)
    while pending:
        name = pending.pop()
        if name not in reached:
            reached.add(name)
            pending.extend(_DEFINITION_REF.findall(encoded[name]))
    schema = json.loads(text)
    schema.pop("$id", None)
    schema["$defs"] = {name: definitions[name] for name in sorted(reached)}
    return json.dumps(schema)


def prepare_schemas(version: str) -> Path:
    """kubeconform-ready, self-contained copies of the schemas kubernetes-validate ships.

    Its files carry `$id`s on kubernetes.io and absolute `/api/_definitions.json` refs, which
    kubeconform would resolve over the network; the copies drop the ids and carry their own
    definitions, so every lookup stays on this machine. Prepared once per version, atomically.
    """
    folder = f"v{version}-local-strict"
    target = _cache_root() / folder
    if target.is_dir():
        return _cache_root()
    source = schema_root() / folder
    if not source.is_dir():
        raise UsageError(f"kubernetes-validate ships no schemas for Kubernetes {version}")
    shared = json.loads((source / "_definitions.json").read_text("utf-8"))
    definitions: dict[str, Any] = shared["$defs"]
    encoded = {name: json.dumps(body) for name, body in definitions.items()}
    _cache_root().mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder}-", dir=_cache_root()))
    for path in source.glob("*.json"):
        if path.name == "_definitions.json":
            continue
        text = path.read_text("utf-8").replace('"/api/_definitions.json#', '"#')
        (staging / path.name).write_text(_standalone(text, definitions, encoded), "utf-8")
    try:
        os.replace(staging, target)
    except OSError:  # another run prepared it first
        shutil.rmtree(staging, ignore_errors=True)
    return _cache_root()


def schema_location(root: Path) -> str:
    return (
        f"{root}/{{{{ .NormalizedKubernetesVersion }}}}-local-strict/"
        "{{ .ResourceKind }}{{ .KindSuffix }}.json"
    )


def run_kubeconform(binary: str, files: list[Path], version: str) -> list[dict[str, Any]]:
    """kubeconform's verdict for each file (resource entries of its JSON output)."""
    command = [
        binary,
        "-strict",
        "-output",
        "json",
        "-verbose",
        "-summary",
        "-n",
        str(max(2, os.cpu_count() or 2)),
        "-kubernetes-version",
        version,
        "-schema-location",
        schema_location(prepare_schemas(version)),
        *map(str, files),
    ]
    result = run_tool(command, 300)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        output = (result.stderr.strip() or result.stdout.strip() or "no output")[:2000]
        raise ToolError(
            f"kubeconform ({binary}) exited {result.returncode} without a JSON report: {output}"
        ) from None
    resources: list[dict[str, Any]] = report.get("resources") or []
    return resources


_CAUSE = re.compile(r"at '(?P<path>[^']*)': (?P<message>.*?)(?=\s+- at '|$)")


def _causes(message: str) -> list[tuple[str, str]]:
    """The leaf errors of kubeconform's message; the "validation failed" wrappers dropped."""
    causes = []
    for match in _CAUSE.finditer(message):
        text = match.group("message").strip()
        if text != "validation failed":
            path = ".".join(p for p in match.group("path").split("/") if p)
            causes.append((path, text))
    return causes


def validate_with_kubeconform(
    binary: str, objects: list[RenderedObject], version: str
) -> list[list[tuple[str, str]]]:
    """(dotted path, message) findings per object, in the order of `objects`."""
    if not objects:
        return []  # kubeconform with no files reads stdin
    with tempfile.TemporaryDirectory(prefix="chartgen-kubeconform-") as folder:
        files = []
        for index, obj in enumerate(objects):
            path = Path(folder) / f"{index:05d}.json"  # JSON is YAML, and far faster to write
            path.write_text(json.dumps(obj.body), "utf-8")
            files.append(path)
        verdicts = run_kubeconform(binary, files, version)
    findings: list[list[tuple[str, str]]] = [[] for _ in objects]
    for entry in verdicts:
        index = int(Path(entry["filename"]).stem)
        status = entry.get("status")
        if status in {"statusValid", "statusSkipped"}:
            continue
        causes = _causes(str(entry.get("msg", "")))
        if causes:
            findings[index].extend(causes)
        else:
            message = str(entry.get("msg", status))
            if status == "statusMissingSchema":
                message = f"no schema: {message}"
            findings[index].append(("", message))
    return findings
