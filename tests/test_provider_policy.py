"""The model providers' retry policy, circuit breaker, token estimate and request batching as pure
functions, checked by properties (hypothesis); the HTTP layer that applies them is tested against the
stand-ins in test_embed_providers.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from lightfast.embed.hosted import EstimatingTokenizer
from lightfast.embed.openai import token_batches
from lightfast.embed.resilience import (
    BreakerConfig,
    BreakerState,
    RetryPolicy,
    backoff_delay,
    breaker_admit,
    breaker_failure,
    breaker_success,
    parse_retry_after,
    retry_delay,
)

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@given(st.integers(min_value=0, max_value=86_400))
def test_retry_after_in_seconds_is_read_as_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds), NOW) == float(seconds)
    assert parse_retry_after(f"  {seconds} ", NOW) == float(seconds)


@given(st.integers(min_value=-86_400, max_value=86_400))
def test_retry_after_as_an_http_date_is_the_time_until_it_never_negative(offset: int) -> None:
    header = format_datetime(NOW + timedelta(seconds=offset), usegmt=True)
    assert parse_retry_after(header, NOW) == max(0.0, float(offset))


@given(st.text(max_size=40))
def test_an_unreadable_retry_after_is_none_or_a_sane_wait(text: str) -> None:
    wait = parse_retry_after(text, NOW)
    assert wait is None or 0.0 <= wait <= 86_400.0
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("-5", NOW) is None
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("99999999999", NOW) is None


policies = st.builds(
    RetryPolicy,
    attempts=st.integers(1, 10),
    base_delay=st.floats(0, 5),
    max_delay=st.floats(0, 120),
    max_wait=st.floats(0, 600),
)


@given(policies, st.integers(0, 200), st.floats(0, 1, exclude_max=True))
def test_backoff_is_full_jitter_under_an_exponential_ceiling(
    policy: RetryPolicy, attempt: int, draw: float
) -> None:
    delay = backoff_delay(attempt, policy, draw)
    ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** min(attempt, 62))
    assert 0.0 <= delay <= ceiling
    assert backoff_delay(attempt, policy, 0.0) == 0.0


@given(policies, st.integers(0, 20), st.none() | st.floats(0, 1000), st.floats(0, 1, exclude_max=True))
def test_retries_stop_after_the_attempts_and_a_long_retry_after_is_not_waited(
    policy: RetryPolicy, attempt: int, retry_after: float | None, draw: float
) -> None:
    delay = retry_delay(attempt, retry_after, policy, draw)
    if attempt + 1 >= policy.attempts:
        assert delay is None
    elif retry_after is not None:
        assert delay == (retry_after if retry_after <= policy.max_wait else None)
    else:
        assert delay is not None
        assert 0 <= delay <= policy.max_delay


events = st.lists(st.sampled_from(["admit", "ok", "fail", "tick"]), max_size=60)


@settings(max_examples=300)
@given(st.integers(1, 5), st.floats(0.5, 60), events)
def test_the_breaker_state_machine_against_a_model(threshold: int, cooldown: float, steps: list[str]) -> None:
    """Open exactly at ``threshold`` consecutive failures; no call admitted while open before the
    cooldown; after it, exactly one trial until that trial reports."""
    config = BreakerConfig(threshold, cooldown)
    state, now, streak = BreakerState(), 0.0, 0
    for step in steps:
        before = state
        if step == "tick":
            now += cooldown / 3
        elif step == "admit":
            allowed, state = breaker_admit(state, now, config)
            if before.phase == "closed":
                assert allowed
            elif before.phase == "open":
                assert allowed == (now - before.opened_at >= cooldown)
                assert state.phase == ("half_open" if allowed else "open")
            else:
                assert allowed == (not before.trial_in_flight)
        elif step == "ok":
            state, streak = breaker_success(state), 0
            assert state == BreakerState()
        else:
            streak += 1
            state = breaker_failure(state, now, config)
            if before.phase == "closed":
                assert state.phase == ("open" if streak >= threshold else "closed")
            else:
                assert state.phase == "open"
            if before.phase != "open" and state.phase == "open":
                assert state.opened_at == now


@given(st.text(max_size=400))
def test_the_token_estimate_errs_long(text: str) -> None:
    count = EstimatingTokenizer().count(text)
    assert count >= len(text.encode()) / 4  # above the ~4 bytes a token of English prose
    assert count >= len(text.split())  # never fewer tokens than words
    assert (count == 0) == (text == "")


@given(st.lists(st.integers(0, 5000), max_size=300), st.integers(1, 50), st.integers(1, 20_000))
def test_token_batches_cover_every_input_in_order_within_both_caps(
    counts: list[int], max_inputs: int, max_tokens: int
) -> None:
    ranges = token_batches(counts, max_inputs, max_tokens)
    assert [i for start, end in ranges for i in range(start, end)] == list(range(len(counts)))
    for start, end in ranges:
        assert 1 <= end - start <= max_inputs
        assert sum(counts[start:end]) <= max_tokens or end - start == 1
