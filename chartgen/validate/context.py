"""What every check sees: one validation run's inputs and its expensive artifacts (the resolved
spec, Helm lint reports, rendered objects), each computed once and shared."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chartgen.engines.helm import RenderedObject
from chartgen.engines.tools import Tools
from chartgen.errors import Location, Problem, SpecError
from chartgen.topology.load import SourceDoc, chart_name_of, display_path, load_yaml
from chartgen.topology.resolve import ValidatedSpec
from chartgen.validate.locate import TemplateLocator

if TYPE_CHECKING:
    from chartgen.engines.kube_api import Cluster

DEFAULTS = "defaults"  # the environment name of plain values.yaml

# An environment whose passwords come from Helm values renders only when they are given (as the
# guide's `--set redis.auth.password=...`): validate gives these, and the secret-material check
# proves they reach the Secret and nothing else.
PLACEHOLDER_REDIS_PASSWORD = "chartgen-validate-redis-password"
PLACEHOLDER_SENTINEL_PASSWORD = "chartgen-validate-sentinel-password"


def placeholder_passwords() -> dict[str, Any]:
    return {
        "redis": {
            "auth": {
                "password": PLACEHOLDER_REDIS_PASSWORD,
                "sentinel": {"password": PLACEHOLDER_SENTINEL_PASSWORD},
            }
        }
    }


@dataclass(frozen=True)
class ArgoObject:
    """One object of the generated Argo CD files (`body` None: the file could not be read)."""

    file: str
    body: dict[str, Any] | None
    doc: SourceDoc | None
    error: str = ""

    def location(self, path: tuple[str | int, ...]) -> Location:
        if self.doc is None:
            return Location(self.file, 1, 1)
        return self.doc.locate(path)


@dataclass
class ValidateContext:
    """One validation run. Checks read from it; none of them writes to it."""

    spec: Path
    chart_root: Path
    environments: tuple[str, ...] | None  # None: every environment the chart has
    kube_versions: tuple[str, ...]
    tools: Tools
    root: Path = field(default_factory=Path.cwd)
    cluster: Cluster | None = None  # `--server`: the cluster to dry-run against
    _futures: dict[tuple[str, str], Future[Any]] = field(default_factory=dict)
    _values: dict[str, dict[str, Any]] = field(default_factory=dict)

    @cached_property
    def validated(self) -> ValidatedSpec | SpecError:
        """The validated spec, or the SpecError it raised."""
        from chartgen.topology.resolve import resolve

        try:
            return resolve(self.spec, root=self.root)
        except SpecError as error:
            return error

    @cached_property
    def spec_doc(self) -> SourceDoc | None:
        """The spec as located YAML (for pointing findings at spec keys); None if unreadable."""
        doc = load_yaml(self.spec, display_path(self.spec, self.root))
        return None if isinstance(doc, Problem) else doc

    @cached_property
    def chart_name(self) -> str:
        return chart_name_of(self.spec_doc)

    @property
    def chart_dir(self) -> Path:
        return self.chart_root / self.chart_name

    @cached_property
    def environment_names(self) -> tuple[str, ...]:
        if self.environments is not None:
            return self.environments
        found = sorted(
            p.name[len("values-") : -len(".yaml")] for p in self.chart_dir.glob("values-*.yaml")
        )
        return (DEFAULTS, *found)

    @cached_property
    def locator(self) -> TemplateLocator:
        from chartgen.render.values import spec_sources

        return TemplateLocator(self.chart_dir, self.root, self.spec_doc, spec_sources())

    def _render(self, env: str) -> list[RenderedObject] | str:
        from chartgen.engines import helm
        from chartgen.errors import RenderError

        values_env = None if env == DEFAULTS else env
        extra = self.given_values(env)
        try:
            if self.tools.helm:
                return helm.render_cli(self.tools.helm, self.chart_dir, values_env, extra=extra)
            return helm.render(self.chart_dir, values_env, extra=extra)
        except RenderError as error:
            return str(error)

    def _lint(self, env: str) -> dict[str, Any]:
        from chartgen.engines import helm

        return helm.lint(
            self.chart_dir, None if env == DEFAULTS else env, extra=self.given_values(env)
        )

    def start_background_work(self, pool: Executor, lint: bool) -> None:
        """Start Helm lint and render of every environment on `pool`. The Helm engine runs
        outside the GIL, so this overlaps with the Python checks that run meanwhile."""
        for env in self.environment_names:
            self._futures[("render", env)] = pool.submit(self._render, env)
            if lint:
                self._futures[("lint", env)] = pool.submit(self._lint, env)

    def lint_report(self, env: str) -> dict[str, Any]:
        future = self._futures.get(("lint", env))
        report: dict[str, Any] = future.result() if future else self._lint(env)
        return report

    def values(self, env: str) -> dict[str, Any]:
        """The merged Helm values of one environment."""
        from chartgen.engines import helm

        if env not in self._values:
            self._values[env] = helm.merged_values(self.chart_dir, None if env == DEFAULTS else env)
        return self._values[env]

    def given_values(self, env: str) -> dict[str, Any]:
        """What the install command adds to the environment's values: placeholder passwords
        where the environment takes them from Helm values."""
        import helm_python

        try:
            values = self.values(env)
        except (OSError, helm_python.HelmError):
            return {}  # an unreadable values file: the render check reports it
        auth = values.get("auth") or {}
        given = ((values.get("redis") or {}).get("auth") or {}).get("password")
        return placeholder_passwords() if auth.get("source") == "values" and not given else {}

    @cached_property
    def renders(self) -> dict[str, list[RenderedObject] | str]:
        """Rendered objects per environment, or the render error's message."""
        results: dict[str, list[RenderedObject] | str] = {}
        for env in self.environment_names:
            future = self._futures.get(("render", env))
            results[env] = future.result() if future else self._render(env)
        return results

    def objects(self) -> Iterator[tuple[str, RenderedObject]]:
        """(environment, object) for every environment that rendered."""
        for env, result in self.renders.items():
            if not isinstance(result, str):
                for obj in result:
                    yield env, obj

    @property
    def argocd_dir(self) -> Path:
        """The Argo CD objects the build writes beside the chart (pipeline.BuildContext)."""
        return self.chart_root.parent / "k8s" / "argocd"

    @property
    def monitoring_dir(self) -> Path:
        """Rules and promtool tests per environment, as `chartgen build` writes them."""
        return self.chart_root.parent / "monitoring"

    @property
    def scripts_dir(self) -> Path:
        """The operator scripts `chartgen build` writes beside the chart (generated/scripts)."""
        return self.chart_root.parent / "scripts"

    @cached_property
    def argocd_objects(self) -> list[ArgoObject]:
        """Every object of generated/k8s/argocd/*.yaml, decoded as Kubernetes decodes it, with
        where each of its keys stands; a file that cannot be read is an object-less entry
        carrying the reason."""
        from chartgen.engines.manifests import ManifestError, load_objects

        found: list[ArgoObject] = []
        for path in sorted(self.argocd_dir.glob("*.yaml")):
            shown = display_path(path, self.root)
            doc = load_yaml(path, shown)
            try:
                bodies = load_objects(path.read_text("utf-8"))
            except (OSError, UnicodeDecodeError, ManifestError) as error:
                found.append(ArgoObject(shown, None, None, str(error)))
                continue
            for body in bodies:
                found.append(ArgoObject(shown, body, None if isinstance(doc, Problem) else doc))
        return found

    def chart_location(self, relative: str, line: int = 1, column: int = 1) -> Location:
        return self.locator.chart_location(relative, line, column)

    def problem(
        self, location: Location, key: str, message: str, severity: str = "error"
    ) -> Problem:
        """A finding of the running check; the runner stamps the check's id on it."""
        return Problem(location, key, message, "", severity)

    def object_problem(
        self,
        env: str,
        obj: RenderedObject,
        path: str,
        message: str,
        severity: str = "error",
        needle: str | None = None,
    ) -> Problem:
        """A problem about a rendered object, at the template line of the offending field (or of
        `needle` below it) and, where a Helm value sets that field, naming the spec key."""
        location, hint = self.locator.object_location(obj, path, needle)
        where = f"[{env}] {obj.kind}/{obj.name}"
        return self.problem(
            location, f"{where}.{path}" if path else where, message + hint, severity
        )
