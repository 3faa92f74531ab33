"""Server-side apply dry-run with `fieldValidation=Strict`: the verdict the API server gives an
object (KubeClient.apply has no field-validation parameter, so the request is made here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chartgen.engines.kube_api import KubeAPIError, KubeClient


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    message: str  # the server's reason when refused, its warnings when accepted


def strict_dry_run(client: KubeClient, obj: dict[str, Any]) -> Verdict:
    """The server's verdict. A value the apply cannot even convert to the kind's typed form
    (unknown field, wrong type) is answered with 500 "failed to create typed patch object":
    a refusal too. A kind the server does not serve raises KubeAPIError 404 (discovery)."""
    path = client.path_of(obj)
    try:
        reply = client.request(
            "PATCH",
            path,
            json.dumps(obj).encode(),
            params={
                "fieldManager": "chartgen-corpus",
                "force": "true",
                "dryRun": "All",
                "fieldValidation": "Strict",
            },
            content_type="application/apply-patch+yaml",
        )
    except KubeAPIError as error:
        typed = error.status == 500 and "failed to create typed patch object" in error.message
        assert error.status in (400, 422) or typed, f"not a verdict: {error.status} {error}"
        return Verdict(False, error.message)
    return Verdict(True, "; ".join(reply.warnings))
