"""Pacing Linear's API ahead of its limits (https://linear.app/developers/rate-limiting).

Linear meters two leaky buckets per key, requests and query complexity, refilled at a constant
``LIMIT / hour``. Every answer carries what is left (``X-RateLimit-{Requests,Complexity}-Remaining``,
``-Limit``, ``-Reset`` in Unix ms) and what the query cost (``X-Complexity``). Waiting for ``RATELIMITED``
wastes a request and, on a shared key, starves the key's other users; instead the client waits, before
its next query, the time the buckets need to hold that query's cost (taken as the last one's, with a
margin). Pure: the headers in, seconds out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

HOUR_MS = 3_600_000
MARGIN = 1.2  # the next page of a connection may cost a little more than this one (longer fields)
MAX_PAUSE = 300.0  # never wait longer than this for a bucket to refill, whatever the headers say


@dataclass(frozen=True)
class Bucket:
    remaining: float
    limit: float | None
    reset_ms: int | None

    def level(self, elapsed_ms: int) -> float:
        """What is left ``elapsed_ms`` after the answer said ``remaining``: it refills at limit/hour."""
        if self.limit is None or self.limit <= 0:
            return self.remaining
        return min(self.limit, self.remaining + max(0, elapsed_ms) * self.limit / HOUR_MS)

    def wait_for(self, need: float, elapsed_ms: int, now_ms: int) -> float:
        """Seconds until the bucket holds ``need``: by its refill rate, or (rate unknown) at its reset."""
        short = need - self.level(elapsed_ms)
        if short <= 0:
            return 0.0
        waits = []
        if self.limit is not None and self.limit > 0:
            waits.append(short * HOUR_MS / self.limit / 1000)
        if self.reset_ms is not None:
            waits.append(max(0.0, (self.reset_ms - now_ms) / 1000))
        return min(waits) if waits else 0.0


@dataclass(frozen=True)
class Budget:
    """What one answer said of both buckets, and when it was read."""

    observed_ms: int
    requests: Bucket | None = None
    complexity: Bucket | None = None
    last_cost: float | None = None  # X-Complexity of the query that answer was for


def _number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number >= 0 and number == number and number != float("inf") else None


def _bucket(headers: Mapping[str, str], kind: str) -> Bucket | None:
    remaining = _number(headers, f"x-ratelimit-{kind}-remaining")
    if remaining is None:
        return None
    reset = _number(headers, f"x-ratelimit-{kind}-reset")
    return Bucket(remaining, _number(headers, f"x-ratelimit-{kind}-limit"), int(reset) if reset else None)


def read_budget(headers: Mapping[str, str], now_ms: int) -> Budget:
    """The buckets an answer's headers describe (lower-cased names); a header missing or malformed
    (a vendor answer is input like any other) leaves that part unknown, never an error."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return Budget(
        observed_ms=now_ms,
        requests=_bucket(lowered, "requests"),
        complexity=_bucket(lowered, "complexity"),
        last_cost=_number(lowered, "x-complexity"),
    )


def pause(budget: Budget | None, now_ms: int) -> float:
    """Seconds to wait before the next query so neither bucket runs dry: 0 when both hold enough."""
    if budget is None:
        return 0.0
    elapsed = now_ms - budget.observed_ms
    waits = [0.0]
    if budget.requests is not None:
        waits.append(budget.requests.wait_for(1, elapsed, now_ms))
    if budget.complexity is not None and budget.last_cost:
        waits.append(budget.complexity.wait_for(budget.last_cost * MARGIN, elapsed, now_ms))
    return min(max(waits), MAX_PAUSE)
