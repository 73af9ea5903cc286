"""Documents, their chunk/vector entries and per-document failures."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lightfast.db.models import Document, DocumentFailure, Store, VectorEntry, new_id
from lightfast.db.types import utcnow
from lightfast.ingest.hashing import sha256_hex, vector_id


def _length(column: ColumnElement[Any]) -> int:
    length = getattr(column.type, "length", None)
    if not isinstance(length, int):  # pragma: no cover - the columns below are all String(n)
        raise TypeError(f"{column} has no length")
    return length


@dataclass(frozen=True)
class DocumentLimits:
    """The most characters the documents table holds in each bounded column a source decides."""

    source_id: int
    path: int
    url: int


LIMITS = DocumentLimits(
    source_id=_length(Document.__table__.c.source_id),
    path=_length(Document.__table__.c.path),
    url=_length(Document.__table__.c.url),
)
_FAILURE_PATH = _length(DocumentFailure.__table__.c.path)
_FAILURE_SOURCE_ID = _length(DocumentFailure.__table__.c.source_id)


def unstorable(source_id: str, path: str, url: str | None) -> str | None:
    """Why a document with these identifiers cannot be stored (a column would overflow), or None. Checked
    before anything is read or embedded: PostgreSQL refuses the row, SQLite would store it whole."""
    for what, value, limit in (
        ("path", path, LIMITS.path),
        ("id within its source", source_id, LIMITS.source_id),
        ("URL", url or "", LIMITS.url),
    ):
        if len(value) > limit:
            return f"its {what} is {len(value):,} characters long; at most {limit:,} can be stored"
    return None


def shorten(text: str, limit: int) -> str:
    """``text`` cut in the middle to at most ``limit`` characters, its start and end (a file name) kept."""
    if len(text) <= limit:
        return text
    keep = limit - 1
    return f"{text[: keep // 2]}\u2026{text[len(text) - (keep - keep // 2) :]}"


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A SAVEPOINT: an error inside rolls back only what was written inside, and the session's
    transaction goes on. The error propagates; the caller decides what it means.

    SQLite's Python driver opens its transaction only at the first INSERT/UPDATE/DELETE, and a SAVEPOINT
    issued before that would itself become the outermost transaction (its RELEASE would commit). So on
    SQLite the transaction is begun explicitly first, IMMEDIATE: it takes the write lock at once (waiting
    for it up to the busy timeout), as a write transaction must; a deferred one that read first could
    not upgrade once another writer committed."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        driver = connection.connection.dbapi_connection
        if driver is not None and not driver.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    with session.begin_nested():
        yield


@dataclass(frozen=True)
class DocumentState:
    content_hash: str
    config_hash: str | None
    chunk_count: int
    entry_count: int


@dataclass(frozen=True)
class DocumentWrite:
    id: str
    store_id: str
    connection_id: str | None
    source_type: str
    source_id: str
    source_metadata: dict[str, Any]
    path: str
    url: str | None
    slug: str
    title: str
    content_hash: str
    config_hash: str
    frontmatter: dict[str, Any] | None
    content: str
    parent_doc_id: str | None = None
    relationships: dict[str, Any] | None = None


@dataclass(frozen=True)
class EntryWrite:
    chunk_index: int
    content_hash: str
    content: str
    token_count: int
    embedding: np.ndarray


@dataclass(frozen=True)
class ChunkRow:
    seq: int
    id: str
    document_id: str
    chunk_index: int
    content: str
    title: str
    path: str
    url: str | None
    source_type: str
    store_id: str


def document_states(session: Session, document_ids: Sequence[str]) -> dict[str, DocumentState]:
    if not document_ids:
        return {}
    entries = (
        select(VectorEntry.document_id, func.count().label("n"))
        .where(VectorEntry.document_id.in_(document_ids))
        .group_by(VectorEntry.document_id)
        .subquery()
    )
    rows = session.execute(
        select(Document.id, Document.content_hash, Document.config_hash, Document.chunk_count, entries.c.n)
        .outerjoin(entries, entries.c.document_id == Document.id)
        .where(Document.id.in_(document_ids))
    )
    return {
        row.id: DocumentState(row.content_hash, row.config_hash, row.chunk_count, row.n or 0) for row in rows
    }


def reusable_embeddings(
    session: Session, document_ids: Sequence[str], config_hash: str
) -> dict[tuple[str, str], np.ndarray]:
    """Embeddings of chunks already indexed for these documents under the same config, by chunk hash."""
    if not document_ids:
        return {}
    rows = session.execute(
        select(VectorEntry.document_id, VectorEntry.content_hash, VectorEntry.embedding)
        .join(Document, Document.id == VectorEntry.document_id)
        .where(VectorEntry.document_id.in_(document_ids), Document.config_hash == config_hash)
    )
    return {(row.document_id, row.content_hash): row.embedding for row in rows}


def chunk_hashes(session: Session, document_id: str) -> list[str]:
    return list(
        session.scalars(
            select(VectorEntry.content_hash)
            .where(VectorEntry.document_id == document_id)
            .order_by(VectorEntry.chunk_index)
        )
    )


def write_document(session: Session, doc: DocumentWrite, entries: Sequence[EntryWrite]) -> None:
    """Replace the document and all its entries. Callers run this inside one transaction, so readers
    see either the old version or the new one, never a mix."""
    row = session.get(Document, doc.id)
    if row is None:
        row = Document(id=doc.id, created_at=utcnow())
        session.add(row)
    for name in DocumentWrite.__dataclass_fields__:
        setattr(row, name, getattr(doc, name))
    row.chunk_count = len(entries)
    row.updated_at = utcnow()
    session.flush()
    session.execute(delete(VectorEntry).where(VectorEntry.document_id == doc.id))
    now = utcnow()
    session.add_all(
        VectorEntry(
            id=vector_id(doc.id, entry.chunk_index),
            store_id=doc.store_id,
            document_id=doc.id,
            chunk_index=entry.chunk_index,
            content_hash=entry.content_hash,
            content=entry.content,
            token_count=entry.token_count,
            embedding=entry.embedding,
            upserted_at=now,
        )
        for entry in entries
    )
    session.flush()


def source_documents(session: Session, store_id: str, connection_id: str) -> dict[str, str]:
    """``{source_id: document_id}`` of everything a connected source put into a store."""
    rows = session.execute(
        select(Document.source_id, Document.id).where(
            Document.store_id == store_id, Document.connection_id == connection_id
        )
    )
    return {row.source_id: row.id for row in rows}


def stored_versions(session: Session, store_id: str, connection_id: str, config_hash: str) -> dict[str, str]:
    """``{source_id: blob sha}`` of a connected source's documents indexed under ``config_hash`` whose
    source recorded a blob sha (git and GitHub sources do)."""
    rows = session.execute(
        select(Document.source_id, Document.source_metadata).where(
            Document.store_id == store_id,
            Document.connection_id == connection_id,
            Document.config_hash == config_hash,
        )
    )
    versions: dict[str, str] = {}
    for source_id, metadata in rows:
        sha = (metadata or {}).get("blobSha")
        if sha:
            versions[source_id] = str(sha)
    return versions


def connection_document_rows(session: Session, connection_id: str) -> list[Document]:
    """Every document a connected source produced, in any store."""
    return list(session.scalars(select(Document).where(Document.connection_id == connection_id)))


def stores_of(session: Session, document_ids: Iterable[str]) -> set[str]:
    ids = list(document_ids)
    if not ids:
        return set()
    return set(session.scalars(select(Document.store_id).where(Document.id.in_(ids)).distinct()))


def documents_outside(session: Session, connection_id: str, store_id: str) -> list[str]:
    """Documents a connected source put into stores other than ``store_id`` (its config moved it)."""
    return list(
        session.scalars(
            select(Document.id).where(Document.connection_id == connection_id, Document.store_id != store_id)
        )
    )


def delete_documents(session: Session, document_ids: Iterable[str]) -> tuple[int, int]:
    """Delete documents with their entries (and so their vectors and lexical postings).

    Returns (documents deleted, chunks deleted)."""
    ids = list(document_ids)
    if not ids:
        return 0, 0
    chunks = (
        session.scalar(select(func.count()).select_from(VectorEntry).where(VectorEntry.document_id.in_(ids)))
        or 0
    )
    # Entries first: the lexical triggers on SQLite fire per deleted entry row.
    session.execute(delete(VectorEntry).where(VectorEntry.document_id.in_(ids)))
    result = session.execute(delete(Document).where(Document.id.in_(ids)))
    return int(result.rowcount or 0), int(chunks)  # type: ignore[attr-defined]


def record_failure(
    session: Session,
    *,
    store_id: str,
    job_id: str | None,
    source_type: str,
    source_id: str,
    path: str,
    reason: str,
    message: str,
) -> None:
    """Record (or, for the same job and path, replace) a document failure. Identifiers too long for
    their columns are shortened in the middle; the key is the whole path's hash."""
    values = {
        "store_id": store_id,
        "job_id": job_id,
        "source_type": source_type,
        "source_id": shorten(source_id, _FAILURE_SOURCE_ID),
        "path": shorten(path, _FAILURE_PATH),
        "path_key": sha256_hex(path.encode("utf-8", "surrogateescape")),
        "reason": reason,
        "message": message,
    }
    if job_id is None:
        session.add(DocumentFailure(**values))
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(DocumentFailure).values(id=new_id("fail"), created_at=utcnow(), **values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[DocumentFailure.job_id, DocumentFailure.path_key],
            set_={"reason": reason, "message": message, "source_id": values["source_id"]},
        )
    )


