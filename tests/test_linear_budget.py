"""Linear's complexity and request budgets, paced ahead of time: the pure arithmetic (property tests) and a
listing against the stand-in's leaky buckets that slows down instead of being answered RATELIMITED."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lightfast.sources.linear.budget import HOUR_MS, MARGIN, MAX_PAUSE, Bucket, Budget, pause, read_budget
from lightfast.sources.linear.client import LinearClient
from lightfast.testing.linear import LinearStandIn

KEY = "lin_api_standin_key_0123456789"
NOW = 1_800_000_000_000

headers_values = st.one_of(
    st.integers(-10, 10**9).map(str), st.text(max_size=12), st.sampled_from(["nan", "inf", "1e400", " 7 "])
)


@given(st.dictionaries(st.sampled_from([
    "X-Complexity", "X-RateLimit-Complexity-Remaining", "X-RateLimit-Complexity-Limit",
    "X-RateLimit-Complexity-Reset", "X-RateLimit-Requests-Remaining", "X-RateLimit-Requests-Limit",
    "X-RateLimit-Requests-Reset",
]), headers_values), st.integers(0, 10**8))  # fmt: skip
def test_any_headers_give_a_bounded_pause_never_an_error(headers: dict[str, str], later_ms: int) -> None:
    waited = pause(read_budget(headers, NOW), NOW + later_ms)
    assert 0.0 <= waited <= MAX_PAUSE


@given(
    st.floats(1, 10**6),  # limit
    st.floats(0, 1),  # share left
    st.floats(1, 10**4),  # last query's cost
    st.integers(0, HOUR_MS),  # time since the answer
)
def test_waiting_the_pause_refills_the_bucket_enough(
    limit: float, share: float, cost: float, later: int
) -> None:
    remaining = limit * share
    budget = Budget(NOW, complexity=Bucket(remaining, limit, None), last_cost=cost)
    waited = pause(budget, NOW + later)
    need = min(cost * MARGIN, limit)
    assert budget.complexity is not None
    after = budget.complexity.level(later + int(waited * 1000) + 1)
    if waited < MAX_PAUSE:
        assert after >= need - 1e-6 * limit
    if budget.complexity.level(later) >= cost * MARGIN:
        assert waited == 0.0


def test_a_dry_bucket_without_a_rate_waits_for_its_reset() -> None:
    budget = Budget(NOW, requests=Bucket(0, None, NOW + 12_000))
    assert pause(budget, NOW) == 12.0
    assert pause(budget, NOW + 20_000) == 0.0  # the reset has passed


def test_a_listing_slows_down_instead_of_running_into_the_limit() -> None:
    """A key with room for a few pages an hour: the client waits for the buckets (a fake clock the
    waits move) and the stand-in never has to answer RATELIMITED."""
    clock = [NOW]
    standin = LinearStandIn(KEY, complexity_limit=3_000, now_ms=lambda: clock[0])
    for n in range(400):
        standin.add_issue(f"Issue {n}", "text")
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += int(seconds * 1000) + 1

    client = LinearClient(
        KEY, transport=standin.transport(), sleep=sleep, page_size=25, now_ms=lambda: clock[0]
    )
    nodes = [node for page in client.pages("issues") for node in page.nodes]
    assert len(nodes) == 400
    assert standin.limited == 0
    # It paced itself: 16 pages of 201 points from a 3,000-point bucket; the last ones wait for the refill.
    assert client.paused > 0
    assert waits
    assert client.requests == 16


def test_without_pacing_the_same_listing_is_rate_limited() -> None:
    """The control: the same bucket, drained by someone else first, answers the first query RATELIMITED
    (nothing had told the client yet); the client waits as long as the refused query needs to fit (not
    for the whole bucket's reset, an hour here) and goes on."""
    clock = [NOW]
    standin = LinearStandIn(KEY, complexity_limit=2_000, now_ms=lambda: clock[0])
    for n in range(30):
        standin.add_issue(f"Issue {n}", "text")
    standin.left["complexity"] = 100  # another user of the key spent it

    def sleep(seconds: float) -> None:
        clock[0] += int(seconds * 1000) + 1

    client = LinearClient(
        KEY, transport=standin.transport(), sleep=sleep, page_size=25, now_ms=lambda: clock[0]
    )
    assert len([n for page in client.pages("issues") for n in page.nodes]) == 30
    assert standin.limited == 1  # the first query: nothing told the client yet
