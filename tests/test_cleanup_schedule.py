"""The cleanup CronJobs' schedules: the spec rule and the chart's Helm helper apply one table,
intervals without an evenly spaced cron form are refused by both, and the rendered CronJobs
carry what the issue asks of them."""

from __future__ import annotations

import pytest

from chartgen.engines import helm
from chartgen.errors import RenderError
from chartgen.topology.schedule import cron_schedule
from tests.conftest import CHART, install_values

EXPRESSIBLE = {
    60: "*/1 * * * *",
    300: "*/5 * * * *",
    600: "*/10 * * * *",
    1800: "*/30 * * * *",
    3600: "0 * * * *",
    7200: "0 */2 * * *",
    21600: "0 */6 * * *",
    86400: "0 0 * * *",
    604800: "0 0 * * 0",
}
NOT_EXPRESSIBLE = (30, 90, 420, 2700, 5400, 18000, 172800)


def test_the_table() -> None:
    assert {seconds: cron_schedule(seconds) for seconds in EXPRESSIBLE} == EXPRESSIBLE
    assert [cron_schedule(seconds) for seconds in NOT_EXPRESSIBLE] == [None] * 7


def _cronjobs(values: dict[str, object]) -> dict[str, dict[str, object]]:
    """The cleanup CronJobs (the maintenance component; the backup has its own tests)."""
    objects = helm.render(CHART, "production", extra=install_values("production", values))
    return {o.name: o.body for o in objects if o.kind == "CronJob" and o.name.endswith("-cleanup")}


@pytest.mark.parametrize("seconds", [300, 3600, 21600, 604800])
def test_helm_derives_the_same_schedule(seconds: int) -> None:
    jobs = _cronjobs({"sessions": {"cleanupIntervalSeconds": seconds}})
    job = jobs["sessions-session-database-session-cleanup"]
    assert job["spec"]["schedule"] == cron_schedule(seconds)  # type: ignore[index]


@pytest.mark.parametrize("seconds", [90, 420])
def test_helm_refuses_what_cron_cannot_run_evenly(seconds: int) -> None:
    with pytest.raises(RenderError, match=f"cleanup interval {seconds} s"):
        _cronjobs({"cache": {"cleanupIntervalSeconds": seconds}})


def test_the_cronjobs_run_safely() -> None:
    """Forbid, deadlines within the interval, backoff and history limits, the maintenance
    label, restricted security, and the master found through the Sentinels."""
    jobs = _cronjobs({})
    assert sorted(jobs) == [
        "sessions-session-database-cache-cleanup",
        "sessions-session-database-session-cleanup",
    ]
    for name, body in jobs.items():
        spec = body["spec"]
        assert spec["concurrencyPolicy"] == "Forbid"  # type: ignore[index]
        values = helm.merged_values(CHART, "production")
        database = "sessions" if name.endswith("-session-cleanup") else "cache"
        interval = values[database]["cleanupIntervalSeconds"]
        assert spec["schedule"] == cron_schedule(interval)  # type: ignore[index]
        job = spec["jobTemplate"]["spec"]  # type: ignore[index]
        assert 0 < spec["startingDeadlineSeconds"] < interval  # type: ignore[index]
        assert 0 < job["activeDeadlineSeconds"] < interval
        assert job["backoffLimit"] >= 0
        assert spec["successfulJobsHistoryLimit"] and spec["failedJobsHistoryLimit"]  # type: ignore[index]
        pod = job["template"]
        assert pod["metadata"]["labels"]["component"] == "maintenance"
        container = pod["spec"]["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        env = {item["name"] for item in container["env"]}
        assert {"SENTINEL_HOST", "MASTER_SET", "TLS_DIR"} <= env
