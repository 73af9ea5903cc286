"""``lightfast index verify|rebuild``: the search index is derived state; check it against the database
and rebuild it from the database.

verify compares, store by store, the chunk rows with what the lexical and vector indexes hold (counts,
the ids of missing chunks, extra indexed rows, chunks of another dimension), and the structures that keep
the index in step (SQLite triggers, PostgreSQL indexes), and what this process's in-memory BM25 index
holds. rebuild recomputes the index from the chunk rows
and bumps each store's generation, then verifies again. Neither changes a chunk row.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lightfast.db.tenancy import bump_generation, list_stores
from lightfast.errors import NotFound
from lightfast.index import maintenance
from lightfast.index.base import SearchIndex
from lightfast.index.maintenance import IndexState, StoreTarget
from lightfast.index.postgres import PostgresIndex
from lightfast.index.sqlite import SqliteIndex

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


class IndexMaintenance:
    def __init__(self, engine: Engine, sessions: sessionmaker[Session], index: SearchIndex) -> None:
        self.engine = engine
        self.sessions = sessions
        self.index = index

    @property
    def backend(self) -> str:
        return "postgresql" if self.engine.dialect.name == "postgresql" else "sqlite"

    def verify(self, workspace_id: str, store: str | None = None) -> IndexState:
        with self.sessions() as session:
            targets = self._targets(session, workspace_id, store)
            if self.backend == "postgresql":
                return maintenance.postgres_state(session, targets, lambda t: self._ranked_rows(session, t))
            return maintenance.sqlite_state(
                session,
                targets,
                lambda t: self._vector_rows(session, t),
                lambda t: self._ranked_rows(session, t),
            )

    def rebuild(self, workspace_id: str, store: str | None = None, progress: Progress = _quiet) -> IndexState:
        """Rebuild the index of the workspace's stores (or one). On SQLite the lexical index is one table
        for every store, so it is rebuilt whole; on PostgreSQL ``REINDEX`` covers the table's rows too."""
        with self.sessions.begin() as session:
            targets = self._targets(session, workspace_id, store)
            if self.backend == "postgresql":
                maintenance.postgres_rebuild(session, progress)
            else:
                progress("rebuilding the FTS5 index from the chunk rows")
                maintenance.sqlite_rebuild_lexical(session)
                progress("emptying the vector change log: every process reloads its vector tables")
                maintenance.sqlite_forget_vector_positions(session)
            for target in targets:
                bump_generation(session, target.id)
        if isinstance(self.index, SqliteIndex):
            removed = self.index.discard_vector_files()
            progress(
                f"deleted {removed} persisted vector table file(s): every process loads from the database"
            )
        if isinstance(self.index, SqliteIndex | PostgresIndex):
            self.index.reset()
            progress("building the in-memory BM25 index from the chunk rows")
            with self.sessions() as session:
                self.index.wait_lexical(session)
        for number, target in enumerate(targets, 1):
            progress(f"loading vectors of store {target.name} ({number}/{len(targets)})")
            with self.sessions() as session:
                self._vector_rows(session, target)
        return self.verify(workspace_id, store)

    def _vector_rows(self, session: Session, target: StoreTarget) -> int:
        """Live rows of this process's vector table of the store, caught up with the database first."""
        if not isinstance(self.index, SqliteIndex):
            return 0
        return self.index.live_rows(session, target.id, target.dimension)

    def _ranked_rows(self, session: Session, target: StoreTarget) -> int | None:
        """Rows of the store this process's in-memory BM25 index holds, built and caught up first."""
        if not isinstance(self.index, SqliteIndex | PostgresIndex):
            return None
        return self.index.wait_lexical(session).count(target.id)

    @staticmethod
    def _targets(session: Session, workspace_id: str, store: str | None) -> list[StoreTarget]:
        stores = list_stores(session, workspace_id, [store] if store else None)
        if store and not stores:
            raise NotFound(f"no store named {store!r} in this workspace", field="store")
        return [StoreTarget(s.id, s.name, s.embedding_dim, s.index_generation) for s in stores]
