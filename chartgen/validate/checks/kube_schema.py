from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from chartgen.engines.helm import RenderedObject
from chartgen.engines.kube_schema import KubeValidator, resolve_version
from chartgen.errors import Problem
from chartgen.validate.context import ValidateContext

ID = "kube-schema"
SEVERITY = "error"

# Kinds served by CRDs are the crd-schema check's.
CRD_GROUPS = ("monitoring.coreos.com", "cert-manager.io", "external-secrets.io", "argoproj.io")


def is_crd_kind(api_version: str) -> bool:
    return api_version.split("/", maxsplit=1)[0] in CRD_GROUPS


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """Every rendered Kubernetes object is valid under the strict schemas of each requested
    Kubernetes version (kubeconform when on PATH, else the embedded kubernetes-validate)."""
    objects = [
        (env, obj)
        for env, obj in ctx.objects()
        if not is_crd_kind(str(obj.body.get("apiVersion", "")))
    ]
    versions = [resolve_version(v) for v in ctx.kube_versions]
    if ctx.tools.kubeconform:
        yield from _kubeconform(ctx, objects, versions, ctx.tools.kubeconform)
        return
    for version in versions:
        validator = KubeValidator(version)
        for env, obj in objects:
            for finding in validator.validate(obj.body):
                yield ctx.object_problem(
                    env,
                    obj,
                    finding.path,
                    f"Kubernetes {version}: {finding.message}",
                )


def _kubeconform(
    ctx: ValidateContext,
    objects: list[tuple[str, RenderedObject]],
    versions: list[str],
    binary: str,
) -> Iterator[Problem]:
    """kubeconform over the distinct objects, one process per Kubernetes version, in parallel."""
    from chartgen.engines.kubeconform import validate_with_kubeconform

    object_keys = [json.dumps(obj.body, sort_keys=True, default=str) for _, obj in objects]
    distinct: dict[str, RenderedObject] = {}
    for key, (_, obj) in zip(object_keys, objects, strict=True):
        distinct.setdefault(key, obj)
    keys = list(distinct)
    with ThreadPoolExecutor(max_workers=len(versions)) as pool:
        runs = pool.map(
            lambda v: validate_with_kubeconform(binary, list(distinct.values()), v), versions
        )
        verdicts = dict(zip(versions, runs, strict=True))
    for version in versions:
        by_key = dict(zip(keys, verdicts[version], strict=True))
        for key, (env, obj) in zip(object_keys, objects, strict=True):
            for path, message in by_key[key]:
                yield ctx.object_problem(env, obj, path, f"Kubernetes {version}: {message}")
