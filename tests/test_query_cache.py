"""The query-embedding cache: LRU order, bounds, keys by provider and model, thread safety, and its use
by search; and the priority that makes document batches yield to queries."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightfast.app.container import build_services
from lightfast.app.search import SearchMode, SearchRequest
from lightfast.embed.budget import QueryPriority, ThreadBudget
from lightfast.embed.cache import QueryCache
from lightfast.embed.fake import FAKE_SPEC, FakeEmbedder
from tests.conftest import make_settings, write


def vector(seed: int) -> np.ndarray:
    return np.full(4, float(seed), dtype=np.float32)


operations = st.lists(st.tuples(st.sampled_from(["get", "put"]), st.integers(0, 12)), min_size=1, max_size=80)


@settings(max_examples=80, deadline=None)
@given(operations, st.integers(0, 6))
def test_the_cache_behaves_as_a_reference_lru(ops: list[tuple[str, int]], capacity: int) -> None:
    cache = QueryCache(capacity)
    model: OrderedDict[int, float] = OrderedDict()
    hits = misses = 0
    for op, key in ops:
        cache_key = ("p", "m", str(key))
        if op == "put":
            cache.put(cache_key, vector(key))
            if capacity:
                model[key] = float(key)
                model.move_to_end(key)
                while len(model) > capacity:
                    model.popitem(last=False)
        else:
            got = cache.get(cache_key)
            if key in model:
                hits += 1
                model.move_to_end(key)
                assert got is not None
                assert float(got[0]) == model[key]
            else:
                misses += 1
                assert got is None
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (hits, misses, len(model))
    assert stats.entries <= capacity


def test_cached_vectors_are_read_only_copies() -> None:
    cache = QueryCache(4)
    original = vector(1)
    kept = cache.put(("p", "m", "q"), original)
    original[:] = 9  # the caller's array is its own
    hit = cache.get(("p", "m", "q"))
    assert hit is not None
    assert float(hit[0]) == 1.0
    assert kept.flags.writeable is False
    with pytest.raises(ValueError, match="read-only"):
        hit[0] = 5


def test_a_negative_capacity_is_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        QueryCache(-1)


def test_concurrent_use_keeps_the_bound_and_the_counts() -> None:
    cache = QueryCache(16)
    lookups_per_thread = 2_000

    def work(offset: int) -> None:
        for i in range(lookups_per_thread):
            key = ("p", "m", str((i + offset) % 40))
            if cache.get(key) is None:
                cache.put(key, vector(i))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = cache.stats()
    assert stats.entries <= 16
    assert stats.hits + stats.misses == 6 * lookups_per_thread


def test_embed_query_hits_the_cache_for_the_same_model_and_text() -> None:
    embedder = FakeEmbedder()
    first = embedder.embed_query("how do I deploy")
    calls = embedder.calls
    again = embedder.embed_query("how do I deploy")
    assert embedder.calls == calls  # not embedded again
    assert np.array_equal(first, again)
    assert np.allclose(first, embedder.embed(["how do I deploy"])[0])
    embedder.embed_query("how do I deploy?")  # another text is another key
    assert embedder.calls == calls + 2  # embed() above and this miss
    assert embedder.query_cache is not None
    stats = embedder.query_cache.stats()
    assert (stats.hits, stats.misses) == (1, 2)


def test_the_key_names_the_model() -> None:
    shared = QueryCache(8)
    small = FakeEmbedder(FAKE_SPEC)
    small.query_cache = shared
    other_spec = type(FAKE_SPEC)(**{**FAKE_SPEC.__dict__, "name": "fake-other", "dimension": 8})
    other = FakeEmbedder(other_spec)
    other.query_cache = shared
    assert small.embed_query("deploy").shape == (384,)
    assert other.embed_query("deploy").shape == (8,)  # not the other model's cached vector
    assert shared.stats().misses == 2


def test_a_repeated_search_embeds_its_query_once(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    services = build_services(
        make_settings(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}"), embedder=embedder
    )
    try:
        files = {
            "lightfast.yml": 'version: 1\nstore: docs\ninclude: ["**/*.md"]\n',
            "docs/deploy.md": "# Deploy\n\nRun make deploy to ship it.",
        }
        services.ingest.ingest_path(write(tmp_path / "repo", files))
        workspace = services.workspaces.workspace_id(None)
        request = SearchRequest(workspace_id=workspace, query="how to deploy", mode=SearchMode.BALANCED)
        first = services.search.search(request)
        calls = embedder.calls
        second = services.search.search(request)
        assert embedder.calls == calls
        assert [r.id for r in first.results] == [r.id for r in second.results]
        assert first.results, "the document should be found"
    finally:
        services.close()


def test_document_batches_yield_to_queries_in_flight() -> None:
    priority = QueryPriority(max_yield_seconds=5.0)
    assert priority.before_documents() == 0.0  # no query: no wait
    waited: list[float] = []
    with priority.query():
        assert priority.active == 1
        batch = threading.Thread(target=lambda: waited.append(priority.before_documents()))
        batch.start()
        time.sleep(0.2)
        assert batch.is_alive(), "the batch must wait while a query embeds"
    batch.join(timeout=5)
    assert waited
    assert 0.15 <= waited[0] < 5.0
    assert priority.yields == 1


def test_a_yield_is_bounded() -> None:
    priority = QueryPriority(max_yield_seconds=0.1)
    with priority.query():
        started = time.perf_counter()
        priority.before_documents()
        assert time.perf_counter() - started < 2.0  # a steady stream of queries never stops ingestion


def test_a_budget_needs_a_thread_per_purpose() -> None:
    with pytest.raises(ValueError, match="at least one thread"):
        ThreadBudget(query_threads=0)
    assert ThreadBudget().query_threads == 1
