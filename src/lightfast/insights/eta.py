"""How long the rest of a job should take (pure): the estimate its record carries and the CLI shows."""

from __future__ import annotations

import math


def remaining_seconds(elapsed: float, done: int, total: int | None) -> float | None:
    """Seconds the ``total - done`` items left should take at the rate the first ``done`` took in
    ``elapsed`` seconds: ``elapsed / done * (total - done)``, rounded to a tenth of a second.

    ``None`` when no rate is known yet (nothing done, no total, no time measured, or a time that is not
    a finite number), ``0.0`` once everything is done. A negative ``elapsed`` (clocks that disagree)
    counts as none measured.

    >>> remaining_seconds(10.0, 2, 10)
    40.0
    >>> remaining_seconds(10.0, 0, 10) is None
    True
    """
    if total is None or not math.isfinite(elapsed):
        return None
    if done >= total:
        return 0.0
    if done <= 0 or elapsed <= 0:
        return None
    return round(elapsed / done * (total - done), 1)
