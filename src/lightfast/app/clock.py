"""The clock port: the time the job engine reads (when to sweep for orphans, which schedule slot is due,
how old a claim is). The system clock in production; ``lightfast.testing.FakeClock`` in tests, which move
it by hand instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring intervals."""


class SystemClock:
    """The machine's clocks."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()
