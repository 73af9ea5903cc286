"""The GitHub retry policy (pure): rate limits wait for Retry-After or the reset, server and network
errors back off, hopeless 4xx answers are never retried, and nothing waits forever."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lightfast.sources.github.retry import (
    RESET_MARGIN,
    SECONDARY_LIMIT_WAIT,
    RetryPolicy,
    is_rate_limited,
    retry_delay,
)

POLICY = RetryPolicy(max_retries=5, base_delay=1.0, max_delay=60.0, max_wait=900.0)
NOW = 1_800_000_000.0
HOPELESS = st.sampled_from([400, 401, 404, 405, 409, 410, 422])
attempts = st.integers(min_value=0, max_value=4)


def test_primary_rate_limit_waits_until_the_reset() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 42)}
    assert retry_delay(POLICY, 0, 403, headers, NOW) == 42 + RESET_MARGIN


def test_retry_after_wins_and_is_honoured_exactly() -> None:
    headers = {"retry-after": "7", "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 99)}
    assert retry_delay(POLICY, 0, 429, headers, NOW) == 7.0


def test_secondary_limit_without_headers_waits_a_minute() -> None:
    message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    assert is_rate_limited(403, {}, message)
    assert retry_delay(POLICY, 0, 403, {}, NOW, message) == SECONDARY_LIMIT_WAIT


def test_a_plain_403_is_not_a_rate_limit() -> None:
    assert (
        retry_delay(POLICY, 0, 403, {"x-ratelimit-remaining": "4999"}, NOW, "Resource not accessible") is None
    )


def test_a_reset_too_far_away_gives_up() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 3600)}
    assert retry_delay(POLICY, 0, 403, headers, NOW) is None


def test_server_errors_back_off_exponentially() -> None:
    assert [retry_delay(POLICY, a, 502, {}, NOW) for a in range(6)] == [1.0, 2.0, 4.0, 8.0, 16.0, None]


@given(HOPELESS, attempts)
def test_hopeless_client_errors_are_never_retried(status: int, attempt: int) -> None:
    assert retry_delay(POLICY, attempt, status, {}, NOW, "Not Found") is None


@given(st.one_of(st.none(), st.sampled_from([500, 502, 503, 504])), st.integers(0, 20))
def test_backoff_is_bounded_and_stops(status: int | None, attempt: int) -> None:
    delay = retry_delay(POLICY, attempt, status, {}, NOW)
    if attempt >= POLICY.max_retries:
        assert delay is None
    else:
        assert delay is not None
        assert 0 < delay <= POLICY.max_delay


@given(st.integers(0, 4), st.sampled_from([500, 502, 503, 504]))
def test_backoff_never_shrinks(attempt: int, status: int) -> None:
    first = retry_delay(POLICY, attempt, status, {}, NOW)
    second = retry_delay(POLICY, attempt + 1, status, {}, NOW)
    assert first is not None
    assert second is None or second >= first


@given(st.integers(-10_000, 10_000), attempts)
def test_rate_limit_waits_are_never_negative_or_past_the_cap(offset: int, attempt: int) -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + offset)}
    delay = retry_delay(POLICY, attempt, 403, headers, NOW)
    if delay is not None:
        assert 0 <= delay <= POLICY.max_wait
        assert delay >= offset  # never before the reset
