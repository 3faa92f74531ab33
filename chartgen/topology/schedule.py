"""The cleanup jobs' cron schedules, derived from the spec's intervals. Cron counts minutes of
the hour and hours of the day: only an interval that divides an hour or a day (or is a day or a
week) runs evenly; `*/7` would run at :56 and again at :00. The chart's Helm helper
`cronSchedule` applies the same table to the values and fails the render on anything else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chartgen.topology.load import KeyPath

DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES
INTERVALS = (("sessions", "cleanupIntervalSeconds"), ("cache", "cleanupIntervalSeconds"))


def cron_schedule(seconds: int) -> str | None:
    """The cron schedule that runs every `seconds`, or None when cron has none."""
    if seconds < 60 or seconds % 60:
        return None
    minutes = seconds // 60
    if minutes < 60 and 60 % minutes == 0:
        return f"*/{minutes} * * * *"
    if minutes == 60:
        return "0 * * * *"
    if minutes < DAY_MINUTES and minutes % 60 == 0 and DAY_MINUTES % minutes == 0:
        return f"0 */{minutes // 60} * * *"
    if minutes == DAY_MINUTES:
        return "0 0 * * *"
    if minutes == WEEK_MINUTES:
        return "0 0 * * 0"
    return None


def cleanup_schedule(spec: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """Each cleanup interval must be one a cron schedule runs evenly: whole minutes that divide
    an hour, whole hours that divide a day, a day or a week."""
    for database, key in INTERVALS:
        seconds = spec["databases"][database][key]
        if cron_schedule(seconds) is None:
            yield (
                ("databases", database, key),
                f"{seconds} s has no evenly spaced cron schedule; use 60-3600 s dividing an "
                "hour (60, 120, 180, 240, 300, 360, 600, 720, 900, 1200, 1800, 3600), hours "
                "dividing a day (7200, 10800, 14400, 21600, 28800, 43200), 86400 or 604800",
            )
