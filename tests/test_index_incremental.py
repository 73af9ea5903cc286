"""The incremental SQLite index answers exactly as the index it replaced (FTS5's plan, which stays the
fallback and the reference of the in-memory BM25 index).

The replaced index (kept below, only here, as the reference) reloaded a store's whole matrix after
every write and ranked FTS5 matches after joining every one of them. On a fixed corpus, through the real
ingest pipeline with the fake embedder, both rank the same chunks for vector and lexical queries with
and without filters, after inserts, edits (SQLite reusing the seqs of the rows it just deleted) and
deletes. A one-document write costs the next search that document's rows, not a reload.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from lightfast.db.tenancy import store_generations
from lightfast.index.base import Hit, SearchFilters, like_prefix
from lightfast.index.postgres import BM25_B, BM25_K1, PostgresIndex, _filters_sql
from lightfast.index.sqlite import SqliteIndex
from lightfast.index.vectors import ChunkRows, VectorTable
from lightfast.search.text import fts5_match_expression, tsquery_expression
from tests.conftest import make_settings, write

# --------------------------------------------------------------------------------------------------
# The reference: the index before incremental updates (full reload per generation; join, then rank)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    generation: int
    seqs: np.ndarray
    document_ids: np.ndarray
    source_types: np.ndarray
    paths: np.ndarray
    updated: np.ndarray
    matrix: np.ndarray


class ReferenceIndex:
    def __init__(self) -> None:
        self._cache: dict[str, _Loaded] = {}

    def _vectors(self, session: Session, store_id: str, generation: int) -> _Loaded:
        cached = self._cache.get(store_id)
        if cached is not None and cached.generation == generation:
            return cached
        rows = session.execute(
            text(
                "SELECT ve.seq, ve.document_id, ve.embedding, d.source_type, d.path, d.updated_at "
                "FROM vector_entries ve JOIN documents d ON d.id = ve.document_id "
                "WHERE ve.store_id = :store ORDER BY ve.seq"
            ),
            {"store": store_id},
        ).all()
        if rows:
            dim = len(rows[0].embedding) // 4
            matrix = np.frombuffer(b"".join(r.embedding for r in rows), dtype="<f4").reshape(-1, dim)
        else:
            matrix = np.zeros((0, 1), dtype=np.float32)
        loaded = _Loaded(
            generation=generation,
            seqs=np.fromiter((r.seq for r in rows), dtype=np.int64, count=len(rows)),
            document_ids=np.array([r.document_id for r in rows], dtype=object),
            source_types=np.array([r.source_type for r in rows], dtype=object),
            paths=np.array([r.path for r in rows], dtype=object),
            updated=np.array([_posix(r.updated_at) for r in rows], dtype=np.float64),
            matrix=matrix,
        )
        self._cache[store_id] = loaded
        return loaded

    def vector_search(
        self, session: Session, store_ids: list[str], vector: np.ndarray, k: int, filters: SearchFilters
    ) -> list[Hit]:
        hits: list[Hit] = []
        generations = store_generations(session, store_ids)
        for store_id in store_ids:
            vectors = self._vectors(session, store_id, generations.get(store_id, -1))
            if len(vectors.seqs) == 0 or vectors.matrix.shape[1] != vector.shape[0]:
                continue
            scores = vectors.matrix @ vector.astype(np.float32)
            mask = _reference_mask(vectors, filters)
            if mask is not None:
                scores = np.where(mask, scores, -np.inf)
            top = min(k, len(scores))
            idx = np.argpartition(-scores, top - 1)[:top]
            hits.extend(
                Hit(int(vectors.seqs[i]), str(vectors.document_ids[i]), float(scores[i]))
                for i in idx
                if np.isfinite(scores[i])
            )
        hits.sort(key=lambda h: (-h.score, h.seq))
        return hits[:k]

    def lexical_search(
        self, session: Session, store_ids: list[str], query: str, k: int, filters: SearchFilters
    ) -> list[Hit]:
        match = fts5_match_expression(query)
        if match is None or not store_ids:
            return []
        params: dict[str, object] = {"match": match, "k": k}
        stores = ", ".join(f":store{i}" for i in range(len(store_ids)))
        params.update({f"store{i}": s for i, s in enumerate(store_ids)})
        where = [f"ve.store_id IN ({stores})"]
        if filters.source_types:
            types = ", ".join(f":type{i}" for i in range(len(filters.source_types)))
            params.update({f"type{i}": t for i, t in enumerate(filters.source_types)})
            where.append(f"d.source_type IN ({types})")
        if filters.path_prefix:
            params["prefix"] = like_prefix(filters.path_prefix)
            where.append("d.path LIKE :prefix ESCAPE '\\'")
        if filters.updated_from is not None:
            params["updated_from"] = filters.updated_from.astimezone(UTC).replace(tzinfo=None)
            where.append("d.updated_at >= :updated_from")
        sql = (
            "SELECT ve.seq, ve.document_id, bm25(chunks_fts) AS rank FROM chunks_fts "
            "JOIN vector_entries ve ON ve.seq = chunks_fts.rowid "
            "JOIN documents d ON d.id = ve.document_id "
            f"WHERE chunks_fts MATCH :match AND {' AND '.join(where)} ORDER BY rank LIMIT :k"
        )
        return [
            Hit(int(r.seq), str(r.document_id), -float(r.rank)) for r in session.execute(text(sql), params)
        ]


def _reference_mask(vectors: _Loaded, filters: SearchFilters) -> np.ndarray | None:
    mask: np.ndarray | None = None
    if filters.source_types:
        mask = np.isin(vectors.source_types, list(filters.source_types))
    if filters.path_prefix:
        by_path = np.array([p.startswith(filters.path_prefix) for p in vectors.paths], dtype=bool)
        mask = by_path if mask is None else mask & by_path
    if filters.updated_from is not None:
        later = vectors.updated >= filters.updated_from.timestamp()
        mask = later if mask is None else mask & later
    return mask


def _posix(value: object) -> float:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


# --------------------------------------------------------------------------------------------------
# A fixed corpus, ingested through the pipeline
# --------------------------------------------------------------------------------------------------

VOCABULARY = (
    "kernel cache vector index query shard replica ledger invoice refund deploy helm cluster node "
    "token parser lexer schema migration rollback backup restore audit firewall credential rotate "
    "webhook payload signature retry backoff queue worker batch stream socket buffer latency "
    "throughput quota tenant billing onboarding laptop handbook policy review release branch"
)
WORDS = VOCABULARY.split()
CONFIG = "version: 1\nstore: {store}\ninclude:\n  - '**/*.md'\n"
QUERIES = [
    "kernel cache",
    "invoice refund billing",
    "deploy helm cluster rollback",
    "webhook signature retry",
    "latency throughput",
    "zygote",
    "policy",
]


def document(rng: random.Random, words: int) -> str:
    paragraphs = []
    while words > 0:
        size = min(words, rng.randint(20, 90))
        paragraphs.append(" ".join(rng.choice(WORDS) for _ in range(size)) + ".")
        words -= size
    return f"# {rng.choice(WORDS).title()} {rng.choice(WORDS)}\n\n" + "\n\n".join(paragraphs) + "\n"


def corpus(seed: int, count: int) -> dict[str, str]:
    rng = random.Random(seed)
    folders = ("docs", "docs/ops", "guides", "notes")
    return {
        f"{folders[i % len(folders)]}/page{i:02d}.md": document(rng, rng.choice([15, 40, 120, 450, 900]))
        for i in range(count)
    }


@pytest.fixture
def services(sqlite_services: Services) -> Services:
    """SQLite only: this is the embedded index."""
    return sqlite_services


def incremental(services: Services) -> SqliteIndex:
    assert isinstance(services.index, SqliteIndex)
    return services.index


def store_ids(services: Services) -> list[str]:
    with services.sessions() as session:
        return list(session.scalars(text("SELECT id FROM stores ORDER BY name")))


def assert_same_ranking(new: list[Hit], old: list[Hit], what: str) -> None:
    """Same scores in the same order; the same chunks, except among those tied with the last one
    (the replaced index cut ties at the k-th place arbitrarily; the new one by seq)."""
    assert [h.seq for h in new] == [h.seq for h in sorted(new, key=lambda h: (-h.score, h.seq))], what
    assert len(new) == len(old), what
    assert np.allclose([h.score for h in new], [h.score for h in old], rtol=0, atol=1e-5), what
    if new:
        last = new[-1].score
        assert {h.seq for h in new if h.score > last + 1e-5} == {
            h.seq for h in old if h.score > last + 1e-5
        }, what
        documents = {h.seq: h.document_id for h in old}
        assert all(documents.get(h.seq, h.document_id) == h.document_id for h in new), what


def assert_agree(services: Services, reference: ReferenceIndex, since: datetime | None = None) -> int:
    """Compare every query, k, filter and store selection; returns how many rankings were compared."""
    stores = store_ids(services)
    selections = [stores, stores[:1]] if len(stores) > 1 else [stores]
    filter_sets = [
        SearchFilters(),
        SearchFilters(source_types=("local",)),
        SearchFilters(source_types=("github",)),
        SearchFilters(path_prefix="docs/"),
        SearchFilters(path_prefix="docs/ops/"),
    ]
    if since is not None:
        filter_sets.append(SearchFilters(updated_from=since))
    index = incremental(services)
    compared = 0
    with services.sessions() as session:
        for selection in selections:
            for query in QUERIES:
                vector = services.embedder.embed([query])[0]
                for k in (1, 5, 20, 500):
                    for filters in filter_sets:
                        what = f"{query!r} k={k} {filters} stores={len(selection)}"
                        assert_same_ranking(
                            index.vector_search(session, selection, vector, k, filters),
                            reference.vector_search(session, selection, vector, k, filters),
                            "vector " + what,
                        )
                        old = reference.lexical_search(session, selection, query, k, filters)
                        assert_same_ranking(
                            index.fts5_search(session, selection, query, k, filters), old, "lexical " + what
                        )
                        # The in-memory BM25 index ranks with its own statistics: it finds as many of
                        # the chunks that pass the filters, and only those (test_lexical_index.py
                        # compares the rankings).
                        matching = reference.lexical_search(session, selection, query, 10_000, filters)
                        new = index.lexical_search(session, selection, query, k, filters)
                        assert len(new) == len(old), "tantivy " + what
                        assert {h.seq for h in new} <= {h.seq for h in matching}, "tantivy " + what
                        compared += 3
    return compared


def chunk_seqs(services: Services, document_path: str) -> list[int]:
    with services.sessions() as session:
        return list(
            session.scalars(
                text(
                    "SELECT ve.seq FROM vector_entries ve JOIN documents d ON d.id = ve.document_id "
                    "WHERE d.path = :path ORDER BY ve.seq"
                ),
                {"path": document_path},
            )
        )


def last_written_path(services: Services) -> str:
    """The document holding the highest seq: rewriting it makes SQLite hand its seqs out again."""
    with services.sessions() as session:
        return str(
            session.scalar(
                text(
                    "SELECT d.path FROM vector_entries ve JOIN documents d ON d.id = ve.document_id "
                    "ORDER BY ve.seq DESC LIMIT 1"
                )
            )
        )


# --------------------------------------------------------------------------------------------------
# Old and new agree, through inserts, edits and deletes
# --------------------------------------------------------------------------------------------------


def test_old_and_new_index_agree_through_inserts_edits_and_deletes(
    services: Services, tmp_path: Path
) -> None:
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG.format(store="main"), **corpus(1, 24)})
    other = write(tmp_path / "other", {"lightfast.yml": CONFIG.format(store="side"), **corpus(2, 6)})
    services.ingest.ingest_path(repo)
    services.ingest.ingest_path(other)
    reference = ReferenceIndex()
    assert assert_agree(services, reference) > 0
    assert incremental(services).stats.full_loads == 2  # one per store, once

    # Inserts, edits and deletes in one sync.
    rng = random.Random(3)
    since = datetime.now(UTC)
    files = corpus(4, 5)
    write(repo, {f"new/extra{i}.md": body for i, body in enumerate(files.values())})
    write(repo, {"docs/page00.md": document(rng, 300) + "\nzygote\n", "guides/page02.md": document(rng, 60)})
    (repo / "notes/page03.md").unlink()
    (repo / "docs/ops/page01.md").unlink()
    services.ingest.ingest_path(repo)
    assert_agree(services, reference, since)

    # Rewriting the document with the highest seqs: SQLite gives the new rows the seqs of the old.
    path = last_written_path(services)
    before = chunk_seqs(services, path)
    write(repo, {path: document(rng, 450) + "\nzygote zygote\n"})
    services.ingest.ingest_path(repo)
    assert set(chunk_seqs(services, path)) & set(before), "expected SQLite to reuse the deleted seqs"
    assert_agree(services, reference, since)

    # Delete that document, then add another: it takes the same seqs again.
    (repo / path).unlink()
    services.ingest.ingest_path(repo)
    assert_agree(services, reference, since)
    write(repo, {"new/after.md": document(rng, 450) + "\nzygote\n"})
    services.ingest.ingest_path(repo)
    assert set(chunk_seqs(services, "new/after.md")) & set(before)
    assert_agree(services, reference, since)

    # None of it reloaded a store; a fresh index (the rebuild from the database) agrees too.
    assert incremental(services).stats.full_loads == 2
    incremental(services).reset()
    assert_agree(services, reference, since)
    assert incremental(services).stats.full_loads == 4


def test_deleting_most_of_a_store_still_agrees(services: Services, tmp_path: Path) -> None:
    files = {
        f"bulk/doc{i:03d}.md": f"# Doc {i}\n\n{WORDS[i % len(WORDS)]} cache kernel {i}\n" for i in range(300)
    }
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG.format(store="main"), **files})
    services.ingest.ingest_path(repo)
    reference = ReferenceIndex()
    assert_agree(services, reference)
    for name in list(files)[:250]:
        (repo / name).unlink()
    write(repo, {f"bulk/late{i}.md": f"# Late {i}\n\nkernel latency {i}\n" for i in range(5)})
    services.ingest.ingest_path(repo)
    assert_agree(services, reference)
    assert incremental(services).stats.full_loads == 1


def test_lexical_search_of_a_small_store_beside_a_large_one(services: Services, tmp_path: Path) -> None:
    """The best matches of the whole FTS5 table all belong to the large store: the small store's search
    must widen past them, and still rank as the replaced plan did."""
    big = {f"b/{i:03d}.md": f"# B{i}\n\nkernel kernel cache {WORDS[i % len(WORDS)]}\n" for i in range(260)}
    small = {f"s/{i}.md": f"# S{i}\n\n{document(random.Random(i), 200)} kernel\n" for i in range(4)}
    write(tmp_path / "big", {"lightfast.yml": CONFIG.format(store="big"), **big})
    write(tmp_path / "small", {"lightfast.yml": CONFIG.format(store="small"), **small})
    services.ingest.ingest_path(tmp_path / "big")
    services.ingest.ingest_path(tmp_path / "small")
    big_id, small_id = store_ids(services)
    reference = ReferenceIndex()
    with services.sessions() as session:
        for stores, k in (([small_id], 3), ([small_id], 10), ([big_id], 10), ([big_id, small_id], 300)):
            new = incremental(services).fts5_search(session, stores, "kernel", k, SearchFilters())
            old = reference.lexical_search(session, stores, "kernel", k, SearchFilters())
            assert_same_ranking(new, old, f"{stores} k={k}")
            assert new
    assert_agree(services, reference)


# --------------------------------------------------------------------------------------------------
# Freshness without a reload
# --------------------------------------------------------------------------------------------------


def nearest_path(services: Services, query: str) -> str | None:
    """The path of the chunk nearest to the query's embedding, through the index under test."""
    with services.sessions() as session:
        vector = services.embedder.embed([query])[0]
        hits = incremental(services).vector_search(session, store_ids(services), vector, 1, SearchFilters())
        if not hits:
            return None
        return session.scalar(text("SELECT path FROM documents WHERE id = :id"), {"id": hits[0].document_id})


