"""When to retry a GitHub API call, and after how long (pure).

GitHub asks clients to wait for ``Retry-After`` when it sends one, to wait until ``x-ratelimit-reset``
when the primary rate limit is used up, to wait at least a minute on a secondary rate limit without
either header, and to back off on server errors. A 4xx that is not a rate limit (bad credentials, not
found, validation) will fail the same way again, so it is not retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

RETRYABLE_SERVER_STATUSES = frozenset({500, 502, 503, 504})
SECONDARY_LIMIT_WAIT = 60.0  # GitHub: "wait for at least one minute" when no header says how long
RESET_MARGIN = (
    1.0  # the reset time has one-second resolution; waiting a little past it avoids a retry too soon
)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    base_delay: float = 1.0  # first backoff after a server or network error, doubled each attempt
    max_delay: float = 60.0  # cap of one backoff
    max_wait: float = 900.0  # a rate-limit reset further away than this fails the call instead


def is_rate_limited(status: int, headers: Mapping[str, str], message: str = "") -> bool:
    if status == 429:
        return True
    if status != 403:
        return False
    return (
        "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
        or "rate limit" in message.lower()
    )


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float:
    """Seconds to wait before a rate-limited call may succeed."""
    retry_after = headers.get("retry-after")
    if retry_after is not None and retry_after.strip().isdigit():
        return float(int(retry_after))
    reset = headers.get("x-ratelimit-reset")
    if headers.get("x-ratelimit-remaining") == "0" and reset is not None and reset.strip().isdigit():
        return max(0.0, int(reset) - now) + RESET_MARGIN
    return SECONDARY_LIMIT_WAIT


def retry_delay(
    policy: RetryPolicy,
    attempt: int,
    status: int | None,
    headers: Mapping[str, str],
    now: float,
    message: str = "",
) -> float | None:
    """Seconds to wait before retrying a call whose ``attempt``-th try (0-based) failed, or None to give up.

    ``status`` is None for a network error or a timeout; ``headers`` must have lower-case names.
    """
    if attempt >= policy.max_retries:
        return None
    if status is not None and is_rate_limited(status, headers, message):
        wait = rate_limit_wait(headers, now)
        return wait if wait <= policy.max_wait else None
    if status is None or status in RETRYABLE_SERVER_STATUSES:
        return float(min(policy.max_delay, policy.base_delay * 2.0**attempt))
    return None
