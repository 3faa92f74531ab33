"""The two comparisons that decide whether Argo CD shows an application OutOfSync.

- server-side (Argo CD's ServerSideDiff): a server-side apply dry-run of the manifest by the
  same field manager predicts the object; it must equal the live object.
- client-side: every field the manifest sets must equal the live field, after the
  normalisations the server applies (canonical quantities, int-or-string).
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from chartgen.engines.kube_api import KubeClient

ARGOCD_MANAGER = "argocd-controller"
# Written by the server on every write or by controllers: never the manifest's business.
VOLATILE_METADATA = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid")

_QUANTITY = re.compile(
    r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$"
)
_SUFFIX: dict[str | None, Decimal] = {
    None: Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    **{s: Decimal(1024) ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
}


def quantity(value: Any) -> Decimal | None:
    """The amount of a Kubernetes quantity ("1Gi", "500m", 2), None if it is not one."""
    if isinstance(value, bool):
        return None
    found = _QUANTITY.match(str(value))
    if not found:
        return None
    try:
        amount: Decimal = Decimal(found.group(1)) * _SUFFIX[found.group(2)]
        return amount
    except InvalidOperation:
        return None


def _same_scalar(wanted: Any, live: Any) -> bool:
    if wanted == live and type(wanted) is type(live):
        return True
    if isinstance(wanted, (str, int)) and isinstance(live, (str, int)):
        # int-or-string (ports, maxUnavailable) and quantities, as the server canonicalises them
        if str(wanted) == str(live):
            return True
        amount = quantity(wanted)
        return amount is not None and amount == quantity(live)
    return False


def manifest_differences(wanted: Any, live: Any, path: str = "") -> list[str]:
    """Paths where a field of the manifest is missing from, or differs in, the live object."""
    if isinstance(wanted, dict):
        if not isinstance(live, dict):
            return [f"{path or '.'}: manifest has an object, live {live!r}"]
        found = []
        for key, value in wanted.items():
            where = f"{path}.{key}"
            if key not in live:
                # A zero value of an omitempty field (`initialDelaySeconds: 0`, `{}`, null) is
                # not stored; Argo CD's diff drops it too (it remarshals through the typed API).
                if value in ({}, [], None, 0, "") and not isinstance(value, bool):
                    continue
                found.append(f"{where}: missing in the live object")
            else:
                found += manifest_differences(value, live[key], where)
        return found
    if isinstance(wanted, list):
        if not isinstance(live, list) or len(live) != len(wanted):
            return [f"{path}: manifest has {len(wanted)} items, live {live!r}"]
        found = []
        for index, (item, live_item) in enumerate(zip(wanted, live, strict=True)):
            found += manifest_differences(item, live_item, f"{path}[{index}]")
        return found
    if _same_scalar(wanted, live):
        return []
    return [f"{path}: manifest {wanted!r}, live {live!r}"]


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without what the server changes on every write or controllers own."""
    clean = copy.deepcopy(obj)
    clean.pop("status", None)
    metadata = clean.get("metadata", {})
    for key in VOLATILE_METADATA:
        metadata.pop(key, None)
    return clean


def object_differences(predicted: Any, live: Any, path: str = "") -> list[str]:
    """Every path where two objects differ (both ways)."""
    if isinstance(predicted, dict) and isinstance(live, dict):
        found = []
        for key in sorted(set(predicted) | set(live)):
            where = f"{path}.{key}"
            if key not in live:
                found.append(f"{where}: only in the prediction")
            elif key not in predicted:
                found.append(f"{where}: only in the live object")
            else:
                found += object_differences(predicted[key], live[key], where)
        return found
    if isinstance(predicted, list) and isinstance(live, list) and len(predicted) == len(live):
        found = []
        for index, (left, right) in enumerate(zip(predicted, live, strict=True)):
            found += object_differences(left, right, f"{path}[{index}]")
        return found
    return [] if predicted == live else [f"{path or '.'}: predicted {predicted!r}, live {live!r}"]


def sync(client: KubeClient, objects: list[dict[str, Any]], namespace: str) -> None:
    """What an Argo CD sync with ServerSideApply does: apply each object as argocd-controller."""
    for obj in objects:
        client.apply(obj, namespace=namespace, field_manager=ARGOCD_MANAGER)


def server_side_diff(
    client: KubeClient, obj: dict[str, Any], namespace: str
) -> tuple[list[str], list[str]]:
    """(server-side, client-side) differences of one manifest object from its live object."""
    predicted = client.apply(
        obj, namespace=namespace, dry_run=True, field_manager=ARGOCD_MANAGER
    ).body
    live = client.get(obj, namespace)
    server = object_differences(comparable(predicted), comparable(live))
    return server, manifest_differences(obj, live)
