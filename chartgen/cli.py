"""Command line: parse options, call one pipeline function, print, exit with a documented code.

Imports of the pipeline are deferred into the commands so `chartgen --help` stays fast.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from chartgen import __version__
from chartgen.errors import REPORT_BUG, ChartgenError, ExitCode, SpecError, UsageError


def _fail(error: ChartgenError) -> NoReturn:
    click.echo(str(error), err=True)
    if isinstance(error, SpecError):
        errors = sum(p.severity == "error" for p in error.problems)
        click.echo(f"{errors} error(s), {len(error.problems) - errors} warning(s)", err=True)
    sys.exit(int(error.exit_code))


def _internal(error: BaseException) -> NoReturn:
    """Anything that escaped the stages is chartgen's fault, never the user's input."""
    if os.environ.get("CHARTGEN_DEBUG"):
        traceback.print_exception(error)
    where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    place = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    click.echo(f"internal error: {type(error).__name__}: {error}{place}", err=True)
    click.echo(f"This is {REPORT_BUG}; CHARTGEN_DEBUG=1 shows the traceback.", err=True)
    sys.exit(int(ExitCode.INTERNAL))


class _Chartgen(click.Group):
    """The one error handler of every command: chartgen's errors leave with their exit code
    (errors.ExitCode), click's own usage errors with 2, anything else as an internal error."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ChartgenError as error:
            _fail(error)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            # the reader went away (`chartgen validate | head`): nothing more to say
            sys.stderr.close()
            os._exit(0)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as error:
            _internal(error)


F = TypeVar("F", bound=Callable[..., Any])


def spec_and_out_options(command: F) -> F:
    """--spec and --out, shared by every command that reads the spec and the chart."""
    command = click.option(
        "--out",
        "out",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("generated/helm"),
        show_default=True,
        help="Directory holding the chart directory <chart name>/.",
    )(command)
    return click.option(
        "--spec",
        "spec",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path("values/topology.yaml"),
        show_default=True,
        help="Topology spec; overlays are read from environments/ beside it.",
    )(command)


@click.group(cls=_Chartgen, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chartgen")
def main() -> None:
    """Build the Helm chart of a Redis session database and service cache from one spec.

    \b
    Example:
      chartgen build                 # values/topology.yaml -> generated/helm/session-database/
      chartgen build --check         # exit 1 if the committed chart is stale
      chartgen validate              # every check over the spec and the chart

    Exit codes: 0 ok, 1 problems (invalid spec, drift, validate findings),
    2 usage error, 3 template render error, 4 cannot read or write the chart,
    5 an external tool or the registry failed, 6 internal error (a chartgen bug),
    7 publish: the version is already published with other content.
    """


@main.command()
@spec_and_out_options
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 and list the files that differ from the build.",
)
def build(spec: Path, out: Path, check: bool) -> None:
    """Validate the spec and write the chart (and, from the spec's argocd section, the Argo CD
    objects in <out>/../k8s/argocd/) atomically.

    \b
    Examples:
      chartgen build
      chartgen build --spec values/topology.yaml --out generated/helm
      chartgen build --check
    """
    from chartgen.pipeline import BuildContext
    from chartgen.pipeline import build as run_build

    if not spec.is_file():
        raise UsageError(f"{spec}: spec file not found")
    result = run_build(BuildContext(spec=spec, out_root=out), check=check)
    for warning in result.warnings:
        click.echo(warning.format(), err=True)
    verb = "is up to date" if check else "written"
    click.echo(f"{result.chart_dir}: {len(result.files)} files {verb}")
    if result.argocd_dir is not None:
        click.echo(f"{result.argocd_dir}: {len(result.argocd_files)} files {verb}")
    for retired in result.retired_dirs:
        click.echo(f"{retired}: removed (the spec has no argocd section)")
    if result.monitoring_dir is not None:
        click.echo(f"{result.monitoring_dir}: {len(result.monitoring_files)} files {verb}")
    if result.scripts_dir is not None:
        click.echo(f"{result.scripts_dir}: {len(result.scripts_files)} files {verb}")


FORMAT_NAMES = ("text", "json", "junit", "github", "sarif")