def test_a_one_document_write_loads_only_that_document(services: Services, tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG.format(store="main"), **corpus(5, 20)})
    services.ingest.ingest_path(repo)
    nearest_path(services, "kernel cache")
    stats = incremental(services).stats
    assert stats.full_loads == 1
    loaded = stats.rows_loaded

    write(repo, {"guides/page06.md": "# Zygote\n\nThe zygote divides; a zygote is a fertilised cell.\n"})
    services.ingest.ingest_path(repo)

    assert nearest_path(services, "zygote cell") == "guides/page06.md"  # the change is found
    assert stats.full_loads == 1  # ... without reloading the store
    assert stats.rows_loaded - loaded == len(chunk_seqs(services, "guides/page06.md")) == 1

    # A search with no write in between reads nothing.
    nearest_path(services, "zygote")
    assert stats.rows_loaded - loaded == 1


def test_a_deleted_document_disappears_from_vector_search(services: Services, tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG.format(store="main"), **corpus(6, 8)})
    write(repo, {"unique.md": "# Quokka\n\nquokka quokka marsupial\n"})
    services.ingest.ingest_path(repo)
    assert nearest_path(services, "quokka marsupial") == "unique.md"
    (repo / "unique.md").unlink()
    services.ingest.ingest_path(repo)
    assert nearest_path(services, "quokka marsupial") not in (None, "unique.md")
    assert incremental(services).stats.full_loads == 1


