"""The embedded Helm v4 engine (helm-python-sdk): lint and render a chart in-process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chartgen.engines.tools import run_tool
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

    @property
    def namespace(self) -> str:
        return str(self.body.get("metadata", {}).get("namespace", ""))


def values_file(chart_dir: Path, environment: str | None) -> dict[str, Any]:
    """The values of values-<environment>.yaml (empty for the defaults)."""
    import helm_python

    if environment is None:
        return {}
    text = (chart_dir / f"values-{environment}.yaml").read_text("utf-8")
    values: dict[str, Any] = helm_python.values_from_yaml(text)
    return values


def merged_values(chart_dir: Path, environment: str | None) -> dict[str, Any]:
    """values.yaml with values-<environment>.yaml over it, as Helm merges them."""
    import helm_python

    defaults: dict[str, Any] = helm_python.values_from_yaml(
        (chart_dir / "values.yaml").read_text("utf-8")
    )
    return _deep_merge(defaults, values_file(chart_dir, environment))


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
    objects = []
    for template, text in sorted(manifests.items()):
        if not template.endswith((".yaml", ".yml")):
            continue
        objects += _parse(template.split("/", 1)[1], text, environment)
    return objects


def _parse(template: str, text: str, environment: str | None) -> list[RenderedObject]:
    """The objects of one rendered template, read as Kubernetes reads them; output that
    Kubernetes cannot read is a render error."""
    from chartgen.engines.manifests import ManifestError, load_objects

    try:
        return [RenderedObject(template, body) for body in load_objects(text)]
    except ManifestError as exc:
        where = f":{exc.line}" if exc.line is not None else ""
        raise RenderError(
            f"{template}{where} ({environment or 'defaults'}) renders invalid YAML: {exc}"
        ) from None


def lint(
    chart_dir: Path,
    environment: str | None = None,
    *,
    strict: bool = True,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`helm lint` of the chart with one environment's values (and `extra`, as --set would)."""
    import helm_python

    values = _deep_merge(values_file(chart_dir, environment), extra or {})
    report: dict[str, Any] = helm_python.lint(
        str(chart_dir), values, strict=strict, namespace=NAMESPACE
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
    extra: dict[str, Any] | None = None,
) -> list[RenderedObject]:
    """Render with a Helm v3 CLI (`helm template`), as ArgoCD does; `extra` values are given
    as one more values file (JSON), after the environment's."""
    import json
    import tempfile

    # ArgoCD passes the cluster's version; a go-installed helm defaults to v1.20, below the
    # chart's kubeVersion. The templates do not read Capabilities, so the value is neutral.
    command = [
        helm_binary,
        "template",
        release,
        str(chart_dir),
        "--namespace",
        namespace,
        "--kube-version",
        "1.25.0",
    ]
    if environment is not None:
        command += ["--values", str(chart_dir / f"values-{environment}.yaml")]
    with tempfile.TemporaryDirectory(prefix="chartgen-helm-") as folder:
        if extra:
            extra_file = Path(folder) / "extra.json"
            extra_file.write_text(json.dumps(extra), "utf-8")
            command += ["--values", str(extra_file)]
        result = run_tool(command, 120)
    if result.returncode != 0:
        output = result.stderr.strip() or "no output"
        raise RenderError(
            f"helm template ({environment or 'defaults'}) exited {result.returncode}: {output}"
        )
    from chartgen.engines.manifests import documents

    objects = []
    for _, chunk in documents(result.stdout):
        source = next(
            (
                line.split(": ", 1)[1]
                for line in chunk.splitlines()
                if line.startswith("# Source: ")
            ),
            "",
        )
        objects += _parse(source.split("/", 1)[1] if source else "", chunk, environment)
    return sorted(objects, key=lambda o: o.template)
