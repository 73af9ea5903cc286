"""The in-memory BM25 index (tantivy) that ranks embedded lexical search, and how it follows the database.

- ``LexicalIndex`` alone: analysis as FTS5's (stems, diacritics), stores kept apart, deletes and
  replacements idempotent, any sequence of changes finding what a fresh build finds (property test).
- Its rankings against the database's own BM25 (FTS5, SQL over tsvectors), which it replaced, on a fixed
  corpus of real English (this project's docs).
- ``SqliteIndex`` and ``PostgresIndex`` with it: a write is found by the next search without a rebuild,
  a pruned log or a reset rebuilds, a large database is built in the background while the database's
  own full-text search answers, and a failed build leaves that answering.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from lightfast.index import lexical_mirror
from lightfast.index.base import Hit, SearchFilters
from lightfast.index.lexical import LexicalIndex
from lightfast.index.maintenance import CURRENT_TRANSACTION
from lightfast.index.postgres import PostgresIndex
from lightfast.index.sqlite import SqliteIndex
from lightfast.search.text import fts5_match_expression
from tests.conftest import make_settings, write

REPO = Path(__file__).resolve().parent.parent
CONFIG = "version: 1\nstore: {store}\ninclude:\n  - '**/*.md'\n"

# --------------------------------------------------------------------------------------------------
# LexicalIndex alone
# --------------------------------------------------------------------------------------------------


def seqs(hits: list[tuple[int, float]]) -> list[int]:
    return [seq for seq, _ in hits]


def fts5_matches(rows: list[tuple[int, str]], query: str) -> set[int]:
    """What SQLite's FTS5, with the tokenizer the migrations give chunks_fts, matches."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(content, tokenize='porter unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO t(rowid, content) VALUES (?, ?)", rows)
    match = fts5_match_expression(query)
    return {r[0] for r in db.execute("SELECT rowid FROM t WHERE t MATCH ?", (match,))} if match else set()


@pytest.mark.parametrize(
    ("document", "query"),
    [
        ("The workers were running migrations", "run migration"),
        ("Caching layers cache cached pages", "caches"),
        ("Café au lait, naïve résumé", "cafe naive resume"),
        ("ENG-7 blocks the release", "eng-7"),
        ("snake_case and CamelCase identifiers", "snake case camelcase"),
        (
            "commit 3f9c2a1b8e7d6c5b4a39281706f5e4d3c2b1a098 fixed it",
            "3f9c2a1b8e7d6c5b4a39281706f5e4d3c2b1a098",
        ),
        ("Connections are connected", "connecting"),
    ],
)
def test_analysis_finds_what_fts5_finds(document: str, query: str) -> None:
    index = LexicalIndex()
    index.replace([], [(1, "s", document), (2, "s", "nothing relevant here at all")])
    assert (
        set(seqs(index.search(["s"], query, 10)))
        == fts5_matches([(1, document), (2, "nothing")], query)
        == {1}
    )


def test_stores_are_kept_apart_and_the_store_clause_does_not_score() -> None:
    index = LexicalIndex()
    index.replace([], [(1, "a", "kernel cache"), (2, "b", "kernel kernel cache"), (3, "b", "cache")])
    assert seqs(index.search(["a"], "kernel", 10)) == [1]
    both = index.search(["a", "b"], "kernel", 10)
    assert seqs(both) == [2, 1]
    assert dict(index.search(["b"], "kernel", 10))[2] == pytest.approx(dict(both)[2])
    assert index.search([], "kernel", 10) == []
    assert index.search(["a"], "the of and", 10) == []  # stopwords only: still searched, nothing matches
    assert index.count("a") == 1
    assert index.count("b") == 2
    assert index.stores == {"a", "b"}
    index.replace([2, 3], [])
    index.replace([2, 3], [])  # again: nothing left to take from b
    assert index.stores == {"a"}
    # Every store left is asked for, so the store clause is left out: still only a's chunk.
    assert seqs(index.search(["a"], "kernel cache", 10)) == [1]
    index.replace([], [(4, "b", "kernel")])
    assert seqs(index.search(["a"], "kernel", 10)) == [1]


def test_changes_are_idempotent_and_deletes_disappear() -> None:
    index = LexicalIndex()
    index.replace([], [(1, "s", "alpha beta"), (2, "s", "beta gamma")])
    index.replace([1], [(1, "s", "delta")])
    index.replace([1], [(1, "s", "delta")])  # the same change again: a catch-up after a build
    assert seqs(index.search(["s"], "alpha", 10)) == []
    assert seqs(index.search(["s"], "delta", 10)) == [1]
    index.replace([2], [])
    assert seqs(index.search(["s"], "beta gamma delta", 10)) == [1]
    assert len(index) == 1


