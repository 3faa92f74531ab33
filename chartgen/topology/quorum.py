"""Sentinel arithmetic shared by the rules, the model and the chart."""

from __future__ import annotations


def majority(count: int) -> int:
    """Smallest number of Sentinels that is more than half of `count`."""
    return count // 2 + 1
