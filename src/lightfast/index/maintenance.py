"""Checks and rebuilds of the search index, which is derived state: everything in it can be computed
again from the chunk rows (``vector_entries``) and the store rows.

SQLite: the FTS5 table ``chunks_fts`` (its ``chunks_fts_docsize`` shadow table holds one row per indexed
chunk, so missing and extra chunks can be named), the triggers that keep it and the change log in step,
and each process's in-memory vector tables (rebuilt by emptying the change log, which makes every process
load its stores again on its next search). PostgreSQL: the GIN index over the generated ``tsv`` column and
the HNSW index over the embeddings (their presence and validity; a rebuild is ``REINDEX``).

Both: chunks whose vector has another dimension than their store's model are invisible to vector
search; no rebuild brings them back (they need embedding again), so a check reports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

# What the migrations create and search relies on (0001 and 0004).
SQLITE_TRIGGERS = (
    "vector_entries_fts_insert",
    "vector_entries_fts_delete",
    "vector_entries_fts_update",
    "vector_entries_changes_insert",
    "vector_entries_changes_delete",
    "vector_entries_changes_update",
    "vector_changes_prune",
)
POSTGRES_INDEXES = {
    "ix_vector_entries_tsv": "CREATE INDEX ix_vector_entries_tsv ON vector_entries USING gin (tsv)",
    "ix_vector_entries_hnsw_384": "CREATE INDEX ix_vector_entries_hnsw_384 ON vector_entries "
    "USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE vector_dims(embedding) = 384",
}
CURRENT_TRANSACTION = "pg_current_xact_id()::text::bigint"  # as search_changes.xid records it (0019)
MAX_LISTED = 50  # chunk ids named in a report; the counts are always whole


@dataclass(frozen=True)
class StoreTarget:
    id: str
    name: str
    dimension: int
    generation: int


@dataclass
class StoreIndexState:
    """One store's chunks in the database against what its index holds."""

    store_id: str
    store: str
    generation: int
    chunks: int  # rows in the database
    lexical_indexed: int  # of those, rows the lexical index holds
    vector_indexed: int  # of those, rows vector search can find (right dimension, in the table)
    missing_lexical: list[str] = field(default_factory=list)  # chunk ids (at most MAX_LISTED)
    missing_lexical_count: int = 0
    wrong_dimension: list[str] = field(default_factory=list)
    wrong_dimension_count: int = 0
    # Rows this process's in-memory BM25 index (index.lexical) holds, caught up first: it ranks lexical
    # search, the database's full-text search being its fallback. None when not checked.
    ranked_indexed: int | None = None

    @property
    def consistent(self) -> bool:
        return (
            self.missing_lexical_count == 0
            and self.wrong_dimension_count == 0
            and self.lexical_indexed == self.chunks
            and self.vector_indexed == self.chunks - self.wrong_dimension_count
            and self.ranked_indexed in (None, self.chunks)
        )


@dataclass
class IndexState:
    backend: str
    stores: list[StoreIndexState]
    extra_lexical: list[int] = field(default_factory=list)  # indexed seqs with no chunk row
    extra_lexical_count: int = 0
    problems: list[str] = field(default_factory=list)  # missing triggers or indexes, internal damage

    @property
    def consistent(self) -> bool:
        return not self.problems and self.extra_lexical_count == 0 and all(s.consistent for s in self.stores)


def _ids(session: Session, sql: str, params: dict[str, object]) -> tuple[list[str], int]:
    rows = session.execute(text(sql + f" ORDER BY ve.seq LIMIT {MAX_LISTED}"), params).scalars().all()
    count = session.execute(text(f"SELECT count(*) FROM ({sql}) AS c"), params).scalar_one()
    return [str(r) for r in rows], int(count)


def _count(session: Session, sql: str, params: dict[str, object]) -> int:
    return int(session.execute(text(sql), params).scalar_one())


# -- SQLite -------------------------------------------------------------------------------------------

_SQLITE_MISSING = (
    "SELECT ve.id FROM vector_entries ve WHERE ve.store_id = :store "
    "AND NOT EXISTS (SELECT 1 FROM chunks_fts_docsize f WHERE f.id = ve.seq)"
)
_SQLITE_WRONG_DIM = (
    "SELECT ve.id FROM vector_entries ve WHERE ve.store_id = :store AND length(ve.embedding) != :width"
)
_SQLITE_EXTRA = (
    "SELECT f.id FROM chunks_fts_docsize f "
    "WHERE NOT EXISTS (SELECT 1 FROM vector_entries ve WHERE ve.seq = f.id)"
)


