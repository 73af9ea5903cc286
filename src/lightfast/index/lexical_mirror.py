"""The in-memory BM25 index (``index.lexical``) kept in step with the database by its change log.

Triggers log every changed chunk row in the writing transaction: ``vector_changes`` on SQLite (0004, read
by the vector tables too), ``search_changes`` on PostgreSQL (0019). A search first reads the log past the
position the index has seen, drops those seqs and adds their rows as they are now, so a write never
rebuilds the index and the next search finds it. The index is derived state, built from every chunk row
when a process first searches, when it fell behind the pruned log, and after ``lightfast index rebuild``:

- a small database (up to ``INLINE_BUILD_ROWS`` chunks, under a second) is built inside that search;
- a larger one is built by a background thread, and the database's own full-text search answers until it
  is ready, so a cold start or a catch-up after a bulk import never makes a search wait seconds (1M
  chunks take about half a minute).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from lightfast.index.base import Hit, SearchFilters
from lightfast.index.lexical import LexicalIndex

log = logging.getLogger(__name__)

INLINE_BUILD_ROWS = 20_000
# A catch-up over more changed chunks than this is a rebuild in the background instead (see above).
INLINE_CATCH_UP_CHANGES = 20_000
RETRY_AFTER_FAILURE_SECONDS = 60.0
_READ_BATCH = 4096
_ROWS = "SELECT seq, store_id, content FROM vector_entries"


@dataclass(frozen=True)
class Head:
    position: int  # where a catch-up that starts now may say it has read up to
    oldest: int  # the oldest position the log can still catch up from


class ChangeLog(Protocol):
    def head(self, session: Session) -> Head:
        """Where the log stands now, as a reader that starts reading now sees it."""

    def changed(self, session: Session, after: int, head: Head) -> list[int] | None:
        """Seqs changed after position ``after`` (and up to ``head``), or None when nothing can have."""


class SqliteChanges:
    """``vector_changes``: one writer at a time, so ids are in commit order and the last id is a position.
    AUTOINCREMENT keeps the newest id in sqlite_sequence, so it never goes back, even once emptied."""

    _HEAD = (
        "SELECT (SELECT min(id) FROM vector_changes) AS first, "
        "(SELECT seq FROM sqlite_sequence WHERE name = 'vector_changes') AS last"
    )
    _CHANGED = "SELECT seq FROM vector_changes WHERE id > :after AND id <= :upto"

    def head(self, session: Session) -> Head:
        row = session.execute(text(self._HEAD)).one()
        last = int(row.last or 0)
        first = int(row.first) if row.first is not None else last + 1
        return Head(last, first - 1)

    def changed(self, session: Session, after: int, head: Head) -> list[int] | None:
        if after >= head.position:
            return None
        window = {"after": after, "upto": head.position}
        return sorted(set(session.execute(text(self._CHANGED), window).scalars()))


class PostgresChanges:
    """``search_changes``: ids are not in commit order, so a position is a transaction id: the oldest one
    still running when the catch-up began (every older one had finished, and its rows were read)."""

    _HEAD = (
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS position, "
        "(SELECT pruned_below FROM search_change_horizon) AS oldest"
    )
    _CHANGED = "SELECT DISTINCT seq FROM search_changes WHERE xid >= :after"

    def head(self, session: Session) -> Head:
        row = session.execute(text(self._HEAD)).one()
        return Head(int(row.position), int(row.oldest or 0))

    def changed(self, session: Session, after: int, head: Head) -> list[int] | None:
        # A transaction older than the position may still commit: the rows of every transaction from
        # the position on are read each time (a handful, unless one runs long).
        return sorted(int(seq) for seq in session.execute(text(self._CHANGED), {"after": after}).scalars())


@dataclass
class _Built:
    index: LexicalIndex
    position: int  # the log position the index reflects


class LexicalMirror:
    def __init__(self, changes: ChangeLog) -> None:
        self._changes = changes
        self._built: _Built | None = None
        self._lock = threading.Lock()  # builds, catch-ups and swaps
        self._builder: threading.Thread | None = None
        self._epoch = 0  # bumped by reset: a build started before it is thrown away
        self._retry_at = 0.0
        self.builds = 0  # whole builds done (for tests and benchmarks)

    def reset(self) -> None:
        with self._lock:
            self._built = None
            self._epoch += 1

    def current(self, session: Session) -> LexicalIndex | None:
        """The index caught up with what ``session`` sees, or None while it is being built (the database's
        own full-text search answers)."""
        head = self._changes.head(session)
        built = self._built
        if built is None or built.position < head.oldest:
            # New, or changes after its position were pruned from the log: it cannot catch up.
            return self._start_build(session)
        changed = self._changes.changed(session, built.position, head)
        if changed is None:
            return built.index
        if len(changed) > INLINE_CATCH_UP_CHANGES:
            with self._lock:
                if self._built is built:
                    self._built = None
            return self._start_build(session)
        with self._lock:
            # Another thread may have caught up past this head: applying an older window again is
            # harmless (each seq's row as it is now), but going back in position is not.
            if head.position >= built.position:
                if changed:  # PostgreSQL's log answers an empty list when nothing changed: no commit then
                    built.index.replace(changed, _rows_of(session, changed))
                built.position = head.position
        return built.index

    def search(
        self,
        session: Session,
        store_ids: list[str],
        query: str,
        k: int,
        filters: SearchFilters,
        kept: Callable[[list[int]], dict[int, str]],
    ) -> list[Hit] | None:
        """The index's best ``k`` matches that the database still holds and the filters keep
        (``kept(seqs)`` gives each such seq's document), or None when the database must rank instead:
        while the index is built; under a path, date or metadata filter, which usually keeps a small part
        of a store (the best few hundred of the whole store would rarely hold k of them); and when the
        filters cut the candidates below k while more matches exist."""
        if filters.path_prefix or filters.updated_from or filters.updated_to or filters.metadata:
            return None
        index = self.current(session)
        if index is None:
            return None
        # The index applies the store filter itself: without another filter, only a chunk deleted since
        # the catch-up can drop out, so k candidates are enough (reading 8k rows cost 11 ms at k=100).
        depth = candidate_depth(k) if filters.source_types else k
        ranked = index.search(store_ids, query, depth)
        if not ranked:
            return []
        documents = kept([seq for seq, _ in ranked])
        hits = [Hit(seq, documents[seq], score) for seq, score in ranked if seq in documents]
        if len(hits) < k and len(ranked) == depth:
            return None
        return hits[:k]

    def wait(self, session: Session) -> LexicalIndex:
        """The index built and caught up now, whatever it takes (benchmarks, ``index rebuild``)."""
        for _ in range(2):
            builder = self._builder
            if builder is not None:
                builder.join()
            index = self.current(session)  # starts a background build when there is none
            if index is not None:
                return index
        with self._lock:  # the background build failed: build here, and let the error out
            built = self._install(self._build(session), self._epoch)
        self._retry_at = 0.0
        return built.index

    def _start_build(self, session: Session) -> LexicalIndex | None:
        with self._lock:
            if self._builder is not None and self._builder.is_alive():
                return None
            if time.monotonic() < self._retry_at:
                return None
            rows = session.execute(text("SELECT count(*) FROM vector_entries")).scalar_one()
            bind = session.get_bind()
            if rows <= INLINE_BUILD_ROWS or not isinstance(bind, Engine):
                built = self._install(self._build(session), self._epoch)
                return built.index
            self._builder = threading.Thread(
                target=self._build_in_background, args=(bind, self._epoch), name="lightfast-lexical-build"
            )
            self._builder.daemon = True  # derived state: a process may exit in the middle of a build
            self._builder.start()
            return None

    def _build_in_background(self, engine: Engine, epoch: int) -> None:
        started = time.perf_counter()
        try:
            with Session(engine) as session:
                built = self._build(session)
            with self._lock:
                self._install(built, epoch)
            elapsed = time.perf_counter() - started
            log.info("lexical index built: %d chunks in %.1f s", len(built.index), elapsed)
        except Exception:
            # The database's full-text search keeps answering; try again later, not on every search.
            log.exception("building the lexical index failed; the database's full-text search answers")
            self._retry_at = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS

    def _build(self, session: Session) -> _Built:
        # The position is read before the rows: a change committed in between is in the rows and is
        # applied again by the next catch-up, which leaves the same index (see LexicalIndex.replace).
        head = self._changes.head(session)
        index = LexicalIndex()
        # Streamed (a server-side cursor on PostgreSQL), and closed even when the index refuses a row.
        rows = text(_ROWS + " ORDER BY seq").execution_options(yield_per=_READ_BATCH)
        with session.execute(rows) as result:
            for batch in result.partitions(_READ_BATCH):
                index.add([(int(r.seq), str(r.store_id), str(r.content)) for r in batch])
        index.commit()
        self.builds += 1
        return _Built(index, head.position)

    def _install(self, built: _Built, epoch: int) -> _Built:
        """Publish a build (the caller holds the lock) unless a reset came after it started."""
        if epoch == self._epoch:
            self._built = built
        return built


def candidate_depth(k: int) -> int:
    """How many of the best matches of the whole stores are ranked before filters cut them down."""
    return max(8 * k, 200)


def _rows_of(session: Session, seqs: list[int]) -> list[tuple[int, str, str]]:
    """The chunk rows of ``seqs`` that exist now (in slices: both databases bound a statement's
    parameters)."""
    rows: list[tuple[int, str, str]] = []
    for start in range(0, len(seqs), _READ_BATCH):
        part = seqs[start : start + _READ_BATCH]
        names = ", ".join(f":s{i}" for i in range(len(part)))
        params = {f"s{i}": seq for i, seq in enumerate(part)}
        result = session.execute(text(f"{_ROWS} WHERE seq IN ({names})"), params)
        rows.extend((int(r.seq), str(r.store_id), str(r.content)) for r in result)
    return rows
