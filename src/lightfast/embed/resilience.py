"""How a call to a model provider is retried and when it stops being tried: pure functions over plain
data, so the policy is tested by properties and the HTTP layer (``lightfast.embed.http``) only applies it.

- ``parse_retry_after``: the ``Retry-After`` header, in delta-seconds or an HTTP date (RFC 9110 §10.2.3).
- ``backoff_delay``: exponential backoff with *full jitter* (a uniform draw in ``[0, min(cap, base*2^n)]``):
  clients that failed together do not retry together.
- ``BreakerState`` and its transitions: a circuit breaker that opens after ``threshold`` consecutive
  failures, fails calls fast for ``cooldown`` seconds, then lets one trial call through (half-open):
  success closes it, failure opens it again. A provider that stays down costs a job one quick, clear
  failure instead of minutes of retries per batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

# A Retry-After beyond a day is not a wait anyone means: treat it as absent and back off instead.
MAX_RETRY_AFTER_SECONDS = 86_400.0


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` calls at most (the first included); waits from backoff unless the provider names one.
    A provider asking for longer than ``max_wait`` is not waited for: the call fails at once (a job is
    better failed and retried later than holding a worker for minutes)."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_wait: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_wait < 0:
            raise ValueError("delays cannot be negative")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: a non-negative integer of seconds, or an HTTP date
    (a date in the past means 0). None when absent or unreadable, so the caller backs off instead."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():  # delta-seconds is ASCII digits ("¹".isdigit() is true too)
        seconds = float(int(text))
        return seconds if seconds <= MAX_RETRY_AFTER_SECONDS else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None instead of raising
        return None
    if when.tzinfo is None:  # HTTP dates are GMT; "-0000" parses naive
        when = when.replace(tzinfo=UTC)
    seconds = (when - now).total_seconds()
    if not math.isfinite(seconds) or seconds > MAX_RETRY_AFTER_SECONDS:
        return None
    return max(0.0, seconds)


def backoff_delay(attempt: int, policy: RetryPolicy, draw: float) -> float:
    """Full-jitter delay before retry number ``attempt`` (0 for the first retry): ``draw`` in [0, 1) is
    the random factor, passed in so the function stays pure."""
    if attempt < 0:
        raise ValueError("attempt cannot be negative")
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** min(attempt, 62))
    return min(max(draw, 0.0), 1.0) * ceiling


def retry_delay(attempt: int, retry_after: float | None, policy: RetryPolicy, draw: float) -> float | None:
    """The wait before the next attempt, or None when no attempt is left or the provider's requested
    wait exceeds ``policy.max_wait``. A provider's own ``Retry-After`` wins over backoff."""
    if attempt + 1 >= policy.attempts:
        return None
    if retry_after is not None:
        return retry_after if retry_after <= policy.max_wait else None
    return backoff_delay(attempt, policy, draw)


BreakerPhase = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerState:
    phase: BreakerPhase = "closed"
    failures: int = 0  # consecutive failures while closed
    opened_at: float = 0.0  # monotonic seconds when it last opened
    trial_in_flight: bool = False  # half-open: the one trial call is out


@dataclass(frozen=True)
class BreakerConfig:
    threshold: int = 5
    cooldown: float = 30.0

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError("a breaker opens after at least one failure")
        if self.cooldown < 0:
            raise ValueError("cooldown cannot be negative")


def breaker_admit(state: BreakerState, now: float, config: BreakerConfig) -> tuple[bool, BreakerState]:
    """Whether a call may go out now, and the state after deciding. Open until the cooldown passes; then
    one trial call (half-open) while the others still fail fast."""
    if state.phase == "closed":
        return True, state
    if state.phase == "open":
        if now - state.opened_at >= config.cooldown:
            return True, BreakerState("half_open", state.failures, state.opened_at, trial_in_flight=True)
        return False, state
    if state.trial_in_flight:
        return False, state
    return True, replace(state, trial_in_flight=True)


def breaker_success(state: BreakerState) -> BreakerState:
    return BreakerState()


def breaker_failure(state: BreakerState, now: float, config: BreakerConfig) -> BreakerState:
    """A failed call: counts towards the threshold while closed; a failed trial re-opens at once."""
    if state.phase == "half_open":
        return BreakerState("open", state.failures + 1, now)
    failures = state.failures + 1
    if state.phase == "closed" and failures < config.threshold:
        return BreakerState("closed", failures)
    if state.phase == "open":  # a call admitted before it opened came back failing: keep the cooldown
        return replace(state, failures=failures)
    return BreakerState("open", failures, now)


def breaker_retry_in(state: BreakerState, now: float, config: BreakerConfig) -> float:
    """Seconds until an open breaker admits its trial call (0 when it would now)."""
    if state.phase != "open":
        return 0.0
    return max(0.0, config.cooldown - (now - state.opened_at))