def sqlite_state(
    session: Session,
    targets: list[StoreTarget],
    vector_rows: Callable[[StoreTarget], int],
    ranked_rows: Callable[[StoreTarget], int | None] = lambda _: None,
) -> IndexState:
    """``vector_rows(store)``, ``ranked_rows(store)``: how many live rows this process's vector table and
    in-memory BM25 index hold of the store."""
    state = IndexState("sqlite", [])
    present = set(
        session.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars().all()
    )
    state.problems += [f"trigger {name} is missing" for name in SQLITE_TRIGGERS if name not in present]
    try:
        session.execute(text("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')"))
    except Exception as exc:  # SQLite reports damage as an error of this statement
        state.problems.append(f"the FTS5 index is damaged: {str(exc).splitlines()[0]}")
    for target in targets:
        params: dict[str, object] = {"store": target.id, "width": 4 * target.dimension}
        chunks = _count(session, "SELECT count(*) FROM vector_entries WHERE store_id = :store", params)
        missing, missing_count = _ids(session, _SQLITE_MISSING, params)
        wrong, wrong_count = _ids(session, _SQLITE_WRONG_DIM, params)
        state.stores.append(
            StoreIndexState(
                target.id,
                target.name,
                target.generation,
                chunks,
                chunks - missing_count,
                vector_rows(target),
                missing,
                missing_count,
                wrong,
                wrong_count,
                ranked_rows(target),
            )
        )
    extra = _SQLITE_EXTRA
    state.extra_lexical = [
        int(r) for r in session.execute(text(extra + f" ORDER BY f.id LIMIT {MAX_LISTED}")).scalars()
    ]
    state.extra_lexical_count = _count(session, f"SELECT count(*) FROM ({extra}) AS e", {})
    return state


def sqlite_rebuild_lexical(session: Session) -> None:
    """FTS5 reads every chunk row again. It is one table for every store: an extra row names no store,
    and removing one needs the text it was indexed with, so the whole table is rebuilt."""
    session.execute(text("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')"))


def sqlite_forget_vector_positions(session: Session) -> None:
    """Move the change log past every reader and empty it: each process's vector tables are then behind
    its oldest entry and load their stores again on their next search (``SqliteIndex.snapshot``). The
    entry of no store only advances the log's last id (AUTOINCREMENT: ids never go back), so a table
    that had read the whole log is behind too."""
    session.execute(text("INSERT INTO vector_changes (store_id, seq) VALUES ('', -1)"))
    session.execute(text("DELETE FROM vector_changes"))


# -- PostgreSQL ---------------------------------------------------------------------------------------

_PG_WRONG_DIM = (
    "SELECT ve.id FROM vector_entries ve WHERE ve.store_id = :store AND vector_dims(ve.embedding) != :dim"
)
_PG_INDEXES = (
    "SELECT c.relname AS name, i.indisvalid AND i.indisready AS usable FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
    "WHERE t.relname = 'vector_entries' AND c.relname = ANY(:names)"
)


def postgres_state(
    session: Session,
    targets: list[StoreTarget],
    ranked_rows: Callable[[StoreTarget], int | None] = lambda _: None,
) -> IndexState:
    state = IndexState("postgresql", [])
    found = {
        r.name: r.usable
        for r in session.execute(text(_PG_INDEXES), {"names": list(POSTGRES_INDEXES)}).mappings()
    }
    for name in POSTGRES_INDEXES:
        if name not in found:
            state.problems.append(f"index {name} is missing")
        elif not found[name]:
            state.problems.append(f"index {name} is not valid (an interrupted build?)")
    for target in targets:
        params: dict[str, object] = {"store": target.id, "dim": target.dimension}
        chunks = _count(session, "SELECT count(*) FROM vector_entries WHERE store_id = :store", params)
        # tsv is a generated column: every row has it; an empty one (no words) is not a missing row.
        wrong, wrong_count = _ids(session, _PG_WRONG_DIM, params)
        state.stores.append(
            StoreIndexState(
                target.id,
                target.name,
                target.generation,
                chunks,
                chunks,
                chunks - wrong_count,
                wrong_dimension=wrong,
                wrong_dimension_count=wrong_count,
                ranked_indexed=ranked_rows(target),
            )
        )
    return state


def postgres_rebuild(session: Session, progress: Callable[[str], None]) -> None:
    """Create the indexes that are missing and rebuild the others (``REINDEX`` locks writes meanwhile)."""
    found = {r.name for r in session.execute(text(_PG_INDEXES), {"names": list(POSTGRES_INDEXES)}).mappings()}
    for name, create in POSTGRES_INDEXES.items():
        progress(f"{'rebuilding' if name in found else 'creating'} {name}")
        session.execute(text(f"REINDEX INDEX {name}" if name in found else create))
    progress("moving the change log's horizon: every process rebuilds its in-memory BM25 index")
    session.execute(text(f"UPDATE search_change_horizon SET pruned_below = {CURRENT_TRANSACTION}"))