def test_equal_scores_come_back_by_seq_and_the_limit_holds() -> None:
    index = LexicalIndex()
    index.replace([], [(seq, "s", "same words here") for seq in (9, 3, 7, 1, 5)])
    assert seqs(index.search(["s"], "words", 10)) == [1, 3, 5, 7, 9]
    assert len(index.search(["s"], "words", 2)) == 2


def test_a_query_of_many_words_is_bounded() -> None:
    index = LexicalIndex()
    words = [f"w{i}" for i in range(500)]
    index.replace([], [(1, "s", " ".join(words))])
    assert len(index.terms(" ".join(words))) == 64
    assert seqs(index.search(["s"], " ".join(words), 10)) == [1]


VOCAB = ["kernel", "cache", "latency", "webhook", "signature", "deploy", "store", "search", "index", "job"]
texts = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8).map(" ".join)
operations = st.lists(
    st.tuples(st.integers(1, 12), st.sampled_from(["a", "b"]), st.one_of(st.none(), texts)), max_size=30
)


@settings(max_examples=60, deadline=None)
@given(operations, st.sampled_from(VOCAB), st.sampled_from([["a"], ["b"], ["a", "b"]]))
def test_any_sequence_of_changes_finds_what_a_fresh_build_finds(
    changes: list[tuple[int, str, str | None]], word: str, stores: list[str]
) -> None:
    """Chunks are written, rewritten and deleted in any order; the index then matches exactly the chunks
    a fresh build of the final rows matches, in score order."""
    incremental = LexicalIndex()
    final: dict[int, tuple[str, str]] = {}
    for seq, store, content in changes:
        incremental.replace([seq], [] if content is None else [(seq, store, content)])
        if content is None:
            final.pop(seq, None)
        else:
            final[seq] = (store, content)
    fresh = LexicalIndex()
    fresh.replace([], [(seq, store, content) for seq, (store, content) in final.items()])
    expected = {seq for seq, (store, content) in final.items() if store in stores and word in content.split()}
    for index in (incremental, fresh):
        hits = index.search(stores, word, 100)
        assert set(seqs(hits)) == expected
        assert hits == sorted(hits, key=lambda hit: (-hit[1], hit[0]))


# --------------------------------------------------------------------------------------------------
# Against FTS5, through the application, on real text
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    """Both databases: SQLite's log is vector_changes (0004), PostgreSQL's search_changes (0019)."""
    settings_ = make_settings(tmp_path, database_url)
    built = build_services(settings_, engine=make_engine(settings_.resolved_database_url))
    yield built
    built.close()


def mirrored(services: Services) -> SqliteIndex | PostgresIndex:
    assert isinstance(services.index, SqliteIndex | PostgresIndex)
    return services.index


def reference_search(
    services: Services, session: Session, stores: list[str], query: str, k: int
) -> list[Hit]:
    """The database's own BM25: FTS5 on SQLite, SQL over tsvectors on PostgreSQL."""
    index = mirrored(services)
    if isinstance(index, SqliteIndex):
        return index.fts5_search(session, stores, query, k, SearchFilters())
    return index.sql_search(session, stores, query, k, SearchFilters())


def store_ids(services: Services) -> list[str]:
    with services.sessions() as session:
        return list(session.scalars(text("SELECT id FROM stores ORDER BY name")))


def ingest_docs(services: Services, tmp_path: Path) -> Path:
    """A fixed corpus of real English: this project's documentation and README as of this test's writing
    (copied, so editing the docs does not move the rankings compared below)."""
    root = tmp_path / "docs-corpus"
    shutil.copytree(REPO / "tests" / "fixtures" / "lexical_corpus", root / "docs")
    write(root, {"lightfast.yml": CONFIG.format(store="docs")})
    services.ingest.ingest_path(root)
    return root


AGREEMENT_QUERIES = [
    "webhook signature verification",
    "rate limit per minute",
    "embedding model provider",
    "cancel a running job",
    "api key rotation",
    "postgresql pgvector hnsw",
    "search modes fast balanced dense",
    "console activity timeline",
    "sync a github repository",
    "index verify rebuild",
    "lightfast.yml include exclude patterns",
    "chunk size overlap tokens",
    "linear issues notion pages",
    "metrics prometheus",
    "invitation organization members",
    "highlights snippets",
    "backup restore data directory",
    "reciprocal rank fusion weighted",
    "secret key sealed credentials",
    "sentry vercel zendesk",
]


