"""Embedded search: exact cosine search over in-memory NumPy tables per store, and SQLite FTS5 BM25.

Vectors live in SQLite next to their rows (one file, one transaction). Each process keeps a
``VectorTable`` per store in memory, loaded once, then kept up to date by chunk: triggers log the seq of
every inserted, deleted or updated chunk row in ``vector_changes`` (migration 0004) in the writing
transaction, and a search first reads the log past the position its table has seen, drops those seqs
and loads their current rows. A write never reloads a whole store; a process that fell behind the
pruned log, or starts, loads the store from the database: the tables are derived state.

With a ``vector_dir`` a table is also persisted there (``vector_file``) after a full load and again once
it has moved far past its file, and a process that starts reads the file and catches up from the log
instead of reading every chunk row (12.5 s at 1M chunks). The file is checked before it is trusted
(``_restore``); any doubt means the full load, which writes a new file.

Exact search costs about 7 ms a query at 100k chunks and needs no index build; see
``bench/results/vector_index.md`` for the comparison with usearch and sqlite-vec, and
``bench/results/search_latency.md`` for search and freshness latency.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Row, text
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from lightfast.index import row_count, vector_file
from lightfast.index.base import Hit, SearchFilters, like_prefix
from lightfast.index.lexical import LexicalIndex
from lightfast.index.lexical_mirror import LexicalMirror, SqliteChanges, candidate_depth
from lightfast.index.vectors import ChunkRows, Snapshot, VectorTable
from lightfast.search.text import fts5_match_expression

log = logging.getLogger(__name__)

_READ_BATCH = 8192
# A table is written again once this many of its rows changed since its file was taken (and at least a
# tenth of it): a new process then catches up over at most that many rows from the log, and a write of
# the file (1.5 GB at 1M chunks) does not follow every burst of changes.
_REWRITE_CHANGES = 50_000

# The oldest change the log still holds, and the newest id it ever handed out (AUTOINCREMENT keeps it
# in sqlite_sequence, so it never goes back, even when the log has been emptied).
_LOG_HEAD = (
    "SELECT (SELECT min(id) FROM vector_changes) AS first, "
    "(SELECT seq FROM sqlite_sequence WHERE name = 'vector_changes') AS last"
)
_CHANGED = "SELECT seq FROM vector_changes WHERE id > :after AND id <= :upto AND store_id = :store"
# Below this a full load takes under half a second (12.5 us a row): a file would save little.
_PERSIST_MIN_ROWS = 32_768
_ROWS = (
    "SELECT ve.seq, ve.document_id, ve.embedding, d.source_type, d.path, d.updated_at "
    "FROM vector_entries ve JOIN documents d ON d.id = ve.document_id "
    "WHERE ve.store_id = :store AND length(ve.embedding) = :width{changed} ORDER BY ve.seq"
)


@dataclass
class IndexStats:
    """What the index has read from the database since it was created (for tests and benchmarks)."""

    full_loads: int = 0  # stores loaded whole
    rows_loaded: int = 0  # chunk rows read into memory, by full loads and catch-ups together
    file_loads: int = 0  # stores started from their persisted file
    file_rejections: int = 0  # files found and not used (each logged with its reason)


@dataclass
class _Entry:
    table: VectorTable
    position: int  # the last vector_changes id reflected in the table
    changed_since_file: int = 0  # chunk seqs caught up since the table's file was taken (or loaded)


class SqliteIndex:
    def __init__(self, vector_dir: Path | None = None, persist_min_rows: int = _PERSIST_MIN_ROWS) -> None:
        """``vector_dir``: where the vector tables are persisted (None: nowhere, every start is a full
        load); only tables of ``persist_min_rows`` live rows or more are."""
        # A query's matrix-vector product is memory-bound: a second BLAS thread barely helps when the
        # machine is idle and, when the other core is busy (ingesting, another query), waits for it at
        # every barrier: 0.4 / 1.0 ms p50 / p95 at 10k chunks on one thread, 0.7 / 16 ms on two. Process
        # wide, as BLAS's thread count is; torch's own kernels are not NumPy's BLAS and keep theirs.
        threadpool_limits(limits=1, user_api="blas")
        self._tables: dict[tuple[str, int], _Entry] = {}
        self._lock = threading.Lock()
        self.stats = IndexStats()
        self.lexical = LexicalMirror(SqliteChanges())
        self.vector_dir = vector_dir
        self._database_id: str | None = None
        self.persist_min_rows = persist_min_rows
        self.files = vector_file.BackgroundWriter()

    def reset(self) -> None:
        """Forget every table and the lexical index; the next search loads them from the database."""
        with self._lock:
            self._tables.clear()
        self.lexical.reset()

    def wait_lexical(self, session: Session) -> LexicalIndex:
        """The in-memory lexical index built and caught up now (benchmarks, ``index rebuild``)."""
        return self.lexical.wait(session)

    def vector_search(
        self, session: Session, store_ids: list[str], vector: np.ndarray, k: int, filters: SearchFilters
    ) -> list[Hit]:
        if not store_ids:
            return []
        head = session.execute(text(_LOG_HEAD)).one()
        hits: list[Hit] = []
        # The in-memory tables hold no metadata: the documents the metadata filter keeps are read once.
        kept = _metadata_documents(session, store_ids, filters) if filters.metadata else None
        for store_id in store_ids:
            snapshot = self.snapshot(session, store_id, int(vector.shape[0]), head.first, head.last or 0)
            mask = _filter_mask(snapshot, filters)
            if kept is not None:
                # Set membership: np.isin over object arrays sorts them (27 ms at 4,000 chunks).
                ids = snapshot.document_ids
                by_metadata = np.fromiter((d in kept for d in ids), dtype=bool, count=len(ids))
                mask = by_metadata if mask is None else mask & by_metadata
            hits.extend(Hit(seq, document, score) for seq, document, score in snapshot.top(vector, k, mask))
        hits.sort(key=lambda h: (-h.score, h.seq))
        return hits[:k]

    def live_rows(self, session: Session, store_id: str, dim: int) -> int:
        """Rows of the store that vector search can find now (the table caught up first): what
        ``lightfast index verify`` compares with the database."""
        head = session.execute(text(_LOG_HEAD)).one()
        return int(self.snapshot(session, store_id, dim, head.first, head.last or 0).alive.sum())

    def snapshot(self, session: Session, store_id: str, dim: int, first: int | None, last: int) -> Snapshot:
        """The store's vectors of dimension ``dim`` as of log id ``last`` or later (``first`` is the
        oldest id the log still holds)."""
        entry = self._tables.get((store_id, dim))
        # Another thread may have read a newer head and caught up further: that is fresh enough. The
        # log's ids never go back, so a position past ``last`` means nothing else.
        if entry is not None and entry.position >= last:
            return entry.table.snapshot()
        with self._lock:
            entry = self._tables.get((store_id, dim))
            oldest = first if first is not None else last + 1
            if entry is None and self.vector_dir is not None:
                entry = self._restore(session, store_id, dim, first, last)
            if entry is None or oldest > entry.position + 1:
                # New, or changes after its position were pruned from the log: load the store.
                entry = self._load(session, store_id, dim, last)
                self._persist(session, store_id, entry)
            elif entry.position < last:
                self._catch_up(session, store_id, entry, last)
            if entry.changed_since_file > max(_REWRITE_CHANGES, entry.table.live // 10):
                self._persist(session, store_id, entry)
            return entry.table.snapshot()

    def _load(self, session: Session, store_id: str, dim: int, upto: int) -> _Entry:
        count = session.execute(
            text("SELECT count(*) FROM vector_entries WHERE store_id = :store"), {"store": store_id}
        ).scalar_one()
        table = VectorTable(dim, capacity=count + count // 4)
        empty = np.empty(0, dtype=np.int64)
        for rows in self._read(session, store_id, dim, None):
            table.apply(empty, rows)
        entry = _Entry(table, upto)
        self._install(store_id, entry)
        self.stats.full_loads += 1
        return entry

    def _install(self, store_id: str, entry: _Entry) -> None:
        dim = entry.table.dim
        if entry.table.live:  # the store holds this model's vectors now: forget those of another model
            for key in [key for key in self._tables if key[0] == store_id and key[1] != dim]:
                del self._tables[key]
        self._tables[(store_id, dim)] = entry

    # -- the persisted tables (vector_file) -----------------------------------------------------------

    def _restore(
        self, session: Session, store_id: str, dim: int, first: int | None, last: int
    ) -> _Entry | None:
        """The store's table from its file, caught up to ``last`` and checked against the database; None
        when there is no usable file (the reason logged), so the caller loads the store whole."""
        assert self.vector_dir is not None
        path = vector_file.file_path(self.vector_dir, store_id, dim)
        database_id = self._identity(session)
        if database_id is None or not path.exists():
            return None
        started = time.perf_counter()
        # The check's scan of the store's rows (1.5 s at 1M) runs on its own connection while the file
        # is read (1.8 s): both wait on I/O and SQLite and zlib let go of the GIL meanwhile.
        counted = row_count.count_in_background(session, store_id, dim)
        try:
            loaded = vector_file.read(
                path, vector_file.FileIdentity(database_id, store_id, dim), lambda n: n + n // 4
            )
            oldest = first if first is not None else last + 1
            if loaded.position > last:
                raise vector_file.VectorFileRejected(
                    f"it reflects change-log id {loaded.position}, past the database's newest {last} "
                    "(a restored backup?)"
                )
            if oldest > loaded.position + 1:
                raise vector_file.VectorFileRejected(
                    f"the change log was pruned past its position {loaded.position} (oldest id {oldest})"
                )
            entry = _Entry(VectorTable.adopt(loaded.rows, loaded.storage), loaded.position)
            self._catch_up(session, store_id, entry, last)
            self._check_rows(session, store_id, entry, counted())
        except vector_file.VectorFileRejected as rejected:
            self.stats.file_rejections += 1
            log.warning(
                "vector file %s not used, store %s loads from the database: %s", path, store_id, rejected
            )
            return None
        self._install(store_id, entry)
        self.stats.file_loads += 1
        log.info(
            "store %s: %d vectors from %s (+%d changes from the log) in %.2f s",
            store_id,
            entry.table.live,
            path.name,
            entry.changed_since_file,
            time.perf_counter() - started,
        )
        return entry

    def _check_rows(self, session: Session, store_id: str, entry: _Entry, found: Row[Any] | None) -> None:
        """The table caught up must hold exactly the store's rows of its dimension: the same count and
        the same sum of seqs (one scan, and a file whose history diverged from the database's rarely
        matches both). ``found``: that count, with the log's newest id it was taken at (counted in the
        background since the caller read the log's head, so never behind the table)."""
        table = entry.table
        if found is None or (found.last or 0) < entry.position:
            found = row_count.count_rows(session, store_id, table.dim)
        if (found.last or 0) > entry.position:  # writes committed since: the count includes them
            self._catch_up(session, store_id, entry, int(found.last))
        snapshot = table.snapshot()
        held, total = table.live, int(snapshot.seqs[snapshot.alive].sum())
        if (int(found.rows), int(found.total)) != (held, total):
            raise vector_file.VectorFileRejected(
                f"after catching up it holds {held} rows (seq sum {total}), the database {found.rows} "
                f"(seq sum {found.total})"
            )

    def _identity(self, session: Session) -> str | None:
        if self._database_id is None:
            found = session.execute(text("SELECT id FROM database_identity ORDER BY id LIMIT 1")).scalar()
            if found is None:
                log.warning(
                    "the database has no identity row (migration 0020): vector tables are not persisted"
                )
            self._database_id = found
        return self._database_id

    def _persist(self, session: Session, store_id: str, entry: _Entry) -> None:
        """Write the table's file in a thread of its own (the caller holds the index lock): the snapshot
        and position taken now are consistent, and a published snapshot never changes."""
        if self.vector_dir is None or entry.table.live < self.persist_min_rows:
            return
        if (database_id := self._identity(session)) is None:
            return
        dim = entry.table.dim
        path = vector_file.file_path(self.vector_dir, store_id, dim)
        identity = vector_file.FileIdentity(database_id, store_id, dim)
        # Refused while the previous write of this file runs: changed_since_file keeps counting, and
        # the next catch-up asks again.
        if self.files.submit(path, identity, entry.table.snapshot(), entry.position):
            entry.changed_since_file = 0

    def wait_files(self) -> None:
        """Wait for the vector files being written (tests, benchmarks, ``index rebuild``)."""
        self.files.wait()

    def discard_vector_files(self) -> int:
        """Delete every persisted table (``index rebuild``: a rebuild never trusts them)."""
        self.files.wait()
        return vector_file.remove_all(self.vector_dir) if self.vector_dir is not None else 0

    def _catch_up(self, session: Session, store_id: str, entry: _Entry, upto: int) -> None:
        window = {"store": store_id, "after": entry.position, "upto": upto}
        changed = np.fromiter(session.execute(text(_CHANGED), window).scalars(), dtype=np.int64)
        if len(changed):
            removed = np.unique(changed)
            entry.changed_since_file += len(removed)
            parts = list(self._read(session, store_id, entry.table.dim, window))
            rows = parts[0] if len(parts) == 1 else _concat(parts, entry.table.dim)
            # Every changed seq goes; the rows that exist now come back (a seq SQLite reused included).
            entry.table.apply(removed, rows)
        entry.position = upto

    def _read(
        self, session: Session, store_id: str, dim: int, window: dict[str, object] | None
    ) -> Iterator[ChunkRows]:
        changed = f" AND ve.seq IN ({_CHANGED})" if window else ""
        params: dict[str, object] = {"store": store_id, "width": 4 * dim, **(window or {})}
        result = session.execute(text(_ROWS.format(changed=changed)), params)
        for batch in result.partitions(_READ_BATCH):
            rows = ChunkRows(
                seqs=np.fromiter((r.seq for r in batch), dtype=np.int64, count=len(batch)),
                document_ids=np.array([r.document_id for r in batch], dtype=object),
                source_types=np.array([r.source_type for r in batch], dtype=object),
                paths=np.array([r.path for r in batch], dtype=object),
                updated=_posix_all([r.updated_at for r in batch]),
                matrix=np.frombuffer(b"".join(r.embedding for r in batch), dtype="<f4").reshape(-1, dim),
            )
            self.stats.rows_loaded += len(rows)
            yield rows

    def lexical_search(
        self, session: Session, store_ids: list[str], query: str, k: int, filters: SearchFilters
    ) -> list[Hit]:
        """BM25 from the in-memory index (``index.lexical``) when it is ready and the filters allow; FTS5
        otherwise. Either way, a hit is a chunk row the database holds now and the filters keep."""
        if not store_ids or k <= 0:
            return []
        hits = self.lexical.search(
            session, store_ids, query, k, filters, lambda seqs: _kept(session, seqs, store_ids, filters)
        )
        return hits if hits is not None else self.fts5_search(session, store_ids, query, k, filters)

    def fts5_search(
        self, session: Session, store_ids: list[str], query: str, k: int, filters: SearchFilters
    ) -> list[Hit]:
        """BM25 by SQLite's FTS5, in the writing transaction's view: the fallback, and the reference."""
        match = fts5_match_expression(query)
        if match is None or not store_ids:
            return []
        params: dict[str, object] = {"match": match, "k": k, "depth": candidate_depth(k)}
        where = _where(store_ids, filters, params)
        # FTS5 ranks every match (bm25 over the whole table) and keeps the best ``depth`` before any
        # join: joining every matching row first cost twice as much. If the stores and filters leave
        # fewer than k of those, rank again over all matches, joined first (the old plan): the result
        # is the same. A path or date filter usually keeps a small part of a store, so those go to the
        # old plan directly rather than rank twice.
        rows: Sequence[Row[Any]] = ()
        if not (filters.path_prefix or filters.updated_from or filters.updated_to or filters.metadata):
            rows = session.execute(text(_LEXICAL_TOP.format(where=where)), params).all()
        if len(rows) < k:
            rows = session.execute(text(_LEXICAL_ALL.format(where=where)), params).all()
        # FTS5's bm25() is lower-is-better; negate so every ranking is higher-is-better.
        return [Hit(int(r.seq), str(r.document_id), -float(r.score)) for r in rows]


