"""Connected sources and their links to stores."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lightfast.db.models import ConnectedSource, Document, StoreSource


def ensure_source(
    session: Session,
    *,
    organization_id: str,
    workspace_id: str,
    source_type: str,
    external_key: str,
    display_name: str,
    metadata: dict[str, Any],
) -> ConnectedSource:
    source = session.scalar(
        select(ConnectedSource).where(
            ConnectedSource.workspace_id == workspace_id,
            ConnectedSource.source_type == source_type,
            ConnectedSource.external_key == external_key,
        )
    )
    if source is None:
        source = ConnectedSource(
            organization_id=organization_id,
            workspace_id=workspace_id,
            source_type=source_type,
            external_key=external_key,
            display_name=display_name,
            source_metadata=metadata,
        )
        session.add(source)
        session.flush()
    elif source.source_metadata != metadata:
        source.source_metadata = metadata
    return source


def link_store(session: Session, store_id: str, source_id: str) -> None:
    exists = session.scalar(
        select(StoreSource.id).where(StoreSource.store_id == store_id, StoreSource.source_id == source_id)
    )
    if exists is None:
        session.add(StoreSource(store_id=store_id, source_id=source_id))
        session.flush()


def record_sync(
    session: Session,
    source_id: str,
    *,
    at: datetime,
    ingested: bool,
) -> None:
    source = session.get(ConnectedSource, source_id)
    if source is None:
        return
    source.last_synced_at = at
    if ingested:
        source.last_ingested_at = at
    source.document_count = (
        session.scalar(select(func.count()).select_from(Document).where(Document.connection_id == source_id))
        or 0
    )