def test_rankings_agree_with_the_database_on_a_fixed_corpus(services: Services, tmp_path: Path) -> None:
    """BM25 twice, with other stemmers (and on SQLite another idf): on real text the top ten are mostly
    the same chunks, and the database's best chunk is among the new index's best five."""
    ingest_docs(services, tmp_path)
    index = mirrored(services)
    stores = store_ids(services)
    overlaps = []
    with services.sessions() as session:
        for query in AGREEMENT_QUERIES:
            new = [h.seq for h in index.lexical_search(session, stores, query, 10, SearchFilters())]
            old = [h.seq for h in reference_search(services, session, stores, query, 10)]
            assert old, query
            # The databases split a few words otherwise (PostgreSQL's parser keeps URLs and paths whole),
            # so one more or one fewer chunk may match at all.
            assert abs(len(new) - len(old)) <= 1, query
            assert old[0] in new[:5], query  # near ties may swap: 3.73 against 3.70 in one case
            overlaps.append(len(set(new) & set(old)) / len(old))
    assert sum(overlaps) / len(overlaps) >= 0.9, overlaps
    assert index.lexical.builds == 1


# --------------------------------------------------------------------------------------------------
# Following the database
# --------------------------------------------------------------------------------------------------


def lexical(services: Services, query: str, k: int = 10, filters: SearchFilters | None = None) -> list[int]:
    with services.sessions() as session:
        hits = mirrored(services).lexical_search(
            session, store_ids(services), query, k, filters or SearchFilters()
        )
    return [h.seq for h in hits]


def fts5(services: Services, query: str, k: int = 10) -> list[int]:
    """The database's own ranking (FTS5 on SQLite)."""
    with services.sessions() as session:
        return [h.seq for h in reference_search(services, session, store_ids(services), query, k)]


def test_a_write_is_found_by_the_next_search_without_a_rebuild(services: Services, tmp_path: Path) -> None:
    root = ingest_docs(services, tmp_path)
    assert lexical(services, "zeppelin") == []
    mirror = mirrored(services).lexical
    assert mirror.builds == 1

    write(root, {"docs/new.md": "# Airships\n\nThe zeppelin docked at the mast.\n"})
    services.ingest.ingest_path(root)
    found = lexical(services, "zeppelin")
    assert found
    assert found == fts5(services, "zeppelin")

    write(root, {"docs/new.md": "# Airships\n\nThe blimp docked at the mast.\n"})
    services.ingest.ingest_path(root)
    assert lexical(services, "zeppelin") == []
    assert lexical(services, "blimp") == fts5(services, "blimp") != []

    (root / "docs" / "new.md").unlink()
    services.ingest.ingest_path(root)
    assert lexical(services, "blimp") == []
    assert mirror.builds == 1


def test_filters_apply_to_the_new_ranking(services: Services, tmp_path: Path) -> None:
    ingest_docs(services, tmp_path)
    assert lexical(services, "webhook", filters=SearchFilters(source_types=("github",))) == []
    assert lexical(services, "webhook", filters=SearchFilters(source_types=("local",))) == lexical(
        services, "webhook"
    )
    # A path filter is ranked by FTS5 after filtering, as before.
    only_readme = lexical(services, "webhook", 50, SearchFilters(path_prefix="docs/README"))
    with services.sessions() as session:
        in_readme = set(
            session.scalars(
                text(
                    "SELECT ve.seq FROM vector_entries ve JOIN documents d ON d.id = ve.document_id "
                    "WHERE d.path = 'docs/README.md'"
                )
            )
        )
    assert only_readme
    assert set(only_readme) <= in_readme


def test_a_pruned_log_or_a_reset_rebuilds(services: Services, tmp_path: Path) -> None:
    root = ingest_docs(services, tmp_path)
    lexical(services, "webhook")
    mirror = mirrored(services).lexical
    write(root, {"docs/late.md": "# Late\n\nquokka sightings\n"})
    services.ingest.ingest_path(root)
    with services.sessions.begin() as session:
        # As the prune trigger does, past our position.
        if services.engine.dialect.name == "postgresql":
            session.execute(text(f"UPDATE search_change_horizon SET pruned_below = {CURRENT_TRANSACTION}"))
        else:
            session.execute(text("DELETE FROM vector_changes"))
    assert lexical(services, "quokka") == fts5(services, "quokka") != []
    assert mirror.builds == 2

    mirrored(services).reset()
    assert lexical(services, "quokka") != []
    assert mirror.builds == 3


