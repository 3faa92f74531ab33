from __future__ import annotations

import re
from collections.abc import Iterator

from chartgen.engines.workloads import pod_spec
from chartgen.errors import Problem
from chartgen.validate.context import ValidateContext

ID = "secret-material"
SEVERITY = "error"

SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_?KEY", re.IGNORECASE)
# redis.conf / ACL lines that would carry a password in clear text
CONFIG_SECRET = re.compile(
    r"^\s*(requirepass|masterauth|sentinel\s+auth-pass|sentinel\s+sentinel-pass)\s+\S+"
    r"|^\s*user\s+\S+.*\s>\S+",
    re.MULTILINE,
)
ARGV_SECRET = re.compile(r"(--requirepass|--masterauth|--pass(word)?|-a)\b", re.IGNORECASE)


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """No secret material in the chart: no Secret with literal data, no password in a ConfigMap,
    in an env value or in a container's argv. Passwords come only from existing Secrets."""
    for env, obj in ctx.objects():
        body = obj.body
        if obj.kind == "Secret" and (body.get("data") or body.get("stringData")):
            yield ctx.object_problem(
                env, obj, "data", "the chart renders a Secret with literal data"
            )
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
