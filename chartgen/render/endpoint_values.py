"""The Helm values of the master endpoint (`endpoint`): the HAProxy pods that route clients that
do not speak Sentinel to the current master (chart README, Master endpoint)."""

from __future__ import annotations

from typing import Any

from chartgen.render.params import Group, Node, Param
from chartgen.render.value_parts import BOOLEAN, QUANTITY, enum, integer, placement
from chartgen.topology.constraints import spec_property
from chartgen.topology.endpoint import Endpoint
from chartgen.topology.model import Probe

SPEC = ("endpoint",)

# HAProxy answers its monitor URI at once: a short timeout, a restart only after 3 misses.
LIVENESS = Probe(initial_delay_seconds=5, period_seconds=10, timeout_seconds=2, failure_threshold=3)
READINESS = Probe(initial_delay_seconds=2, period_seconds=5, timeout_seconds=2, failure_threshold=2)


def _schema(*path: str) -> dict[str, Any]:
    """The spec's own schema of an endpoint setting, without its description and default."""
    node = spec_property((*SPEC, *path))
    return {k: v for k, v in node.items() if k not in ("description", "default")}


def _resources(endpoint: Endpoint) -> Group:
    def pair(kind: str, quantities: tuple[tuple[str, str], ...], what: str) -> Group:
        return Group(
            what,
            {
                name: Param(value, f"{name} quantity.", QUANTITY, (*SPEC, "resources", kind, name))
                for name, value in quantities
            },
        )

    return Group(
        "HAProxy container resources (ephemeral-storage too: the kubelet counts its logs).",
        {
            "requests": pair("requests", endpoint.requests, "Reserved by the scheduler."),
            "limits": pair("limits", endpoint.limits, "Hard limits; memory above is OOM-killed."),
        },
    )


def _probe(timings: Probe, what: str) -> Group:
    """Probe timings that are chart parameters only (no spec key)."""
    return Group(
        what,
        {
            "initialDelaySeconds": Param(
                timings.initial_delay_seconds, "Delay before the first probe.", integer(0)
            ),
            "periodSeconds": Param(timings.period_seconds, "Seconds between probes.", integer(1)),
            "timeoutSeconds": Param(
                timings.timeout_seconds, "Seconds before a probe times out.", integer(1)
            ),
            "failureThreshold": Param(
                timings.failure_threshold, "Failures before the probe gives up.", integer(1)
            ),
        },
    )


def _autoscaling(endpoint: Endpoint) -> Group:
    """The HAProxy pods' HorizontalPodAutoscaler (chart README, Autoscaling)."""
    scaling = endpoint.autoscaling

    def setting(value: Any, description: str, name: str) -> Param:
        return Param(value, description, _schema("autoscaling", name), (*SPEC, "autoscaling", name))

    return Group(
        "HorizontalPodAutoscaler (autoscaling/v2) of the HAProxy pods (ha mode); while enabled "
        "the Deployment renders no replicas of its own (chart README, Autoscaling).",
        {
            "enabled": setting(scaling.enabled, "Create it.", "enabled"),
            "minReplicas": setting(scaling.min_replicas, "Fewest HAProxy pods.", "minReplicas"),
            "maxReplicas": setting(scaling.max_replicas, "Most HAProxy pods.", "maxReplicas"),
            "targetCPUUtilizationPercentage": setting(
                scaling.cpu_percent,
                "Average CPU use in percent of the request; null: no CPU metric.",
                "targetCPUUtilizationPercentage",
            ),
            "targetMemoryUtilizationPercentage": setting(
                scaling.memory_percent,
                "Average memory use in percent of the request; null: no memory metric.",
                "targetMemoryUtilizationPercentage",
            ),
            "scaleDownStabilizationSeconds": setting(
                scaling.scale_down_stabilization_seconds,
                "Pods are removed only when every recommendation of this window agreed.",
                "scaleDownStabilizationSeconds",
            ),
        },
    )


def endpoint_values(endpoint: Endpoint, zones: int) -> dict[str, Node]:
    def setting(value: Any, description: str, *path: str) -> Param:
        return Param(value, description, _schema(*path), (*SPEC, *path))

    check = endpoint.check
    return {
        "endpoint": Group(
            "The master endpoint <fullname>-service: ha mode, HAProxy pods that route every "
            "connection to the data pod reporting role:master; standalone, a Service of the "
            "data pod (chart README, Master endpoint).",
            {
                "replicas": setting(endpoint.replicas, "HAProxy pods (ha mode).", "replicas"),
                "image": Group(
                    "HAProxy image (the chart's config is tested with HAProxy 2.6).",
                    {
                        "repository": setting(
                            endpoint.repository, "Image repository.", "image", "repository"
                        ),
                        "tag": setting(endpoint.tag, "Pinned image tag.", "image", "tag"),
                        "digest": setting(
                            endpoint.digest,
                            "sha256:... digest; when set the image is pulled by tag@digest.",
                            "image",
                            "digest",
                        ),
                        "pullPolicy": Param(
                            "Always",
                            "Image pull policy (Always, as the data pods'; see the chart README).",
                            enum("Always", "IfNotPresent", "Never"),
                        ),
                    },
                ),
                "resources": _resources(endpoint),
                "check": Group(
                    "The role:master check of each data pod.",
                    {
                        "intervalMilliseconds": setting(
                            check.interval_ms,
                            "Milliseconds between checks of a data pod, and the check's timeout.",
                            "check",
                            "intervalMilliseconds",
                        ),
                        "fall": setting(
                            check.fall,
                            "Failed checks before a data pod is out (its connections are cut).",
                            "check",
                            "fall",
                        ),
                        "rise": setting(
                            check.rise,
                            "Passed checks before a master takes connections.",
                            "check",
                            "rise",
                        ),
                    },
                ),
                "maxConnections": setting(
                    endpoint.max_connections,
                    "Client connections per HAProxy pod (maxconn).",
                    "maxConnections",
                ),
                "idleTimeoutSeconds": setting(
                    endpoint.idle_timeout_seconds,
                    "Idle client connections are closed after this many seconds.",
                    "idleTimeoutSeconds",
                ),
                **placement("HAProxy", "soft", zones),
                "livenessProbe": _probe(LIVENESS, "Liveness probe (HAProxy's monitor URI)."),
                "readinessProbe": _probe(READINESS, "Readiness probe (monitor URI)."),
                "autoscaling": _autoscaling(endpoint),
                "pdb": Group(
                    "PodDisruptionBudget of the HAProxy pods (ha mode).",
                    {
                        "enabled": Param(True, "Create it.", BOOLEAN),
                        "maxUnavailable": Param(
                            1, "HAProxy pods that may be evicted at once.", integer(1)
                        ),
                    },
                ),
            },
        )
    }