def _kept(session: Session, seqs: list[int], store_ids: list[str], filters: SearchFilters) -> dict[int, str]:
    """The document of each candidate chunk the database still holds and the filters keep."""
    params: dict[str, object] = {"seqs": json.dumps(seqs)}
    rows = session.execute(text(_KEPT.format(where=_where(store_ids, filters, params))), params)
    return {int(r.seq): str(r.document_id) for r in rows}


# The index's candidates (a JSON array of seqs, one parameter however many) that still exist and pass.
# CROSS JOIN makes SQLite walk the candidates and look each row up by its key; left to choose, it scanned
# the store's rows by the store index and tested each against the list (64 ms at 100k chunks, not 1).
_KEPT = (
    "SELECT ve.seq, ve.document_id FROM json_each(:seqs) AS candidate "
    "CROSS JOIN vector_entries ve ON ve.seq = candidate.value "
    "JOIN documents d ON d.id = ve.document_id WHERE {where}"
)
# Both rank by (bm25, seq): equal scores come back in one order whichever plan answers.
_LEXICAL_TOP = (
    "SELECT ve.seq, ve.document_id, top.score FROM ("
    "SELECT rowid AS seq, bm25(chunks_fts) AS score FROM chunks_fts WHERE chunks_fts MATCH :match "
    "ORDER BY score, rowid LIMIT :depth) AS top "
    "JOIN vector_entries ve ON ve.seq = top.seq JOIN documents d ON d.id = ve.document_id "
    "WHERE {where} ORDER BY top.score, top.seq LIMIT :k"
)
_LEXICAL_ALL = (
    "SELECT ve.seq, ve.document_id, bm25(chunks_fts) AS score FROM chunks_fts "
    "JOIN vector_entries ve ON ve.seq = chunks_fts.rowid JOIN documents d ON d.id = ve.document_id "
    "WHERE chunks_fts MATCH :match AND {where} ORDER BY score, ve.seq LIMIT :k"
)


