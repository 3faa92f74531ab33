from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

from chartgen.engines.workloads import pod_spec
from chartgen.errors import Problem
from chartgen.validate.context import ValidateContext

ID = "secret-material"
SEVERITY = "error"

SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_?KEY", re.IGNORECASE)
# redis.conf / ACL lines that would carry a password in clear text
CONFIG_SECRET = re.compile(
    r"^\s*(requirepass|masterauth|sentinel\s+auth-pass|sentinel\s+sentinel-pass)\s+\S+"
    r"|^\s*(?:[A-Z0-9_-]+\s+)?user\s+\S+.*\s>\S+",
    re.MULTILINE,
)
ARGV_SECRET = re.compile(r"(--requirepass|--masterauth|--pass(word)?|-a)\b", re.IGNORECASE)


def _secret_values(body: dict[str, Any]) -> list[str]:
    """The clear text of a Secret's data and stringData."""
    values = [str(v) for v in (body.get("stringData") or {}).values()]
    for encoded in (body.get("data") or {}).values():
        try:
            values.append(base64.b64decode(str(encoded)).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            values.append(str(encoded))
    return [v for v in values if v]


def _chart_text(ctx: ValidateContext) -> str:
    """Every text file of the chart: templates, values files, scripts, README."""
    texts = []
    for path in sorted(ctx.chart_dir.rglob("*")):
        if path.is_file():
            try:
                texts.append(path.read_text("utf-8"))
            except (OSError, UnicodeDecodeError):
                continue
    return "\n".join(texts)


def _secrets(ctx: ValidateContext) -> Iterator[Problem]:
    """Secrets carry only what the install command gave (or what is derived from it): never
    text from the chart's files; and no given or derived password reaches any other object."""
    chart_text = _chart_text(ctx)
    for env, result in ctx.renders.items():
        if isinstance(result, str):
            continue
        given = ctx.given_values(env)
        secrets = [o for o in result if o.kind == "Secret"]
        passwords: set[str] = set()
        for obj in secrets:
            values = _secret_values(obj.body)
            if values and not given:
                yield ctx.object_problem(
                    env, obj, "data", "the chart renders a Secret with literal data"
                )
            literal = [v for v in values if len(v) >= 8 and v in chart_text]
            if literal:
                yield ctx.object_problem(
                    env, obj, "data", "a password in this Secret is written in the chart's files"
                )
            passwords.update(v for v in values if len(v) >= 8)
        for obj in result:
            if obj.kind == "Secret":
                continue
            text = json.dumps(obj.body)
            if any(password in text for password in passwords):
                yield ctx.object_problem(
                    env, obj, "", "a password of the chart's Secret appears in this object"
                )


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """No secret material in the chart: a Secret carries only the passwords the install command
    gives (and those derived from them), never text of the chart's files; no password reaches
    any other object; none in a ConfigMap, an env value or a container's argv."""
    yield from _secrets(ctx)
    for env, obj in ctx.objects():
        body = obj.body
        if obj.kind == "ConfigMap":
            for key, text in (body.get("data") or {}).items():
                match = CONFIG_SECRET.search(str(text))
                if match:
                    directive = match.group(0).split()[0]
                    yield ctx.object_problem(
                        env,
                        obj,
                        f"data.{key}",
                        f"a password in clear text in a ConfigMap ({directive})",
                        needle=directive,
                    )
        found = pod_spec(body)
        if found is None:
            continue
        base, pod = found
        for index, container in enumerate(pod.get("containers", [])):
            path = f"{base}.containers.{index}"
            for item in container.get("env", []):
                if "value" in item and SECRET_NAME.search(item["name"]) and item["value"]:
                    yield ctx.object_problem(
                        env,
                        obj,
                        f"{path}.env",
                        f"env {item['name']} holds a literal value; use valueFrom.secretKeyRef",
                    )
            argv = [*container.get("command", []), *container.get("args", [])]
            if any(ARGV_SECRET.search(str(arg)) for arg in argv):
                yield ctx.object_problem(
                    env,
                    obj,
                    f"{path}.args",
                    "a password on the command line is visible in ps",
                )
