"""Rank/score fusion for hybrid search.

All functions are pure and deterministic: equal scores are ordered by first appearance (best
position across the input lists, then list order), and sums use :func:`math.fsum` so a score
does not depend on the order of the input lists.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import TypeVar

__all__ = [
    "min_max_normalize",
    "reciprocal_rank_fusion",
    "weighted_score_fusion",
]

K = TypeVar("K", bound=Hashable)


def _check_weights(weights: Sequence[float] | None, n_lists: int, what: str) -> list[float]:
    if weights is None:
        return [1.0] * n_lists
    if len(weights) != n_lists:
        raise ValueError(f"weights has {len(weights)} entries but there are {n_lists} {what}")
    out: list[float] = []
    for w in weights:
        w = float(w)
        if not math.isfinite(w) or w < 0:
            raise ValueError(f"weights must be finite and non-negative, got {w!r}")
        out.append(w)
    return out


def _fuse(contributions: dict[K, list[float]], first_seen: dict[K, tuple[int, int]]) -> list[tuple[K, float]]:
    scored = [(key, math.fsum(parts)) for key, parts in contributions.items()]
    scored.sort(key=lambda item: (-item[1], first_seen[item[0]]))
    return scored


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]], k: float = 60.0, weights: Sequence[float] | None = None
) -> list[tuple[K, float]]:
    """Reciprocal rank fusion: ``score(key) = sum_i weight_i / (k + rank_i(key))``.

    Ranks are 1-based; a key absent from a list contributes nothing, and a key repeated within
    one list counts once, at its best rank. The result holds every key of every list, sorted by
    score descending; ties go to the key seen first (best rank across lists, then list order).

    Raises ``ValueError`` if ``k`` is negative or not finite, or if ``weights`` does not have
    one finite non-negative entry per ranking.
    """
    k = float(k)
    if not math.isfinite(k) or k < 0:
        raise ValueError(f"k must be finite and >= 0, got {k!r}")
    ws = _check_weights(weights, len(rankings), "rankings")
    contributions: dict[K, list[float]] = {}
    first_seen: dict[K, tuple[int, int]] = {}
    for list_index, (ranking, weight) in enumerate(zip(rankings, ws, strict=True)):
        seen_here: set[K] = set()
        for rank, key in enumerate(ranking, start=1):
            if key in seen_here:
                continue
            seen_here.add(key)
            contributions.setdefault(key, []).append(weight / (k + rank))
            position = (rank, list_index)
            if key not in first_seen or position < first_seen[key]:
                first_seen[key] = position
    return _fuse(contributions, first_seen)


def min_max_normalize(scores: Sequence[float]) -> list[float]:
    """Scale ``scores`` linearly to ``[0, 1]`` (min -> 0.0, max -> 1.0).

    All-equal scores give all ``1.0``; an empty input gives ``[]``. Raises ``ValueError`` on a
    NaN or infinite score.
    """
    values = [float(s) for s in scores]
    if not values:
        return []
    if not all(math.isfinite(v) for v in values):
        raise ValueError("scores must be finite")
    lo, hi = min(values), max(values)
    if lo == hi:
        return [1.0] * len(values)
    span = hi - lo
    if math.isinf(span):  # e.g. -1e308 .. 1e308: halve everything to stay finite
        lo, span = lo / 2, hi / 2 - lo / 2
        values = [v / 2 for v in values]
    return [min(1.0, max(0.0, (v - lo) / span)) for v in values]


def weighted_score_fusion(
    results: Sequence[Sequence[tuple[K, float]]], weights: Sequence[float] | None = None
) -> list[tuple[K, float]]:
    """Weighted sum of per-list min-max normalised scores.

    Each list of ``(key, score)`` pairs is normalised with :func:`min_max_normalize` (a key
    repeated within one list keeps its highest score); a key missing from a list contributes
    0. The result holds every key, sorted by fused score descending; ties go to the key seen
    first (best position across lists, then list order).

    Raises ``ValueError`` if ``weights`` does not have one finite non-negative entry per list,
    or on a non-finite score.
    """
    ws = _check_weights(weights, len(results), "result lists")
    contributions: dict[K, list[float]] = {}
    first_seen: dict[K, tuple[int, int]] = {}
    for list_index, (pairs, weight) in enumerate(zip(results, ws, strict=True)):
        best: dict[K, float] = {}
        for position, (key, score) in enumerate(pairs):
            score = float(score)
            if key not in best or score > best[key]:
                best[key] = score
            seen_at = (position, list_index)
            if key not in first_seen or seen_at < first_seen[key]:
                first_seen[key] = seen_at
        for key, norm in zip(best, min_max_normalize(list(best.values())), strict=True):
            contributions.setdefault(key, []).append(weight * norm)
    return _fuse(contributions, first_seen)
