"""Arbitrary damage to the spec never ends in a traceback: only exit 0 or a reported problem."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from chartgen.cli import main
from tests.conftest import SPEC

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
]


def mutations(count: int) -> list[str]:
    rng = random.Random(20261125)
    lines = SPEC.read_text().splitlines()
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


@pytest.mark.parametrize("index", range(60))
def test_damaged_spec_never_crashes(tmp_path: Path, index: int) -> None:
    spec_dir = tmp_path / "values"
    (spec_dir / "environments").mkdir(parents=True)
    for overlay in (SPEC.parent / "environments").glob("*.yaml"):
        (spec_dir / "environments" / overlay.name).write_text(overlay.read_text())
    (spec_dir / "topology.yaml").write_text(mutations(60)[index])

    result = CliRunner().invoke(
        main, ["build", "--spec", str(spec_dir / "topology.yaml"), "--out", str(tmp_path / "out")]
    )

    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"crashed: {result.exception!r}\n{result.output}"
    )
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 1:
        assert "topology.yaml:" in result.output or "environments/" in result.output
