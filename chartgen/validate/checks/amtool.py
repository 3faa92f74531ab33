from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from pathlib import Path

from chartgen.engines.tools import run_tool
from chartgen.errors import Problem
from chartgen.validate.context import ValidateContext

ID = "amtool"
SEVERITY = "error"

CONFIG_KEYS = ("alertmanager.yaml", "alertmanager.yml")


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """Every Alertmanager configuration the chart ships (a Secret or ConfigMap key
    alertmanager.yaml) passes `amtool check-config`. Skipped, and said so, without amtool."""
    configs = []
    for env, obj in ctx.objects():
        if obj.kind not in ("Secret", "ConfigMap"):
            continue
        for key in CONFIG_KEYS:
            if key in (obj.body.get("stringData") or {}):
                configs.append((env, obj, key, str(obj.body["stringData"][key])))
            elif key in (obj.body.get("data") or {}):
                raw = str(obj.body["data"][key])
                text = base64.b64decode(raw).decode() if obj.kind == "Secret" else raw
                configs.append((env, obj, key, text))
    if not configs:
        return
    if ctx.tools.amtool is None:
        env, obj, key, _ = configs[0]
        yield ctx.object_problem(
            env,
            obj,
            f"data.{key}",
            "skipped: amtool is not on PATH (install Debian's prometheus-alertmanager)",
            "info",
        )
        return
    with tempfile.TemporaryDirectory(prefix="chartgen-amtool-") as folder:
        for env, obj, key, text in configs:
            path = Path(folder) / key
            path.write_text(text, "utf-8")
            result = run_tool([ctx.tools.amtool, "check-config", str(path)], 60)
            if result.returncode != 0:
                output = (result.stdout + result.stderr).replace(str(path), key).strip()
                yield ctx.object_problem(env, obj, f"data.{key}", output)
