"""Tests for lightfast.search.fusion."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightfast.search.fusion import (
    min_max_normalize,
    reciprocal_rank_fusion,
    weighted_score_fusion,
)

# Rankings: each list holds distinct keys drawn from a small pool, so lists overlap.
ranking = st.lists(st.integers(min_value=0, max_value=30), unique=True, max_size=15)
rankings = st.lists(ranking, min_size=1, max_size=5)
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


# ---------------------------------------------------------------------------- RRF


def test_rrf_example() -> None:
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60)
    assert [key for key, _ in fused] == ["b", "a", "c"]
    scores = dict(fused)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["a"] == pytest.approx(1 / 61)
    assert scores["c"] == pytest.approx(1 / 62)


def test_rrf_ties_by_best_rank_then_list_order() -> None:
    fused = reciprocal_rank_fusion([["x", "a"], ["b"]], k=60)
    assert fused == [("x", 1 / 61), ("b", 1 / 61), ("a", 1 / 62)]
    assert [key for key, _ in reciprocal_rank_fusion([["b"], ["x", "a"]])] == ["b", "x", "a"]
    # "y" (rank 1 in list 1) beats "x" (rank 2 in list 0) on an exact tie, whatever the input order
    assert reciprocal_rank_fusion([["w", "x"], ["y"]], k=0, weights=[1.0, 0.5]) == [
        ("w", 1.0),
        ("y", 0.5),
        ("x", 0.5),
    ]
    # equal scores and equal best rank: the earlier list wins
    fused = reciprocal_rank_fusion([["p", "q"], ["q", "p"]], k=0)
    assert fused == [("p", 1.5), ("q", 1.5)]
    fused = reciprocal_rank_fusion([["z", "p", "q"], ["q", "z", "p"]], k=0)
    assert [key for key, _ in fused] == ["z", "q", "p"]


def test_rrf_weights_and_k() -> None:
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], k=1, weights=[3.0, 1.0])
    assert [key for key, _ in fused] == ["a", "b"]
    assert [score for _, score in fused] == pytest.approx([3 / 2 + 1 / 3, 3 / 3 + 1 / 2])
    fused = reciprocal_rank_fusion([["a"], ["b"]], weights=[0.0, 1.0])
    assert [key for key, _ in fused] == ["b", "a"]
    assert dict(fused)["a"] == 0.0


def test_rrf_duplicate_key_counts_once_at_best_rank() -> None:
    assert reciprocal_rank_fusion([["a", "b", "a"]], k=0) == [("a", 1.0), ("b", 0.5)]


def test_rrf_empty_inputs() -> None:
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []


def test_rrf_validation() -> None:
    with pytest.raises(ValueError, match="weights has 1 entries but there are 2 rankings"):
        reciprocal_rank_fusion([["a"], ["b"]], weights=[1.0])
    with pytest.raises(ValueError, match="non-negative"):
        reciprocal_rank_fusion([["a"]], weights=[-1.0])
    with pytest.raises(ValueError, match="finite"):
        reciprocal_rank_fusion([["a"]], weights=[math.nan])
    with pytest.raises(ValueError, match="k must be"):
        reciprocal_rank_fusion([["a"]], k=-1)
    with pytest.raises(ValueError, match="k must be"):
        reciprocal_rank_fusion([["a"]], k=math.inf)


@given(rankings, st.floats(min_value=0, max_value=1000))
def test_rrf_properties(lists: list[list[int]], k: float) -> None:
    fused = reciprocal_rank_fusion(lists, k=k)
    keys = [key for key, _ in fused]
    # output keys are the union of the inputs, each once
    assert len(keys) == len(set(keys))
    assert set(keys) == {key for ranking in lists for key in ranking}
    # scores are within bounds and sorted descending
    scores = [score for _, score in fused]
    for key, score in fused:
        n_lists_with_key = sum(key in ranking for ranking in lists)
        longest = max(len(ranking) for ranking in lists)
        assert n_lists_with_key / (k + longest) - 1e-12 <= score <= n_lists_with_key / (k + 1) + 1e-12
        assert 0 < score <= len(lists) / (k + 1) + 1e-12
    assert scores == sorted(scores, reverse=True)
    # exact score for each key
    for key, score in fused:
        expected = sum(1 / (k + r.index(key) + 1) for r in lists if key in r)
        assert score == pytest.approx(expected, rel=1e-12)


@given(rankings, st.integers(min_value=100, max_value=110))
def test_rrf_item_first_everywhere_wins(lists: list[list[int]], champion: int) -> None:
    lists = [[champion, *ranking] for ranking in lists]
    fused = reciprocal_rank_fusion(lists)
    assert fused[0][0] == champion
    assert fused[0][1] > (fused[1][1] if len(fused) > 1 else 0)


@given(rankings, st.randoms(use_true_random=False))
def test_rrf_permutation_invariant_with_equal_weights(lists: list[list[int]], rnd: random.Random) -> None:
    shuffled = list(lists)
    rnd.shuffle(shuffled)
    a = reciprocal_rank_fusion(lists)
    b = reciprocal_rank_fusion(shuffled, weights=[2.5] * len(shuffled))
    # scores are exactly invariant (weights scale them uniformly)
    assert {key: 2.5 * s for key, s in a} == pytest.approx(dict(b), rel=1e-12)
    assert dict(a) == dict(reciprocal_rank_fusion(shuffled))
    # the order is invariant except among keys tied on score and best rank (list order breaks those)
    groups_a = [(score, min(r.index(key) for r in lists if key in r), key) for key, score in a]
    groups_b = [
        (score, min(r.index(key) for r in lists if key in r), key)
        for key, score in reciprocal_rank_fusion(shuffled)
    ]
    assert [(s, r) for s, r, _ in groups_a] == [(s, r) for s, r, _ in groups_b]
    assert sorted(groups_a, key=repr) == sorted(groups_b, key=repr)


@given(rankings)
def test_rrf_deterministic(lists: list[list[int]]) -> None:
    assert reciprocal_rank_fusion(lists) == reciprocal_rank_fusion([list(r) for r in lists])


# ---------------------------------------------------------------------------- min-max


def test_min_max_normalize_examples() -> None:
    assert min_max_normalize([]) == []
    assert min_max_normalize([3.0]) == [1.0]
    assert min_max_normalize([2.0, 2.0, 2.0]) == [1.0, 1.0, 1.0]
    assert min_max_normalize([1.0, 3.0, 2.0]) == [0.0, 1.0, 0.5]
    assert min_max_normalize([-10, 0, 10]) == [0.0, 0.5, 1.0]
    assert min_max_normalize([-1e308, 1e308]) == [0.0, 1.0]
    with pytest.raises(ValueError, match="finite"):
        min_max_normalize([1.0, math.nan])
    with pytest.raises(ValueError, match="finite"):
        min_max_normalize([math.inf, 1.0])


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False)))
def test_min_max_normalize_properties(values: list[float]) -> None:
    out = min_max_normalize(values)
    assert len(out) == len(values)
    assert all(0.0 <= v <= 1.0 for v in out)
    if values:
        assert max(out) == 1.0
        if min(values) != max(values):
            assert min(out) == 0.0
            assert out[values.index(min(values))] == 0.0
        # order preserving (weakly)
        for (x, nx), (y, ny) in itertools.pairwise(zip(values, out, strict=True)):
            if x < y:
                assert nx <= ny
            elif x > y:
                assert nx >= ny


# ---------------------------------------------------------------------------- weighted fusion


def test_weighted_score_fusion_example() -> None:
    dense = [("a", 0.9), ("b", 0.5), ("c", 0.1)]
    sparse = [("c", 12.0), ("d", 2.0)]
    fused = weighted_score_fusion([dense, sparse], weights=[0.7, 0.3])
    assert [key for key, _ in fused] == ["a", "b", "c", "d"]
    scores = dict(fused)
    assert scores["a"] == pytest.approx(0.7)
    assert scores["b"] == pytest.approx(0.35)
    assert scores["c"] == pytest.approx(0.3)
    assert scores["d"] == 0.0


def test_weighted_score_fusion_ties_and_duplicates() -> None:
    # b and a tie at 1.0; "a" is first seen at position 0 of list 0
    assert weighted_score_fusion([[("a", 5.0), ("x", 1.0)], [("b", 3.0), ("y", 1.0)]]) == [
        ("a", 1.0),
        ("b", 1.0),
        ("x", 0.0),
        ("y", 0.0),
    ]
    # ties: best position across lists first ("y" at 0 beats "x" at 1), then list order
    fused = weighted_score_fusion(
        [[("a", 3.0), ("x", 2.0), ("b", 1.0)], [("y", 2.0), ("z", 1.0)]], [1.0, 0.5]
    )
    assert fused == [("a", 1.0), ("y", 0.5), ("x", 0.5), ("z", 0.0), ("b", 0.0)]
    # a repeated key keeps its highest score
    fused = weighted_score_fusion([[("a", 1.0), ("b", 2.0), ("c", 0.0), ("a", 3.0)]])
    assert fused == [("a", 1.0), ("b", pytest.approx(2 / 3)), ("c", 0.0)]
    assert weighted_score_fusion([]) == []
    assert weighted_score_fusion([[], [("z", 4.0)]]) == [("z", 1.0)]


def test_weighted_score_fusion_validation() -> None:
    with pytest.raises(ValueError, match="weights has 3 entries but there are 2 result lists"):
        weighted_score_fusion([[("a", 1.0)], [("b", 1.0)]], weights=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        weighted_score_fusion([[("a", math.inf), ("b", 1.0)]])


@given(
    st.lists(st.lists(st.tuples(st.integers(0, 20), finite), max_size=10), min_size=1, max_size=4),
    st.data(),
)
def test_weighted_score_fusion_properties(
    results: list[list[tuple[int, float]]], data: st.DataObject
) -> None:
    weights = data.draw(st.lists(st.floats(0, 10), min_size=len(results), max_size=len(results)))
    fused = weighted_score_fusion(results, weights)
    keys = [key for key, _ in fused]
    assert len(keys) == len(set(keys))
    assert set(keys) == {key for pairs in results for key, _ in pairs}
    scores = [score for _, score in fused]
    assert scores == sorted(scores, reverse=True)
    assert all(-1e-9 <= s <= sum(weights) + 1e-9 for s in scores)
    assert fused == weighted_score_fusion([list(p) for p in results], list(weights))