def _where(store_ids: list[str], filters: SearchFilters, params: dict[str, object]) -> str:
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
    if filters.updated_to is not None:
        params["updated_to"] = filters.updated_to.astimezone(UTC).replace(tzinfo=None)
        where.append("d.updated_at <= :updated_to")
    where.extend(_metadata_where(filters, params))
    return " AND ".join(where)


def _metadata_where(filters: SearchFilters, params: dict[str, object]) -> list[str]:
    """JSON1 clauses of the metadata conditions, with the semantics of search.metadata_filter.matches:
    json_each yields the key's value itself, or each element when it is an array (an object's members
    are excluded: they are not values of the key)."""
    clauses = []
    for i, condition in enumerate(filters.metadata):
        params[f"meta_path{i}"] = condition.json_path
        tests = []
        for j, value in enumerate(condition.values):
            if isinstance(value, bool):
                tests.append(f"je.type = '{'true' if value else 'false'}'")
                continue
            params[f"meta{i}_{j}"] = value
            kinds = "'text'" if isinstance(value, str) else "'integer', 'real'"
            tests.append(f"(je.type IN ({kinds}) AND je.value = :meta{i}_{j})")
        clauses.append(
            f"json_type(d.source_metadata, :meta_path{i}) NOT IN ('object', 'null') AND EXISTS ("
            f"SELECT 1 FROM json_each(d.source_metadata, :meta_path{i}) AS je WHERE {' OR '.join(tests)})"
        )
    return clauses


