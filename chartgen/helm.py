"""The embedded Helm v4 engine (helm-python-sdk): lint and render a chart in-process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartgen.errors import RenderError

RELEASE = "sessions"
NAMESPACE = "session-db"


@dataclass(frozen=True)
class RenderedObject:
    """One Kubernetes object as Helm rendered it, with the template that produced it."""

    template: str
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.body.get("metadata", {}).get("name", ""))


def values_file(chart_dir: Path, environment: str | None) -> dict[str, Any]:
    """The values of values-<environment>.yaml (empty for the defaults)."""
    import helm_python

    if environment is None:
        return {}
    text = (chart_dir / f"values-{environment}.yaml").read_text("utf-8")
    values: dict[str, Any] = helm_python.values_from_yaml(text)
    return values


def render(
    chart_dir: Path,
    environment: str | None = None,
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    extra: dict[str, Any] | None = None,
) -> list[RenderedObject]:
    """Render the chart for one environment like `helm template`, in a stable order."""
    import helm_python

    values = values_file(chart_dir, environment)
    if extra:
        values = _deep_merge(values, extra)
    try:
        with helm_python.Chart.load(str(chart_dir)) as chart:
            manifests = chart.render(
                values=values, name=release, namespace=namespace, is_install=True
            )
    except helm_python.HelmError as exc:
        raise RenderError(
            f"helm render of {chart_dir} ({environment or 'defaults'}): {exc}"
        ) from None
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    objects = []
    for template, text in sorted(manifests.items()):
        if not template.endswith((".yaml", ".yml")):
            continue
        for body in yaml.load_all(text):
            if body:
                objects.append(RenderedObject(template.split("/", 1)[1], body))
    return objects


def lint(chart_dir: Path, environment: str | None = None, *, strict: bool = True) -> dict[str, Any]:
    """`helm lint` of the chart with one environment's values."""
    import helm_python

    report: dict[str, Any] = helm_python.lint(
        str(chart_dir), values_file(chart_dir, environment), strict=strict, namespace=NAMESPACE
    )
    return report


def _deep_merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    merged = dict(left)
    for key, value in right.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def render_cli(
    helm_binary: str,
    chart_dir: Path,
    environment: str | None = None,
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
) -> list[RenderedObject]:
    """Render with a Helm v3 CLI (`helm template`), as ArgoCD does."""
    import subprocess

    command = [helm_binary, "template", release, str(chart_dir), "--namespace", namespace]
    if environment is not None:
        command += ["--values", str(chart_dir / f"values-{environment}.yaml")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RenderError(f"helm template ({environment or 'defaults'}): {result.stderr.strip()}")
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    objects = []
    for chunk in result.stdout.split("\n---\n"):
        source = next(
            (
                line.split(": ", 1)[1]
                for line in chunk.splitlines()
                if line.startswith("# Source: ")
            ),
            "",
        )
        body = yaml.load(chunk)
        if body:
            objects.append(RenderedObject(source.split("/", 1)[1] if source else "", body))
    return sorted(objects, key=lambda o: o.template)