def test_an_index_behind_the_pruned_log_reloads_the_store(services: Services, tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG.format(store="main"), **corpus(7, 10)})
    services.ingest.ingest_path(repo)
    reference = ReferenceIndex()
    assert_agree(services, reference)
    write(repo, {"docs/page00.md": "# Changed\n\nzygote kernel\n"})
    services.ingest.ingest_path(repo)
    with services.sessions.begin() as session:  # what pruning does to changes this index has not read
        session.execute(text("DELETE FROM vector_changes"))
    assert_agree(services, reference)
    assert incremental(services).stats.full_loads == 2


# --------------------------------------------------------------------------------------------------
# The change log (migration 0004)
# --------------------------------------------------------------------------------------------------


def changes(services: Services) -> list[tuple[str, int]]:
    with services.sessions() as session:
        return [
            (r.store_id, r.seq)
            for r in session.execute(text("SELECT store_id, seq FROM vector_changes ORDER BY id"))
        ]


def test_the_log_records_inserts_updates_deletes_and_cascades(services: Services, tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG.format(store="main"), "a.md": "# A\n\nalpha\n"})
    services.ingest.ingest_path(repo)
    (store,) = store_ids(services)
    (seq,) = chunk_seqs(services, "a.md")
    assert changes(services) == [(store, seq)]
    with services.sessions.begin() as session:
        session.execute(text("UPDATE vector_entries SET token_count = 9 WHERE seq = :seq"), {"seq": seq})
    assert changes(services)[1:] == [(store, seq), (store, seq)]
    with services.sessions.begin() as session:  # a cascade from the document row
        session.execute(text("DELETE FROM documents"))
    assert changes(services)[3:] == [(store, seq)]


