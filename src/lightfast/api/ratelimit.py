"""A per-key token bucket (pure apart from the injected clock).

Limits are per process: with several replicas each enforces the limit on its own share of traffic."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the bucket is full again
    retry_after: int  # seconds until one request is allowed (0 if allowed)


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = per_minute
        self.rate = per_minute / 60.0  # tokens a second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self._lock = threading.Lock()

    def check(self, key: str) -> Decision:
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(key, (float(self.capacity), now))
            tokens = min(float(self.capacity), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
        missing = self.capacity - tokens
        return Decision(
            allowed=allowed,
            limit=self.capacity,
            remaining=int(tokens),
            reset_seconds=math.ceil(missing / self.rate) if missing > 0 else 0,
            retry_after=0 if allowed else math.ceil((1.0 - tokens) / self.rate),
        )
