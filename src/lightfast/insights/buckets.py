"""Hourly buckets for time series (pure). Hours are UTC; a bucket ``h`` holds the instants
``h <= t < h + 1 hour`` (start inclusive, end exclusive), and a series has every hour of its range,
empty ones included, so a chart's x axis is a clock and not a list of the busy hours."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TypeVar

HOUR = timedelta(hours=1)
T = TypeVar("T")


def hour_of(moment: datetime) -> datetime:
    """The UTC hour ``moment`` falls in (its bucket's start). A naive datetime is taken as UTC."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.replace(minute=0, second=0, microsecond=0)


def hours_ending_at(now: datetime, count: int) -> list[datetime]:
    """The ``count`` hour starts up to and including the hour of ``now`` (the current, partial hour
    last), oldest first."""
    if count < 1:
        raise ValueError("count must be at least 1")
    last = hour_of(now)
    return [last - HOUR * (count - 1 - i) for i in range(count)]


def fill_hours(hours: list[datetime], values: Mapping[datetime, T], empty: Callable[[], T]) -> list[T]:
    """One value per hour of ``hours``: the one ``values`` holds for it (keys are hour starts), else
    ``empty()``. Values of hours outside ``hours`` are dropped."""
    return [values[h] if h in values else empty() for h in hours]
