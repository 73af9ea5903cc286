"""Tests for lightfast.insights.percentiles."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightfast.insights.percentiles import nearest_rank_percentile

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def test_nearest_rank_percentile_examples() -> None:
    one_to_ten = [float(v) for v in range(1, 11)]
    assert nearest_rank_percentile(one_to_ten, 50) == 5.0
    assert nearest_rank_percentile(list(reversed(one_to_ten)), 50) == 5.0
    assert nearest_rank_percentile(one_to_ten, 100) == 10.0
    assert nearest_rank_percentile(one_to_ten, 0.001) == 1.0
    assert nearest_rank_percentile(one_to_ten, 10) == 1.0
    assert nearest_rank_percentile(one_to_ten, 10.5) == 2.0
    twenty = [float(v) for v in range(1, 21)]
    assert nearest_rank_percentile(twenty, 95) == 19.0
    assert nearest_rank_percentile(twenty, 96) == 20.0
    assert nearest_rank_percentile(twenty, 99) == 20.0
    assert nearest_rank_percentile([15, 20, 35, 40, 50], 30) == 20.0
    assert nearest_rank_percentile([15, 20, 35, 40, 50], 40) == 20.0
    assert nearest_rank_percentile([15, 20, 35, 40, 50], 50) == 35.0
    assert nearest_rank_percentile([7.5], 1) == 7.5


@pytest.mark.parametrize("p", [0, -5, 100.0001, 200, math.nan, math.inf])
def test_nearest_rank_percentile_bad_p(p: float) -> None:
    with pytest.raises(ValueError, match="p must be"):
        nearest_rank_percentile([1.0, 2.0], p)


def test_nearest_rank_percentile_bad_values() -> None:
    with pytest.raises(ValueError, match="empty"):
        nearest_rank_percentile([], 50)
    with pytest.raises(ValueError, match="NaN"):
        nearest_rank_percentile([1.0, math.nan], 50)


@given(st.lists(finite, min_size=1, max_size=50), st.floats(min_value=0.01, max_value=100))
def test_nearest_rank_percentile_properties(values: list[float], p: float) -> None:
    result = nearest_rank_percentile(values, p)
    assert result in values
    ordered = sorted(values)
    n = len(values)
    # nearest rank: at least p% of the values are <= result, and fewer are < result
    assert sum(v <= result for v in values) >= p / 100 * n - 1e-9
    assert sum(v < result for v in values) < p / 100 * n + 1e-9
    assert nearest_rank_percentile(values, 100) == ordered[-1]
    assert ordered[0] <= result <= ordered[-1]
