"""Nearest-rank percentiles (pure), the method seed 003 uses for job durations and latencies."""

from __future__ import annotations

import math
from collections.abc import Sequence


def nearest_rank_percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile by the nearest-rank method.

    With ``n`` values sorted ascending this is ``sorted[ceil(p / 100 * n) - 1]``, so p100 is
    the maximum and p50 of ``1..10`` is 5. Raises ``ValueError`` if ``values`` is empty or
    holds a NaN, or if ``p`` is not in ``(0, 100]``.
    """
    return nearest_rank_percentiles(values, (p,))[0]


def nearest_rank_percentiles(values: Sequence[float], ps: Sequence[float]) -> list[float]:
    """:func:`nearest_rank_percentile` for each of ``ps``, sorting ``values`` once (a dashboard asks for
    p50, p95 and p99 of up to a hundred thousand durations)."""
    if not values:
        raise ValueError("nearest_rank_percentile of an empty sequence")
    wanted = [float(p) for p in ps]
    for p in wanted:
        if not (0 < p <= 100):  # also rejects NaN
            raise ValueError(f"p must be in (0, 100], got {p!r}")
    ordered = sorted(float(v) for v in values)
    if math.isnan(ordered[0]) or any(math.isnan(v) for v in ordered):
        raise ValueError("values must not contain NaN")
    n = len(ordered)
    # p * n first keeps e.g. 95 * 20 / 100 exact
    return [ordered[min(n - 1, max(0, math.ceil(p * n / 100) - 1))] for p in wanted]
