from __future__ import annotations

import re
from collections.abc import Iterator

from chartgen.engines.workloads import pod_spec
from chartgen.errors import Problem
from chartgen.validate.context import ValidateContext

ID = "image-pinned"
SEVERITY = "error"

_PINNED = re.compile(r"^[^@]+(:[^:/@]+)$|^[^@]+@sha256:[0-9a-f]{64}$")


def check(ctx: ValidateContext) -> Iterator[Problem]:
    """Every image is pinned by a version tag or a digest; no `latest`, no missing tag."""
    for env, obj in ctx.objects():
        found = pod_spec(obj.body)
        if found is None:
            continue
        base, pod = found
        for field in ("containers", "initContainers"):
            for index, container in enumerate(pod.get(field, [])):
                image = str(container.get("image", ""))
                if not _PINNED.match(image) or image.endswith(":latest"):
                    yield ctx.object_problem(
                        env,
                        obj,
                        f"{base}.{field}.{index}.image",
                        f"image '{image}' is not pinned to a version",
                    )
