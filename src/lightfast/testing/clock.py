"""A clock that moves only when the test says so."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class FakeClock:
    """Implements :class:`lightfast.app.clock.Clock`. It starts at ``start`` (default: the real time now,
    so it agrees with timestamps the database wrote) and stands still until :meth:`advance` or
    :meth:`advance_to` moves it; both its readings move together and never go back.

    ::

        clock = FakeClock()
        services = build_services(settings, clock=clock)
        clock.advance(60)  # a minute later, at once
    """

    def __init__(self, start: datetime | None = None, *, monotonic: float = 1000.0) -> None:
        start = start if start is not None else datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("the start time must be timezone-aware")
        self._lock = threading.Lock()
        self._now = start.astimezone(UTC)
        self._monotonic = monotonic

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move the clock forward; returns the new time."""
        step = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        if step < 0:
            raise ValueError("a clock never goes back")
        with self._lock:
            self._now += timedelta(seconds=step)
            self._monotonic += step
            return self._now

    def advance_to(self, when: datetime) -> datetime:
        """Move the clock forward to ``when`` (aware); returns it."""
        if when.tzinfo is None:
            raise ValueError("the time must be timezone-aware")
        return self.advance(when - self.now())

    def __repr__(self) -> str:
        return f"FakeClock({self.now().isoformat()})"
