"""Ingestion events: every delivery a source sent us (a GitHub webhook), recorded once by its key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lightfast.db.models import IngestionEvent


def event_recorded(session: Session, source_type: str, event_key: str) -> bool:
    """Whether the delivery ``event_key`` of a source type was recorded already."""
    found = session.scalar(
        select(IngestionEvent.id).where(
            IngestionEvent.source_type == source_type, IngestionEvent.event_key == event_key
        )
    )
    return bool(found)


def record_event(
    session: Session,
    *,
    source_type: str,
    event_key: str,
    event_type: str,
    metadata: dict[str, Any],
    origin: str,
    status: str,
    store_id: str | None = None,
) -> None:
    """Add an event; a second one with the same key fails on the unique constraint (IntegrityError)
    when the transaction commits."""
    session.add(
        IngestionEvent(
            store_id=store_id,
            source_type=source_type,
            event_key=event_key,
            event_type=event_type,
            event_metadata=metadata,
            origin=origin,
            status=status,
        )
    )
