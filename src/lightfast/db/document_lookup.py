"""Finding documents by what they are (seed 004's query patterns): by a source's own id, by a vendor's
identifier (Linear's ENG-123), and a document's children (a Linear issue's comments)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lightfast.db.models import ConnectedSource, Document, Store

MAX_FOUND = 100


def by_source_id(session: Session, workspace_id: str, source_type: str, source_id: str) -> list[Document]:
    """The workspace's documents of ``source_type`` whose source id is ``source_id``, or (Linear) whose
    identifier is: an issue's title starts with its identifier, and its metadata holds it."""
    in_workspace = (
        select(Document)
        .join(Store, Store.id == Document.store_id)
        .where(Store.workspace_id == workspace_id, Document.source_type == source_type)
    )
    # A vendor connection keys its documents "<connection id>:<entity id>" (sources.snapshots): the
    # caller knows the entity id, so each of the workspace's connections of the type is asked for.
    connections = session.scalars(
        select(ConnectedSource.id).where(
            ConnectedSource.workspace_id == workspace_id, ConnectedSource.source_type == source_type
        )
    )
    keys = [source_id, *(f"{connection}:{source_id}" for connection in connections)]
    found = list(session.scalars(in_workspace.where(Document.source_id.in_(keys)).limit(MAX_FOUND)))
    if found:
        return found
    prefix = source_id.replace("\\", "").replace("%", "").replace("_", "")
    if prefix != source_id or not prefix:
        return []
    candidates = session.scalars(in_workspace.where(Document.title.like(f"{prefix}:%")).limit(MAX_FOUND))
    return [d for d in candidates if (d.source_metadata or {}).get("identifier") == source_id]


def children(session: Session, workspace_id: str, document_id: str) -> list[Document] | None:
    """A document's children, oldest first; None when the workspace has no such document."""
    parent = session.scalar(
        select(Document.id)
        .join(Store, Store.id == Document.store_id)
        .where(Store.workspace_id == workspace_id, Document.id == document_id)
    )
    if parent is None:
        return None
    return list(
        session.scalars(
            select(Document)
            .where(Document.parent_doc_id == document_id)
            .order_by(Document.created_at, Document.id)
            .limit(MAX_FOUND)
        )
    )