def failures_for_job(session: Session, job_id: str) -> list[DocumentFailure]:
    return list(
        session.scalars(
            select(DocumentFailure).where(DocumentFailure.job_id == job_id).order_by(DocumentFailure.path)
        )
    )


def chunk_rows(session: Session, seqs: Sequence[int]) -> dict[int, ChunkRow]:
    if not seqs:
        return {}
    rows = session.execute(
        select(
            VectorEntry.seq,
            VectorEntry.id,
            VectorEntry.document_id,
            VectorEntry.chunk_index,
            VectorEntry.content,
            VectorEntry.store_id,
            Document.title,
            Document.path,
            Document.url,
            Document.source_type,
        )
        .join(Document, Document.id == VectorEntry.document_id)
        .where(VectorEntry.seq.in_(list(seqs)))
    )
    return {
        row.seq: ChunkRow(
            seq=row.seq,
            id=row.id,
            document_id=row.document_id,
            chunk_index=row.chunk_index,
            content=row.content,
            title=row.title,
            path=row.path,
            url=row.url,
            source_type=row.source_type,
            store_id=row.store_id,
        )
        for row in rows
    }


def store_counts(session: Session, store_id: str) -> tuple[int, int]:
    documents = session.scalar(
        select(func.count()).select_from(Document).where(Document.store_id == store_id)
    )
    chunks = session.scalar(
        select(func.count()).select_from(VectorEntry).where(VectorEntry.store_id == store_id)
    )
    return int(documents or 0), int(chunks or 0)


def documents_in_workspace(
    session: Session, workspace_id: str, document_ids: Sequence[str]
) -> list[Document]:
    """The documents among ``document_ids`` that belong to a store of the workspace; others are absent."""
    if not document_ids:
        return []
    return list(
        session.scalars(
            select(Document)
            .join(Store, Store.id == Document.store_id)
            .where(Store.workspace_id == workspace_id, Document.id.in_(list(document_ids)))
        )
    )


def document_vectors(session: Session, document_id: str) -> np.ndarray:
    rows = list(session.scalars(select(VectorEntry.embedding).where(VectorEntry.document_id == document_id)))
    return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
