from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from chartgen.errors import Problem
from chartgen.validate.checks.kube_schema import is_crd_kind
from chartgen.validate.context import ValidateContext

ID = "crd-schema"
SEVERITY = "error"


def crd_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    """schemas/crds/<group>/<kind>_<version>.json, or None when chartgen ships none."""
    group, _, version = api_version.rpartition("/")
    path = (
        resources.files("chartgen")
        .joinpath("schemas")
        .joinpath("crds")
        .joinpath(group)
        .joinpath(f"{kind.lower()}_{version}.json")
    )
    if not path.is_file():
        return None
    schema: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return schema


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """Objects of CRD kinds (PrometheusRule, ServiceMonitor, PodMonitor, Certificate, Issuer,
    ExternalSecret, SecretStore, Application, ApplicationSet) match the schemas under
    schemas/crds/, whose provenance and upstream version each schema records."""
    import jsonschema

    validators: dict[tuple[str, str], Any] = {}
    for env, obj in ctx.objects():
        api_version = str(obj.body.get("apiVersion", ""))
        if not is_crd_kind(api_version):
            continue
        key = (api_version, obj.kind)
        if key not in validators:
            schema = crd_schema(*key)
            validators[key] = None if schema is None else jsonschema.Draft7Validator(schema)
        validator = validators[key]
        if validator is None:
            yield ctx.object_problem(
                env,
                obj,
                "",
                f"chartgen ships no schema for {api_version} {obj.kind} (schemas/crds/)",
            )
            continue
        for error in sorted(validator.iter_errors(obj.body), key=lambda e: e.json_path):
            path = ".".join(str(p) for p in error.absolute_path)
            yield ctx.object_problem(env, obj, path, error.message)
