"""Reporting periods and their comparison (pure): the window a dashboard figure covers, the window just
before it, and the change between the two (seed 003's ``statisticsComparison``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

#: The periods (and ranges) the dashboard and the API offer, by their wire name.
PERIODS: dict[str, timedelta] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
PERIOD_NAMES: tuple[str, ...] = tuple(PERIODS)


@dataclass(frozen=True)
class Window:
    """A half-open time window: ``start <= t < end``. Adjacent windows share a bound and no instant."""

    start: datetime
    end: datetime

    def __contains__(self, moment: object) -> bool:
        return isinstance(moment, datetime) and self.start <= moment < self.end


@dataclass(frozen=True)
class Comparison:
    """One figure in the current window and in the previous one, and the change in percent (``None``
    when it has no finite value: see :func:`percent_change`)."""

    current: float | None
    previous: float | None
    change_percent: float | None


def period_length(period: str) -> timedelta:
    """The length of a named period; ``ValueError`` for a name not in :data:`PERIODS`."""
    try:
        return PERIODS[period]
    except KeyError:
        raise ValueError(f"period must be one of {', '.join(PERIOD_NAMES)}, got {period!r}") from None


def windows(period: str, now: datetime) -> tuple[Window, Window]:
    """The window ending at ``now`` (exclusive) and the equally long window right before it."""
    length = period_length(period)
    current = Window(now - length, now)
    return current, Window(current.start - length, current.start)


def percent_change(current: float | None, previous: float | None) -> float | None:
    """``(current - previous) / |previous| * 100`` rounded to one decimal.

    Defined answers where the formula has none: ``0.0`` when both are 0 (nothing changed); ``None`` when
    ``previous`` is 0 and ``current`` is not (growth from nothing has no finite percentage: the console
    says "new"), when either side is unknown (``None`` or not finite), and when the ratio overflows.

    >>> percent_change(150, 100)
    50.0
    >>> percent_change(0, 0)
    0.0
    >>> percent_change(5, 0) is None
    True
    """
    if current is None or previous is None or not math.isfinite(current) or not math.isfinite(previous):
        return None
    if previous == 0:
        return 0.0 if current == 0 else None
    change = (current - previous) / abs(previous) * 100
    if not math.isfinite(change):  # a previous value so small the ratio overflows
        return None
    return round(change, 1) + 0.0  # + 0.0 turns -0.0 into 0.0


def compare(current: float | None, previous: float | None) -> Comparison:
    return Comparison(current, previous, percent_change(current, previous))