def test_a_large_database_is_built_in_the_background_while_fts5_answers(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_docs(services, tmp_path)
    monkeypatch.setattr(lexical_mirror, "INLINE_BUILD_ROWS", 0)
    release = threading.Event()
    original = LexicalIndex.add

    def slow_add(self: LexicalIndex, rows: object) -> None:
        release.wait(30)
        original(self, rows)  # type: ignore[arg-type]

    monkeypatch.setattr(LexicalIndex, "add", slow_add)
    index = mirrored(services)
    # The build waits: the search is FTS5's, exactly.
    assert lexical(services, "webhook signature") == fts5(services, "webhook signature")
    assert index.lexical.builds == 0
    release.set()
    with services.sessions() as session:
        built = index.wait_lexical(session)
    assert index.lexical.builds == 1
    assert lexical(services, "webhook signature") == [
        seq for seq, _ in built.search(store_ids(services), "webhook signature", 10)
    ]


def test_a_failed_build_leaves_fts5_answering(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_docs(services, tmp_path)
    monkeypatch.setattr(lexical_mirror, "INLINE_BUILD_ROWS", 0)
    calls = []

    def broken_add(self: LexicalIndex, rows: object) -> None:
        calls.append(1)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(LexicalIndex, "add", broken_add)
    index = mirrored(services)
    assert lexical(services, "webhook") == fts5(services, "webhook") != []
    builder = index.lexical._builder
    assert builder is not None
    builder.join(30)
    assert calls == [1]
    # Backing off: the next searches neither fail nor start another build at once.
    assert lexical(services, "webhook") == fts5(services, "webhook")
    assert calls == [1]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgres_a_change_committed_after_a_later_one_is_not_skipped(
    services: Services, tmp_path: Path
) -> None:
    """Transaction A takes its log ids first and commits last: a reader that remembered the newest id it
    saw would skip A's change. The position is the oldest running transaction, so the next search finds it."""
    # PostgreSQL only: SQLite has one writer at a time, so its log ids are in commit order.
    ingest_docs(services, tmp_path)
    assert lexical(services, "walrus") == []
    with services.sessions() as session:
        first, second = session.scalars(text("SELECT seq FROM vector_entries ORDER BY seq LIMIT 2")).all()
    with services.engine.connect() as slow, services.engine.connect() as quick:
        slow.execute(
            text("UPDATE vector_entries SET content = content || ' walrus' WHERE seq = :seq"), {"seq": first}
        )
        quick.execute(
            text("UPDATE vector_entries SET content = content || ' narwhal' WHERE seq = :seq"),
            {"seq": second},
        )
        quick.commit()
        assert lexical(services, "narwhal") == [second]  # caught up past B while A still runs
        slow.commit()
    assert lexical(services, "walrus") == [first]
    assert mirrored(services).lexical.builds == 1


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgres_a_reader_behind_the_pruned_log_rebuilds(services: Services, tmp_path: Path) -> None:
    """The log prunes itself when a write crosses a multiple of 4,096 ids (here keeping 10 changes): a
    reader whose position is older than the pruned transactions builds its index again, and is right."""
    # PostgreSQL only: SQLite's pruning is covered by test_a_pruned_log_or_a_reset_rebuilds.
    ingest_docs(services, tmp_path)
    assert lexical(services, "walrus") == []
    mirror = mirrored(services).lexical
    with services.sessions.begin() as session:
        session.execute(text("UPDATE search_change_horizon SET keep = 10"))
        rows = session.scalar(text("SELECT count(*) FROM vector_entries"))
        assert rows
    for _ in range(4096 // rows + 1):  # each statement logs every chunk row once
        with services.sessions.begin() as session:
            session.execute(text("UPDATE vector_entries SET content = content"))
    with services.sessions.begin() as session:
        seq = session.scalar(text("SELECT min(seq) FROM vector_entries"))
        session.execute(text("UPDATE vector_entries SET content = 'walrus' WHERE seq = :seq"), {"seq": seq})
        logged = session.scalar(text("SELECT count(*) FROM search_changes"))
    assert logged < 4096  # pruned
    assert lexical(services, "walrus") == [seq]
    assert mirror.builds == 2
