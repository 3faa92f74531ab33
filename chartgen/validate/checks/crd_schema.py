from __future__ import annotations

import base64
import binascii
import json
import re
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


# The formats the API server checks on custom resources (kube-openapi's strfmt registry).
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def format_checker() -> Any:
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("byte")
    def _byte(value: object) -> bool:
        if not isinstance(value, str):
            return True
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
        return True

    @checker.checks("int32")
    def _int32(value: object) -> bool:
        return not isinstance(value, int) or -(2**31) <= value < 2**31

    @checker.checks("int64")
    def _int64(value: object) -> bool:
        return not isinstance(value, int) or -(2**63) <= value < 2**63

    @checker.checks("date-time")
    def _date_time(value: object) -> bool:
        return not isinstance(value, str) or bool(_DATE_TIME.match(value))

    return checker


def validator(api_version: str, kind: str) -> Any:
    """A draft-07 validator of the shipped schema, with the server's formats; None if none."""
    import jsonschema

    schema = crd_schema(api_version, kind)
    if schema is None:
        return None
    return jsonschema.Draft7Validator(schema, format_checker=format_checker())


def served_versions(group: str, kind: str) -> list[str]:
    """The versions of `kind` chartgen ships schemas for: the versions upstream serves."""
    folder = resources.files("chartgen").joinpath("schemas").joinpath("crds").joinpath(group)
    if not folder.is_dir():
        return []
    prefix = f"{kind.lower()}_"
    return sorted(
        p.name[len(prefix) : -len(".json")]
        for p in folder.iterdir()
        if p.name.startswith(prefix) and p.name.endswith(".json")
    )


def _missing(api_version: str, kind: str) -> str:
    group = api_version.rpartition("/")[0]
    served = served_versions(group, kind)
    if served:
        return (
            f"{api_version} {kind} is not served by the upstream CRD chartgen derives its "
            f"schemas from (served: {', '.join(f'{group}/{v}' for v in served)})"
        )
    return f"chartgen ships no schema for {api_version} {kind} (schemas/crds/)"


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """Objects of CRD kinds (PrometheusRule, ServiceMonitor, PodMonitor, AlertmanagerConfig,
    Certificate, Issuer, ClusterIssuer, ExternalSecret, SecretStore, ClusterSecretStore,
    Application, ApplicationSet, AppProject) match the schemas under schemas/crds/, derived from
    the upstream CRDs (each records its provenance) with the API server's Strict field
    validation; CEL rules (x-kubernetes-validations) are not evaluated. A version upstream does
    not serve is a finding."""
    validators: dict[tuple[str, str], Any] = {}
    for env, obj in ctx.objects():
        api_version = str(obj.body.get("apiVersion", ""))
        if not is_crd_kind(api_version):
            continue
        key = (api_version, obj.kind)
        if key not in validators:
            validators[key] = validator(*key)
        found = validators[key]
        if found is None:
            yield ctx.object_problem(env, obj, "apiVersion", _missing(api_version, obj.kind))
            continue
        for error in sorted(found.iter_errors(obj.body), key=lambda e: e.json_path):
            path = ".".join(str(p) for p in error.absolute_path)
            yield ctx.object_problem(env, obj, path, error.message)
    yield from _argocd(ctx, validators)


def _argocd(ctx: ValidateContext, validators: dict[tuple[str, str], Any]) -> Iterator[Problem]:
    """The generated Argo CD objects (generated/k8s/argocd/) against the same schemas."""
    for item in ctx.argocd_objects:
        if item.body is None:
            yield ctx.problem(item.location(()), "", f"cannot be read: {item.error}")
            continue
        api_version, kind = str(item.body.get("apiVersion", "")), str(item.body.get("kind", ""))
        key = (api_version, kind)
        if key not in validators:
            validators[key] = validator(*key)
        found = validators[key]
        name = str((item.body.get("metadata") or {}).get("name", ""))
        if found is None:
            yield ctx.problem(item.location(("apiVersion",)), f"{kind}/{name}", _missing(*key))
            continue
        for error in sorted(found.iter_errors(item.body), key=lambda e: e.json_path):
            path = tuple(error.absolute_path)
            dotted = ".".join(str(p) for p in path)
            yield ctx.problem(item.location(path), f"{kind}/{name}.{dotted}", error.message)
