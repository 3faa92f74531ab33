"""Kubernetes quantities and Redis memory units, converted to plain numbers."""

from __future__ import annotations

import re
from decimal import Decimal

from chartgen.topology.constraints import MAXMEMORY_PATTERN, QUANTITY_PATTERN

# The spec schema's own patterns (one definition): number in group 1, unit in the last group.
_K8S = re.compile(QUANTITY_PATTERN)
_K8S_FACTORS = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}

_REDIS = re.compile(MAXMEMORY_PATTERN)
# redis.conf: k/m/g are powers of 1000, kb/mb/gb powers of 1024.
_REDIS_FACTORS = {
    None: 1,
    "b": 1,
    "k": 1000,
    "kb": 1024,
    "m": 1000**2,
    "mb": 1024**2,
    "g": 1000**3,
    "gb": 1024**3,
}


def k8s_quantity(value: str | int | float) -> Decimal:
    """`"4Gi"` -> 4294967296, `"250m"` -> 0.25."""
    match = _K8S.match(str(value))
    if match is None:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    return Decimal(match.group(1)) * _K8S_FACTORS[match.group(match.re.groups)]


def redis_bytes(value: str) -> int:
    """`"4gb"` -> 4294967296, `"256mb"` -> 268435456."""
    match = _REDIS.match(value)
    if match is None:
        raise ValueError(f"not a Redis memory size: {value!r}")
    unit = match.group(match.re.groups)
    return int(value[: len(value) - len(unit or "")]) * _REDIS_FACTORS[unit]
