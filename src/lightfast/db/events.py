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


def recorded_sources(session: Session, source_type: str, event_key: str) -> list[str]:
    """The connected sources a recorded delivery concerned (its metadata's ``sources``, else its
    ``sourceId``); empty when it concerned none or was not recorded."""
    metadata = session.scalar(
        select(IngestionEvent.event_metadata).where(
            IngestionEvent.source_type == source_type, IngestionEvent.event_key == event_key
        )
    )
    if not isinstance(metadata, dict):
        return []
    listed = metadata.get("sources")
    if isinstance(listed, list):
        return [s for s in listed if isinstance(s, str)]
    single = metadata.get("sourceId")
    return [single] if isinstance(single, str) else []


def recorded_type(session: Session, source_type: str, event_key: str) -> str | None:
    """The event type a recorded delivery had (``Issue.create``, ``push``); None when not recorded."""
    return session.scalar(
        select(IngestionEvent.event_type).where(
            IngestionEvent.source_type == source_type, IngestionEvent.event_key == event_key
        )
    )


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