def test_the_log_keeps_only_its_newest_changes(services: Services) -> None:
    keep = 262_144
    with services.sessions.begin() as session:
        session.execute(
            text(
                "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < :count) "
                "INSERT INTO vector_changes (store_id, seq) SELECT 's', x FROM n"
            ),
            {"count": keep + 3 * 4096 + 5},
        )
    with services.sessions() as session:
        first, last, count = session.execute(
            text("SELECT min(id), max(id), count(*) FROM vector_changes")
        ).one()
    assert last == keep + 3 * 4096 + 5
    assert first == 3 * 4096 + 1  # pruned at the last multiple of 4,096
    assert count == last - first + 1


# --------------------------------------------------------------------------------------------------
# The in-memory table (pure)
# --------------------------------------------------------------------------------------------------


def rows(seqs: list[int], dim: int = 8, salt: int = 0) -> ChunkRows:
    rng = np.random.default_rng([*seqs, salt] if seqs else [salt])
    matrix = rng.standard_normal((len(seqs), dim)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return ChunkRows(
        seqs=np.array(seqs, dtype=np.int64),
        document_ids=np.array([f"doc{s % 7}" for s in seqs], dtype=object),
        source_types=np.array(["local"] * len(seqs), dtype=object),
        paths=np.array([f"p/{s}" for s in seqs], dtype=object),
        updated=np.zeros(len(seqs), dtype=np.float64),
        matrix=matrix,
    )


operations = st.lists(
    st.tuples(
        st.lists(st.integers(0, 60), max_size=12), st.lists(st.integers(0, 60), max_size=12, unique=True)
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(operations, st.integers(1, 30), st.integers(0, 2**31))
def test_a_table_answers_as_a_brute_force_search_of_its_live_rows(
    steps: list[tuple[list[int], list[int]]], k: int, salt: int
) -> None:
    table = VectorTable(8)
    live: dict[int, tuple[np.ndarray, str]] = {}
    for step, (removed, added_seqs) in enumerate(steps):
        # The database never holds a seq twice: an added seq replaces the row it had.
        added = rows(added_seqs, salt=salt + step)
        table.apply(np.array(removed + added_seqs, dtype=np.int64), added)
        for seq in removed + added_seqs:
            live.pop(seq, None)
        for i, seq in enumerate(added_seqs):
            live[seq] = (added.matrix[i], str(added.document_ids[i]))
    query = rows([999], salt=salt).matrix[0]
    expected = sorted(
        ((float(vector @ query), seq) for seq, (vector, _) in live.items()), key=lambda p: (-p[0], p[1])
    )
    got = table.snapshot().top(query, k)
    assert [seq for seq, _, _ in got] == [seq for _, seq in expected[:k]]
    assert np.allclose([score for _, _, score in got], [score for score, _ in expected[:k]], atol=1e-6)
    assert table.live == len(live)


def test_a_snapshot_does_not_see_later_changes() -> None:
    table = VectorTable(8)
    table.apply(np.empty(0, dtype=np.int64), rows(list(range(3000))))
    before = table.snapshot()
    query = before.matrix[5]
    # Deletes past the compaction threshold, then appends past the capacity.
    table.apply(np.arange(0, 2000, dtype=np.int64), rows(list(range(3000, 6000))))
    assert table.dead == 0  # compacted
    assert table.live == len(table.snapshot()) == 4000
    assert [seq for seq, _, _ in before.top(query, 1)] == [5]
    assert 5 not in {seq for seq, _, _ in table.snapshot().top(query, 4000)}
    # Deletes below the threshold only mark rows.
    table.apply(np.arange(3000, 3010, dtype=np.int64), rows([]))
    assert table.dead == 10
    assert table.live == 3990
    assert not {seq for seq, _, _ in table.snapshot().top(query, 4000)} & set(range(3000, 3010))


def test_concurrent_searches_during_updates_see_whole_states() -> None:
    table = VectorTable(8)
    table.apply(np.empty(0, dtype=np.int64), rows(list(range(50))))
    query = rows([7]).matrix[0]
    errors: list[BaseException] = []
    stop = threading.Event()

    def search() -> None:
        try:
            while not stop.is_set():
                got = table.snapshot().top(query, 10)
                assert len({seq for seq, _, _ in got}) == len(got) == 10
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=search) for _ in range(2)]
    for thread in threads:
        thread.start()
    for step in range(200):
        table.apply(
            np.arange(step, step + 5, dtype=np.int64), rows(list(range(1000 + 5 * step, 1005 + 5 * step)))
        )
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []


def test_filters_and_dimensions(services: Services, tmp_path: Path) -> None:
    """A query of another dimension finds nothing (a store of another model), and does not evict the
    store's table."""
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG.format(store="main"), **corpus(8, 6)})
    services.ingest.ingest_path(repo)
    index = incremental(services)
    stores = store_ids(services)
    with services.sessions() as session:
        vector = services.embedder.embed(["kernel"])[0]
        assert index.vector_search(session, stores, vector, 5, SearchFilters())
        assert (
            index.vector_search(session, stores, np.ones(16, dtype=np.float32) / 4, 5, SearchFilters()) == []
        )
        assert (
            index.vector_search(session, stores, vector, 5, replace(SearchFilters(), path_prefix="nowhere/"))
            == []
        )
    assert index.stats.full_loads == 2
    with services.sessions() as session:
        assert index.vector_search(session, stores, vector, 5, SearchFilters())
    assert index.stats.full_loads == 2


