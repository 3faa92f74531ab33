"""The label shape the alerts assume, and test series in it.

Every exporter series carries `namespace` and `service` (the headless Service the pods are
scraped through, as a ServiceMonitor sets them) plus `pod` and `instance`; cAdvisor and
kube-state-metrics series carry `namespace`, `pod` and `container`. A release is told apart by
namespace and service, so two releases in one cluster never mix."""

from __future__ import annotations

from dataclasses import dataclass, replace

Series = tuple[str, str]  # (series selector, promtool values)


# Where each group's test pods get their addresses (fourth octet), so instances never collide.
_FIRST_ADDRESS = {"redis": 10, "cache": 30, "sentinel": 50}


@dataclass(frozen=True)
class Target:
    """One release: its namespace and full name (Helm's <fullname>), and the group of pods a
    rule variant selects (`group`: redis, cache or sentinel; see groups.py)."""

    namespace: str
    fullname: str
    network: int = 0  # third octet of its pods' addresses (distinct per release)
    group: str = "redis"

    def of(self, group: str) -> Target:
        return replace(self, group=group)

    def neighbours(self) -> tuple[Target, Target]:
        """Two releases whose series must never count as this one's: the same release name
        in another namespace, another release in the same namespace."""
        return (
            Target(f"{self.namespace}-other", self.fullname, self.network + 1, self.group),
            Target(self.namespace, f"other-{self.fullname}", self.network + 2, self.group),
        )

    @property
    def data_service(self) -> str:
        return f"{self.fullname}-{self.group}-headless"

    @property
    def sentinel_service(self) -> str:
        return f"{self.fullname}-sentinel-headless"

    def data_labels(self, index: int) -> dict[str, str]:
        return {
            "namespace": self.namespace,
            "service": self.data_service,
            "pod": f"{self.fullname}-{self.group}-{index}",
            "instance": f"10.0.{self.network}.{_FIRST_ADDRESS[self.group] + index}:9121",
        }

    def sentinel_labels(self, index: int) -> dict[str, str]:
        return self.of("sentinel").data_labels(index)

    def container_labels(self, component: str | None, index: int) -> dict[str, str]:
        """cAdvisor/kube-state-metrics labels; the cache's pods run a container named redis."""
        pods = component or self.group
        return {
            "namespace": self.namespace,
            "pod": f"{self.fullname}-{pods}-{index}",
            "container": "sentinel" if pods == "sentinel" else "redis",
        }


def selector(metric: str, labels: dict[str, str]) -> str:
    body = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return f"{metric}{{{body}}}"


def data(t: Target, metric: str, values: str, index: int = 0, **extra: str) -> Series:
    return selector(metric, {**t.data_labels(index), **extra}), values


def sentinel(t: Target, metric: str, values: str, index: int = 0, **extra: str) -> Series:
    return selector(metric, {**t.sentinel_labels(index), **extra}), values


def container(
    t: Target, metric: str, values: str, component: str | None = None, **extra: str
) -> Series:
    return selector(metric, {**t.container_labels(component, 0), **extra}), values