@main.command()
@spec_and_out_options
@click.option(
    "--env",
    "envs",
    multiple=True,
    metavar="NAME",
    help="Validate only these environments (repeatable; 'defaults' is values.yaml). Default: all.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMAT_NAMES),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@click.option(
    "--kube-version",
    "kube_versions",
    multiple=True,
    metavar="X.Y[.Z]|latest",
    help="Kubernetes versions to validate against (repeatable). "
    "Default: 1.25.0 and the newest shipped.",
)
@click.option(
    "--helm",
    "helm_cli",
    type=click.Path(exists=True, dir_okay=False),
    help="Render with this Helm v3 CLI instead of the embedded Helm v4 engine.",
)
@click.option(
    "--kubeconform",
    "kubeconform",
    type=click.Path(exists=True, dir_okay=False),
    help="kubeconform binary (default: the one on PATH, if any).",
)
@click.option(
    "--embedded-schemas",
    is_flag=True,
    help="Use the embedded validator even when kubeconform is on PATH.",
)
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Check settings file (default: .chartgen.yaml if present).",
)
@click.option("--no-cache", is_flag=True, help="Ignore and do not write .chartgen-cache/.")
@click.option(
    "--server",
    is_flag=True,
    help="Also dry-run every object on the cluster of the kubeconfig (check server-dry-run; "
    "never cached).",
)
@click.option(
    "--kubeconfig",
    "kubeconfig",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --server: this kubeconfig (default: $KUBECONFIG, else ~/.kube/config).",
)
@click.option("--context", "kube_context", help="With --server: this kubeconfig context.")
@click.option(
    "--server-namespace",
    default="default",
    show_default=True,
    help="With --server: the existing namespace the objects are dry-run in.",
)
@click.option("--list-checks", is_flag=True, help="List the checks with their docs and exit.")
def validate(
    spec: Path,
    out: Path,
    envs: tuple[str, ...],
    fmt: str,
    strict: bool,
    kube_versions: tuple[str, ...],
    helm_cli: str | None,
    kubeconform: str | None,
    embedded_schemas: bool,
    config: Path | None,
    no_cache: bool,
    server: bool,
    kubeconfig: Path | None,
    kube_context: str | None,
    server_namespace: str,
    list_checks: bool,
) -> None:
    """Check the spec and the committed chart with real validators; report every problem.

    \b
    Examples:
      chartgen validate
      chartgen validate --env production --format github
      chartgen validate --format sarif > chartgen.sarif
      chartgen validate --kube-version 1.29 --kube-version latest --strict
      chartgen validate --list-checks
      chartgen validate --server --context staging --server-namespace session-database

    Exit codes: 0 clean, 1 problems (warnings too with --strict), 2 usage error
    (also: an unusable kubeconfig, a missing --server-namespace), 5 an external tool
    failed (also: the --server cluster unreachable or refusing the credentials),
    6 internal error.
    """
    if list_checks:
        from chartgen.validate.checks import CHECKS

        for check in CHECKS:
            click.echo(f"{check.id:<18} {check.severity:<8} {check.doc}")
        return
    from chartgen.engines.kube_schema import DEFAULT_VERSIONS
    from chartgen.validate.reporters import FORMATS
    from chartgen.validate.runner import (
        ServerOptions,
        ValidateOptions,
        detect_tools,
        validate_tree,
    )

    if not server and (kubeconfig or kube_context or server_namespace != "default"):
        raise UsageError("--kubeconfig, --context and --server-namespace need --server")

    options = ValidateOptions(
        spec=spec,
        chart_root=out,
        environments=envs or None,
        kube_versions=kube_versions or DEFAULT_VERSIONS,
        strict=strict,
        config=config,
        tools=detect_tools(helm_cli, kubeconform, embedded_schemas),
        cache_dir=None if no_cache else Path(".chartgen-cache"),
        server=ServerOptions(kubeconfig, kube_context, server_namespace) if server else None,
    )
    outcome = validate_tree(options)
    if outcome.cached:
        click.echo(
            "chartgen: nothing changed since the last run: verdict from .chartgen-cache/", err=True
        )
    click.echo(FORMATS[fmt](outcome.problems, outcome.checks))
    sys.exit(int(ExitCode.PROBLEMS if outcome.failed(strict) else ExitCode.OK))


@main.command()
@spec_and_out_options
@click.option(
    "--repo-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Helm chart repository directory: the archive is added and index.yaml merged.",
)
@click.option("--base-url", metavar="URL", help="URL the repository is served from (index urls).")
@click.option(
    "--sign-key",
    "keyring",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="KEYRING",
    help="PGP secret keyring to sign with (writes <archive>.prov); needs --key-name.",
)
@click.option("--key-name", metavar="NAME", help="Key in the keyring (name, email or id).")
@click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File whose first line unlocks a protected signing key.",
)
@click.option(
    "--oci",
    "oci_remote",
    metavar="oci://HOST/PATH",
    help="Also push to this OCI registry. Credentials: CHARTGEN_REGISTRY_USER and "
    "CHARTGEN_REGISTRY_PASSWORD, else the docker config file; never options.",
)
@click.option("--plain-http", is_flag=True, help="Talk plain HTTP to the registry (loopback).")
@click.option("--no-cache", is_flag=True, help="Validate without .chartgen-cache/.")
def publish(
    spec: Path,
    out: Path,
    repo_dir: Path | None,
    base_url: str | None,
    keyring: Path | None,
    key_name: str | None,
    passphrase_file: Path | None,
    oci_remote: str | None,
    plain_http: bool,
    no_cache: bool,
) -> None:
    """Validate the chart, package it and publish it to a Helm repository directory and/or an
    OCI registry. A published version is immutable; the same content again changes nothing.

    \b
    Examples:
      chartgen publish --repo-dir public/charts --base-url https://charts.example.org
      chartgen publish --repo-dir public/charts --sign-key secring.gpg --key-name "Platform"
      CHARTGEN_REGISTRY_USER=ci CHARTGEN_REGISTRY_PASSWORD=... \\
        chartgen publish --oci oci://registry.example.org/charts

    Exit codes: 0 published or already published, 1 the chart fails validate, 2 usage error,
    4 the repository directory cannot be read or written, 5 the registry failed,
    7 the version is already published with different content, 6 internal error.
    """
    from chartgen.publish.oci import OciTarget, parse_remote
    from chartgen.publish.run import PublishOptions, Signing
    from chartgen.publish.run import publish as run_publish
    from chartgen.validate.runner import ValidateOptions, detect_tools

    if not spec.is_file():
        raise UsageError(f"{spec}: spec file not found")
    if (keyring is None) != (key_name is None):
        raise UsageError("--sign-key and --key-name go together")
    options = PublishOptions(
        validate=ValidateOptions(
            spec=spec,
            chart_root=out,
            tools=detect_tools(),
            cache_dir=None if no_cache else Path(".chartgen-cache"),
        ),
        repo_dir=repo_dir,
        base_url=base_url,
        signing=Signing(keyring, key_name, passphrase_file) if keyring and key_name else None,
        oci=OciTarget(parse_remote(oci_remote), plain_http) if oci_remote else None,
    )
    result = run_publish(options)
    for message in result.messages:
        click.echo(message)