def _metadata_documents(session: Session, store_ids: list[str], filters: SearchFilters) -> frozenset[str]:
    params: dict[str, object] = {}
    stores = ", ".join(f":store{i}" for i in range(len(store_ids)))
    params.update({f"store{i}": s for i, s in enumerate(store_ids)})
    where = " AND ".join([f"d.store_id IN ({stores})", *_metadata_where(filters, params)])
    ids = session.execute(text(f"SELECT d.id FROM documents d WHERE {where}"), params).scalars()
    return frozenset(ids)


def _filter_mask(vectors: Snapshot, filters: SearchFilters) -> np.ndarray | None:
    mask: np.ndarray | None = None
    if filters.source_types:
        mask = np.isin(vectors.source_types, list(filters.source_types))
    if filters.path_prefix:
        prefix = filters.path_prefix
        by_path = np.fromiter(
            (p.startswith(prefix) for p in vectors.paths), dtype=bool, count=len(vectors.paths)
        )
        mask = by_path if mask is None else mask & by_path
    if filters.updated_from is not None:
        later = vectors.updated >= filters.updated_from.timestamp()
        mask = later if mask is None else mask & later
    if filters.updated_to is not None:
        earlier = vectors.updated <= filters.updated_to.timestamp()
        mask = earlier if mask is None else mask & earlier
    return mask


def _concat(parts: list[ChunkRows], dim: int) -> ChunkRows:
    if not parts:
        return ChunkRows.empty(dim)
    return ChunkRows(
        np.concatenate([p.seqs for p in parts]),
        np.concatenate([p.document_ids for p in parts]),
        np.concatenate([p.source_types for p in parts]),
        np.concatenate([p.paths for p in parts]),
        np.concatenate([p.updated for p in parts]),
        np.concatenate([p.matrix for p in parts]),
    )


def _posix_all(values: list[object]) -> np.ndarray:
    """POSIX seconds of each value; a document's chunks share its update time, so each is parsed once."""
    parsed: dict[object, float] = {}
    out = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        moment = parsed.get(value)
        if moment is None:
            moment = parsed[value] = _posix(value)
        out[i] = moment
    return out


def _posix(value: object) -> float:
    """SQLite returns the naive-UTC text the UtcDateTime column stored."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