# --------------------------------------------------------------------------------------------------
# PostgreSQL: BM25 over the query's lexemes only ranks as BM25 over every lexeme did
# --------------------------------------------------------------------------------------------------

# The replaced statement: it unnested every lexeme of every matching chunk before keeping the query's.
UNNEST_EVERY_LEXEME = """
WITH terms AS (
    SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', :words))
),
corpus AS (
    SELECT count(*)::float8 AS n, coalesce(avg(token_count), 1)::float8 AS avgdl
    FROM vector_entries WHERE store_id = ANY(:stores)
),
stats AS (
    SELECT t.lexeme, ln(1 + (c.n - f.df + 0.5) / (f.df + 0.5)) AS idf
    FROM terms t
    CROSS JOIN corpus c
    CROSS JOIN LATERAL (
        SELECT count(*)::float8 AS df FROM vector_entries ve
        WHERE ve.store_id = ANY(:stores) AND ve.tsv @@ CAST(quote_literal(t.lexeme) AS tsquery)
    ) f
),
candidates AS (
    SELECT ve.seq, ve.document_id, ve.tsv, greatest(ve.token_count, 1)::float8 AS dl
    FROM vector_entries ve JOIN documents d ON d.id = ve.document_id, to_tsquery('english', :tsq) AS q
    WHERE ve.tsv @@ q AND ve.store_id = ANY(:stores){filters}
)
SELECT ca.seq, ca.document_id,
       sum(
           s.idf * cardinality(u.positions) * (:k1 + 1)
           / (cardinality(u.positions) + :k1 * (1 - :b + :b * ca.dl / c.avgdl))
       ) AS score
FROM candidates ca
CROSS JOIN corpus c
CROSS JOIN LATERAL unnest(ca.tsv) AS u(lexeme, positions, weights)
JOIN stats s ON s.lexeme = u.lexeme
GROUP BY ca.seq, ca.document_id
ORDER BY score DESC, ca.seq
LIMIT :k
"""


