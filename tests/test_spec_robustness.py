"""Arbitrary damage to the spec, its overlays or the settings file never ends in a traceback or
an internal error: `build` and `validate` exit 0 or report the problem at its file."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from chartgen.cli import main
from tests.conftest import ARGOCD, CHART, MONITORING, SCRIPTS, SPEC

REPLACEMENTS = [
    "",
    "null",
    "[]",
    "{}",
    "-1",
    "0",
    "true",
    "'x'",
    "99999999999",
    "[1, 2]",
    "{a: 1}",
    "1.5",
    '""',
    "!!binary aGk=",
    "&a 1",
    "*a",
    "@",
    "\t",
    "x\u008fy",  # a C1 control character pasted with a value
    "\u0007",
    "\ufeff",
    "'\u0000'",
]


def mutations(count: int, source: str | None = None, seed: int = 20261125) -> list[str]:
    rng = random.Random(seed)
    lines = (source if source is not None else SPEC.read_text()).splitlines()
    variants = []
    for _ in range(count):
        mutated = list(lines)
        for _ in range(rng.randint(1, 3)):
            index = rng.randrange(len(mutated))
            line = mutated[index]
            action = rng.choice(("value", "value", "value", "delete", "dedent", "duplicate"))
            if action == "value" and ":" in line:
                key = line.split(":", 1)[0]
                mutated[index] = f"{key}: {rng.choice(REPLACEMENTS)}"
            elif action == "delete":
                del mutated[index]
            elif action == "dedent":
                mutated[index] = line.lstrip()
            else:
                mutated.insert(index, line)
        variants.append("\n".join(mutated) + "\n")
    return variants


def _spec_tree(tmp_path: Path, spec_text: str) -> Path:
    spec_dir = tmp_path / "values"
    (spec_dir / "environments").mkdir(parents=True)
    for overlay in (SPEC.parent / "environments").glob("*.yaml"):
        (spec_dir / "environments" / overlay.name).write_text(overlay.read_text())
    (spec_dir / "topology.yaml").write_text(spec_text)
    return spec_dir


def _assert_reported(result: Result, *files: str) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"crashed: {result.exception!r}\n{result.output}"
    )
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    if result.exit_code == 1:
        assert any(name in result.output for name in files), result.output


@pytest.mark.parametrize("index", range(60))
def test_damaged_spec_never_crashes(tmp_path: Path, index: int) -> None:
    spec_dir = _spec_tree(tmp_path, mutations(60)[index])

    result = CliRunner().invoke(
        main, ["build", "--spec", str(spec_dir / "topology.yaml"), "--out", str(tmp_path / "out")]
    )

    _assert_reported(result, "topology.yaml:", "environments/")


@pytest.mark.parametrize("index", range(20))
def test_damaged_spec_and_overlay_never_crash_validate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, index: int
) -> None:
    """validate reads the spec leniently (chart name, check settings) before the spec check:
    damage there must be reported, never crash it."""
    spec_dir = _spec_tree(tmp_path, mutations(20, seed=7)[index])
    production = spec_dir / "environments" / "production.yaml"
    production.write_text(mutations(20, production.read_text(), seed=11)[index])
    shutil.copytree(CHART, tmp_path / "generated/helm/session-database")
    shutil.copytree(ARGOCD, tmp_path / "generated/k8s/argocd")
    shutil.copytree(MONITORING, tmp_path / "generated/monitoring")
    shutil.copytree(SCRIPTS, tmp_path / "generated/scripts")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["validate", "--no-cache", "--embedded-schemas", "--env", "production"]
    )
    _assert_reported(result, "values/topology.yaml:", "values/environments/")


SETTINGS = "checks:\n  disable: [amtool]\n  severity:\n    image-pinned: warning\n    spec: info\n"


@pytest.mark.parametrize("index", range(30))
def test_damaged_settings_file_never_crashes_validate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, index: int
) -> None:
    _spec_tree(tmp_path, SPEC.read_text())
    shutil.copytree(CHART, tmp_path / "generated/helm/session-database")
    shutil.copytree(ARGOCD, tmp_path / "generated/k8s/argocd")
    shutil.copytree(MONITORING, tmp_path / "generated/monitoring")
    shutil.copytree(SCRIPTS, tmp_path / "generated/scripts")
    (tmp_path / ".chartgen.yaml").write_text(mutations(30, SETTINGS, seed=3)[index])
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["validate", "--no-cache", "--embedded-schemas", "--env", "development"]
    )
    _assert_reported(result, ".chartgen.yaml:")
