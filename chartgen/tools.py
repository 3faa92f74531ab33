"""External programs a validation run may call."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Tools:
    """External programs the checks may call; None where absent."""

    helm: str | None = None  # a Helm v3 CLI chosen as renderer; None: the embedded engine
    kubeconform: str | None = None
    promtool: str | None = None
    amtool: str | None = None