@pytest.mark.postgres
def test_postgres_bm25_ranks_as_before(tmp_path: Path, pg_url: str) -> None:
    settings = make_settings(tmp_path, pg_url)
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    try:
        repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG.format(store="main"), **corpus(9, 24)})
        services.ingest.ingest_path(repo)
        stores = store_ids(services)
        index = PostgresIndex()
        filter_sets = [
            SearchFilters(),
            SearchFilters(path_prefix="docs/"),
            SearchFilters(source_types=("local",)),
        ]
        with services.sessions() as session:
            for query in QUERIES:
                expression = tsquery_expression(query)
                assert expression is not None
                for k in (1, 5, 20, 500):
                    for filters in filter_sets:
                        params: dict[str, object] = {
                            "stores": stores,
                            "k": k,
                            "tsq": expression,
                            "words": expression.replace(" | ", " "),
                            "k1": BM25_K1,
                            "b": BM25_B,
                        }
                        sql = UNNEST_EVERY_LEXEME.format(filters=_filters_sql(filters, params))
                        old = [
                            Hit(int(r.seq), str(r.document_id), float(r.score))
                            for r in session.execute(text(sql), params)
                        ]
                        new = index.sql_search(session, stores, query, k, filters)  # the SQL plan, exactly
                        assert [(h.seq, h.document_id) for h in new] == [(h.seq, h.document_id) for h in old]
                        assert np.allclose([h.score for h in new], [h.score for h in old], rtol=1e-12, atol=0)
                        if query != "zygote" and k > 1 and filters == SearchFilters():
                            assert len(new) > 1
    finally:
        services.close()
