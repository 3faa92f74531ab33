from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

from chartgen.engines.tools import run_tool
from chartgen.errors import Problem
from chartgen.validate.context import ValidateContext

ID = "promtool"
SEVERITY = "error"


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """The rule groups of every PrometheusRule pass `promtool check rules` (its `.spec`, the
    plain groups file promtool reads). Skipped, and said so, when promtool is not on PATH."""
    from ruamel.yaml import YAML

    rules = [(env, obj) for env, obj in ctx.objects() if obj.kind == "PrometheusRule"]
    if not rules:
        return
    if ctx.tools.promtool is None:
        env, obj = rules[0]
        yield ctx.object_problem(
            env,
            obj,
            "spec",
            "skipped: promtool is not on PATH (install Debian's prometheus)",
            "info",
        )
        return
    yaml = YAML(typ="safe")
    checked: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="chartgen-promtool-") as folder:
        for env, obj in rules:
            path = Path(folder) / "rules.yaml"
            with open(path, "w", encoding="utf-8") as handle:
                yaml.dump(obj.body.get("spec", {}), handle)
            text = path.read_text("utf-8")
            if text not in checked:
                result = run_tool([ctx.tools.promtool, "check", "rules", str(path)], 60)
                checked[text] = (
                    ""
                    if result.returncode == 0
                    else (result.stderr or result.stdout).replace(str(path), "spec").strip()
                )
            if checked[text]:
                yield ctx.object_problem(env, obj, "spec.groups", checked[text])
