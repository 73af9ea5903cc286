"""The dashboard's pure computations: periods and their comparison, health thresholds and the health
tree, hourly buckets (lightfast.insights.periods, .health, .buckets)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightfast.insights.buckets import HOUR, fill_hours, hour_of, hours_ending_at
from lightfast.insights.health import (
    HealthStatus,
    assess,
    node,
    status_for_rate,
)
from lightfast.insights.periods import PERIODS, Window, percent_change, period_length, windows

moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
amounts = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
counts = st.integers(min_value=0, max_value=10_000)


# -- periods -----------------------------------------------------------------------------------------


def test_percent_change_examples() -> None:
    assert percent_change(150, 100) == 50.0
    assert percent_change(50, 100) == -50.0
    assert percent_change(1, 3) == -66.7
    assert percent_change(-50, -100) == 50.0  # against the magnitude of the previous value
    assert percent_change(0, 0) == 0.0
    assert percent_change(5, 0) is None
    assert percent_change(None, 4) is None
    assert percent_change(4, None) is None
    assert percent_change(math.inf, 4) is None


@given(amounts, amounts)
def test_percent_change_is_defined_or_none_and_has_the_right_sign(current: float, previous: float) -> None:
    change = percent_change(current, previous)
    if previous == 0:
        assert change == (0.0 if current == 0 else None)
        return
    if change is None:  # only when the ratio overflows (a subnormal previous value)
        with np.errstate(over="ignore"):
            assert not np.isfinite((np.float64(current) - previous) / abs(previous) * 100)
        return
    assert math.isfinite(change)
    if current == previous:
        assert change == 0.0
    elif abs(current - previous) / abs(previous) * 100 >= 0.05:  # not rounded away
        assert (change > 0) == (current > previous)
    assert str(change) != "-0.0"


@given(st.floats(min_value=1e-3, max_value=1e9), st.floats(min_value=0, max_value=10))
def test_percent_change_scales_with_the_ratio(previous: float, factor: float) -> None:
    change = percent_change(previous * factor, previous)
    assert change is not None
    assert change == pytest.approx((factor - 1) * 100, abs=0.051)


@given(moments, st.sampled_from(sorted(PERIODS)))
def test_windows_are_adjacent_equal_and_end_now(now: datetime, period: str) -> None:
    current, previous = windows(period, now)
    assert current.end == now
    assert previous.end == current.start  # shared bound, no shared instant: half-open
    assert current.end - current.start == previous.end - previous.start == PERIODS[period]
    assert current.start in current
    assert current.start not in previous
    assert now not in current  # the end is exclusive
    assert current.start - timedelta(microseconds=1) in previous


def test_unknown_period_is_refused() -> None:
    with pytest.raises(ValueError, match="period must be one of 24h, 7d, 30d"):
        period_length("1y")
    assert "not a datetime" not in Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


# -- health ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("succeeded", "failed", "status"),
    [
        (95, 5, HealthStatus.HEALTHY),  # exactly 95 %: healthy
        (94, 6, HealthStatus.DEGRADED),
        (80, 20, HealthStatus.DEGRADED),  # exactly 80 %: degraded
        (79, 21, HealthStatus.DOWN),
        (0, 3, HealthStatus.DOWN),
        (1, 0, HealthStatus.HEALTHY),
        (0, 0, HealthStatus.UNKNOWN),
    ],
)
def test_health_thresholds(succeeded: int, failed: int, status: HealthStatus) -> None:
    assessed = assess(succeeded, failed)
    assert assessed.status is status
    assert (assessed.reason is None) == (status is HealthStatus.HEALTHY)


def test_health_reason_says_what_failed() -> None:
    assert assess(7, 3).reason == "3 of 10 jobs failed in the last 24 h (70.0 % succeeded)"
    assert assess(0, 0).reason == "no finished jobs in the last 24 h"
    with pytest.raises(ValueError, match="negative"):
        assess(-1, 0)


@given(counts, counts)
def test_health_status_follows_the_success_rate(succeeded: int, failed: int) -> None:
    assessed = assess(succeeded, failed)
    if succeeded + failed == 0:
        assert assessed.status is HealthStatus.UNKNOWN
        assert assessed.success_rate is None
        return
    rate = succeeded / (succeeded + failed)
    assert assessed.success_rate == rate
    assert assessed.status is status_for_rate(rate)
    # More successes never make it worse.
    better = assess(succeeded + 1, failed)
    order = [HealthStatus.DOWN, HealthStatus.DEGRADED, HealthStatus.HEALTHY]
    assert order.index(better.status) >= order.index(assessed.status)


def test_health_tree_rolls_up_the_worst_known_child() -> None:
    broken = node("source", "s1", "repo-a", 1, 9)
    quiet = node("source", "s2", "repo-b", 0, 0)
    store = node("store", "st", "docs", 10, 0, (broken, quiet))
    assert broken.status is HealthStatus.DOWN
    assert store.status is HealthStatus.DOWN
    assert store.reason is not None
    assert store.reason.startswith("source repo-a is down: 9 of 10 jobs failed")
    workspace = node("workspace", "w", "w", 0, 0, (store,))
    assert workspace.status is HealthStatus.DOWN
    assert workspace.reason is not None
    assert workspace.reason.startswith("store docs is down: source repo-a is down")
    # An unknown child does not pull a healthy parent down; a parent with nothing known stays unknown.
    assert node("store", "st", "docs", 5, 0, (quiet,)).status is HealthStatus.HEALTHY
    lonely = node("workspace", "w", "w", 0, 0, (quiet,))
    assert (lonely.status, lonely.reason) == (HealthStatus.UNKNOWN, "no finished jobs in the last 24 h")
    # Without evidence of its own, a parent takes its healthy children's word.
    assert (
        node("store", "st", "docs", 0, 0, (node("source", "s", "ok", 3, 0),)).status is HealthStatus.HEALTHY
    )


def test_configuration_problem_degrades_a_source_whatever_its_jobs() -> None:
    source = node("source", "s", "repo", 10, 0, problem="configuration error: include is empty")
    assert (source.status, source.reason) == (HealthStatus.DEGRADED, "configuration error: include is empty")
    worse = node("source", "s", "repo", 0, 10, problem="configuration error")
    assert worse.status is HealthStatus.DOWN  # the jobs say worse: that wins


trees = st.recursive(
    st.tuples(counts, counts).map(lambda c: node("source", "s", "s", *c)),
    lambda kids: st.tuples(counts, counts, st.lists(kids, max_size=4)).map(
        lambda t: node("store", "n", "n", t[0], t[1], tuple(t[2]))
    ),
    max_leaves=12,
)


@given(trees)
def test_no_parent_is_better_than_its_worst_known_child(tree: object) -> None:
    severity = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 2, HealthStatus.DOWN: 3}

    def check(n: object) -> None:
        assert hasattr(n, "children")
        for child in n.children:
            check(child)
            if child.status is not HealthStatus.UNKNOWN:
                assert n.status is not HealthStatus.UNKNOWN
                assert severity[n.status] >= severity[child.status]
        assert (n.reason is None) == (n.status is HealthStatus.HEALTHY)

    check(tree)


# -- buckets -----------------------------------------------------------------------------------------


@given(moments)
def test_hour_of_is_the_start_of_the_hour_holding_the_moment(moment: datetime) -> None:
    hour = hour_of(moment)
    assert hour <= moment < hour + HOUR  # start inclusive, end exclusive
    assert (hour.minute, hour.second, hour.microsecond) == (0, 0, 0)
    assert hour.tzinfo is not None
    assert hour_of(hour) == hour


def test_hour_of_converts_to_utc() -> None:
    from datetime import timezone

    paris = datetime(2026, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    assert hour_of(paris) == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert hour_of(datetime(2026, 3, 1, 9, 59, 59, 999999)) == datetime(2026, 3, 1, 9, tzinfo=UTC)


@given(moments, st.integers(min_value=1, max_value=800))
def test_hours_cover_the_range_without_gaps(now: datetime, count: int) -> None:
    hours = hours_ending_at(now, count)
    assert len(hours) == count
    assert hours[-1] == hour_of(now)
    assert all(b - a == HOUR for a, b in itertools.pairwise(hours))


@given(moments, st.integers(min_value=1, max_value=200), st.lists(moments, max_size=50))
def test_fill_hours_keeps_every_hour_and_every_value_in_range(
    now: datetime, count: int, events: list[datetime]
) -> None:
    hours = hours_ending_at(now, count)
    tally: dict[datetime, int] = {}
    for event in events:
        tally[hour_of(event)] = tally.get(hour_of(event), 0) + 1
    filled = fill_hours(hours, tally, int)
    assert len(filled) == count  # empty hours present
    in_range = sum(1 for e in events if hours[0] <= e < hours[-1] + HOUR)
    assert sum(filled) == in_range  # nothing lost, nothing outside counted
    for hour, value in zip(hours, filled, strict=True):
        assert value == tally.get(hour, 0)


def test_hours_need_a_count() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        hours_ending_at(datetime(2026, 1, 1, tzinfo=UTC), 0)


@given(
    st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=60),
    st.lists(st.floats(min_value=0.001, max_value=100), min_size=1, max_size=5),
)
def test_many_percentiles_at_once_equal_one_at_a_time(values: list[float], ps: list[float]) -> None:
    from lightfast.insights.percentiles import nearest_rank_percentile, nearest_rank_percentiles

    assert nearest_rank_percentiles(values, ps) == [nearest_rank_percentile(values, p) for p in ps]
