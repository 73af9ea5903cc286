"""The in-memory BM25 index (``index.lexical``) kept in step with a SQLite database by its change log.

The same log that keeps the vector tables current (``vector_changes``, written by triggers in the writing
transaction) says which chunks changed since the index last looked: a search first drops those seqs and
adds their rows as they are now, so a write never rebuilds the index and the next search finds it. The
index is derived state. It is built from every chunk row when a process first searches, when the process
fell behind the pruned log, and after ``lightfast index rebuild``:

- a small database (up to ``INLINE_BUILD_ROWS`` chunks, under a second) is built inside that search;
- a larger one is built by a background thread, and FTS5 answers until it is ready, so a cold start or
  a catch-up after a bulk import never makes a search wait seconds (1M chunks take about half a minute).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from lightfast.index.lexical import LexicalIndex

log = logging.getLogger(__name__)

INLINE_BUILD_ROWS = 20_000
# A catch-up over more changes than this is a rebuild in the background instead (see the module text).
INLINE_CATCH_UP_CHANGES = 20_000
RETRY_AFTER_FAILURE_SECONDS = 60.0
_READ_BATCH = 4096

_LOG_HEAD = (
    "SELECT (SELECT min(id) FROM vector_changes) AS first, "
    "(SELECT seq FROM sqlite_sequence WHERE name = 'vector_changes') AS last"
)
_CHANGED = "SELECT seq FROM vector_changes WHERE id > :after AND id <= :upto"
_ROWS = "SELECT seq, store_id, content FROM vector_entries"


@dataclass
class _Built:
    index: LexicalIndex
    position: int  # the last vector_changes id the index reflects


class LexicalMirror:
    def __init__(self) -> None:
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
        """The index caught up with what ``session`` sees, or None while it is being built (FTS5 answers)."""
        first, last = _head(session)
        built = self._built
        if built is not None and first > built.position + 1:
            built = None  # changes after its position were pruned from the log: it cannot catch up
        if built is not None and last - built.position > INLINE_CATCH_UP_CHANGES:
            built = None
        if built is None:
            return self._start_build(session)
        if built.position < last:
            with self._lock:
                if built.position < last:
                    _catch_up(session, built, last)
        return built.index

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
            # FTS5 keeps answering; try again later rather than on every search.
            log.exception("building the lexical index failed; FTS5 answers meanwhile")
            self._retry_at = time.monotonic() + RETRY_AFTER_FAILURE_SECONDS

    def _build(self, session: Session) -> _Built:
        # The log head is read before the rows: a change committed in between is in the rows and is applied
        # again by the next catch-up, which leaves the same index (see LexicalIndex.replace).
        _, last = _head(session)
        index = LexicalIndex()
        result = session.execute(text(_ROWS + " ORDER BY seq"))
        for batch in result.partitions(_READ_BATCH):
            index.add([(int(r.seq), str(r.store_id), str(r.content)) for r in batch])
        index.commit()
        self.builds += 1
        return _Built(index, last)

    def _install(self, built: _Built, epoch: int) -> _Built:
        """Publish a build (the caller holds the lock) unless a reset came after it started."""
        if epoch == self._epoch:
            self._built = built
        return built


def _head(session: Session) -> tuple[int, int]:
    """(the oldest id the log holds, the newest it ever handed out); AUTOINCREMENT never goes back."""
    head = session.execute(text(_LOG_HEAD)).one()
    last = int(head.last or 0)
    return (int(head.first) if head.first is not None else last + 1), last


def _catch_up(session: Session, built: _Built, upto: int) -> None:
    window = {"after": built.position, "upto": upto}
    changed = sorted(set(session.execute(text(_CHANGED), window).scalars()))
    if changed:
        rows = session.execute(text(f"{_ROWS} WHERE seq IN ({_CHANGED})"), window).all()
        built.index.replace(changed, [(int(r.seq), str(r.store_id), str(r.content)) for r in rows])
    built.position = upto
