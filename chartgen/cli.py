"""Command line: parse options, call one pipeline function, print, exit with a documented code.

Imports of the pipeline are deferred into the commands so `chartgen --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from chartgen import __version__
from chartgen.errors import ChartgenError, ExitCode, SpecError


def _fail(error: ChartgenError) -> NoReturn:
    click.echo(str(error), err=True)
    if isinstance(error, SpecError):
        errors = sum(p.severity == "error" for p in error.problems)
        click.echo(f"{errors} error(s), {len(error.problems) - errors} warning(s)", err=True)
    sys.exit(int(error.exit_code))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chartgen")
def main() -> None:
    """Build the Helm chart of a Redis session database and service cache from one spec.

    \b
    Example:
      chartgen build                 # values/topology.yaml -> generated/helm/session-database/
      chartgen build --check         # exit 1 if the committed chart is stale

    Exit codes: 0 ok, 1 invalid spec or drift, 2 usage or internal error,
    3 template render error, 4 cannot read or write the chart.
    """


@main.command()
@click.option(
    "--spec",
    "spec",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("values/topology.yaml"),
    show_default=True,
    help="Topology spec; overlays are read from environments/ beside it.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("generated/helm"),
    show_default=True,
    help="Directory that receives the chart directory <chart name>/.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 and list the files that differ from the build.",
)
def build(spec: Path, out: Path, check: bool) -> None:
    """Validate the spec and write the chart atomically.

    \b
    Examples:
      chartgen build
      chartgen build --spec values/topology.yaml --out generated/helm
      chartgen build --check
    """
    from chartgen.pipeline import BuildContext
    from chartgen.pipeline import build as run_build

    if not spec.is_file():
        click.echo(f"{spec}: spec file not found", err=True)
        sys.exit(int(ExitCode.USAGE))
    try:
        result = run_build(BuildContext(spec=spec, out_root=out), check=check)
    except ChartgenError as error:
        _fail(error)
    for warning in result.warnings:
        click.echo(warning.format(), err=True)
    verb = "is up to date" if check else "written"
    click.echo(f"{result.chart_dir}: {len(result.files)} files {verb}")
