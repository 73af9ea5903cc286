"""Connected sources and their links to stores."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lightfast.db import activities
from lightfast.db.models import ConnectedSource, Document, Store, StoreSource
from lightfast.db.types import iso

if TYPE_CHECKING:
    from lightfast.ingest.config import ConfigReport


def find_source(session: Session, source_id: str) -> ConnectedSource | None:
    return session.get(ConnectedSource, source_id)


def workspace_sources(session: Session, workspace_id: str) -> list[ConnectedSource]:
    """A workspace's connected sources, oldest first."""
    return list(
        session.scalars(
            select(ConnectedSource)
            .where(ConnectedSource.workspace_id == workspace_id)
            .order_by(ConnectedSource.created_at)
        )
    )


def active_sources(session: Session) -> list[ConnectedSource]:
    """Every workspace's active connected sources."""
    return list(session.scalars(select(ConnectedSource).where(ConnectedSource.is_active)))


def set_active(session: Session, source_ids: list[str], active: bool) -> None:
    """Suspend or resume sources. A source being disconnected stays inactive: a disconnect is final."""
    session.execute(
        update(ConnectedSource)
        .where(ConnectedSource.id.in_(source_ids), ConnectedSource.disconnected_at.is_(None))
        .values(is_active=active)
    )


def mark_disconnecting(session: Session, source: ConnectedSource, *, at: datetime) -> None:
    """The source stops at once and for good; its disconnect job deletes it."""
    source.is_active = False
    if source.disconnected_at is None:
        source.disconnected_at = at


def organization_sources(
    session: Session, organization_id: str, source_types: tuple[str, ...]
) -> list[ConnectedSource]:
    """An organization's connected sources of some types, in every workspace."""
    return list(
        session.scalars(
            select(ConnectedSource)
            .where(
                ConnectedSource.organization_id == organization_id,
                ConnectedSource.source_type.in_(source_types),
            )
            .order_by(ConnectedSource.created_at)
        )
    )


def delete_source(session: Session, source: ConnectedSource) -> None:
    """Delete the source row; its store links go with it (the caller removes its documents first)."""
    session.delete(source)


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


def linked_store_names(session: Session, source_id: str) -> list[str]:
    """The names of the stores holding this source's documents, sorted."""
    return sorted(
        session.scalars(
            select(Store.name)
            .join(StoreSource, StoreSource.store_id == Store.id)
            .where(StoreSource.source_id == source_id)
        )
    )


# A lightfast.yml is a few hundred bytes; the row keeps at most this much of one to show.
CONFIG_TEXT_KEPT = 65_536
CONFIG_PROBLEMS_KEPT = 100


def record_config(session: Session, source: ConnectedSource, report: ConfigReport, *, at: datetime) -> None:
    """The outcome of config detection: status, message, which file, and when; the file's text (bounded)
    and each problem with its line and column, for the console's config dialog."""
    changed = (source.config_status, source.config_message) != (report.status, report.message)
    source.config_status = report.status
    source.config_message = report.message
    if changed and source.workspace_id:  # the timeline shows what detection found, once per change
        activities.record_activity(
            session,
            workspace_id=source.workspace_id,
            actor_type="system",
            actor_id=None,
            category="source",
            action=f"config.{report.status}",
            entity_type="source",
            entity_id=source.id,
            details={"status": report.status, "message": report.message, "path": report.path},
        )
    text = report.text
    source.source_metadata = {
        **(source.source_metadata or {}),
        "configPath": report.path,
        "configDetectedAt": iso(at),
        "configText": text[:CONFIG_TEXT_KEPT] if text is not None else None,
        "configTextTruncated": text is not None and len(text) > CONFIG_TEXT_KEPT,
        "configProblems": [
            {"field": p.field, "message": p.message, "line": p.line, "column": p.column, "severity": severity}
            for severity, problems in (("error", report.problems), ("warning", report.warnings))
            for p in problems[:CONFIG_PROBLEMS_KEPT]
        ],
    }


def record_sync(
    session: Session,
    source_id: str,
    *,
    at: datetime,
    ingested: bool,
    commit: str | None = None,
    error: str | None = None,
) -> None:
    source = find_source(session, source_id)
    if source is None:
        return
    source.last_error = error
    if commit:  # the next incremental sync starts from here
        source.source_metadata = {**(source.source_metadata or {}), "lastCommit": commit}
    source.last_synced_at = at
    if ingested:
        source.last_ingested_at = at
    source.document_count = count_connection_documents(session, source_id)


def record_sync_error(session: Session, source_id: str, message: str) -> None:
    source = find_source(session, source_id)
    if source is not None:
        source.last_error = message


def connection_documents(session: Session, source_id: str, limit: int | None = None) -> list[tuple[str, str]]:
    """(document id, store id) pairs a connected source produced, in any store; at most ``limit``."""
    query = (
        select(Document.id, Document.store_id)
        .where(Document.connection_id == source_id)
        .order_by(Document.id)
    )
    rows = session.execute(query if limit is None else query.limit(limit))
    return [(row.id, row.store_id) for row in rows]


def count_connection_documents(session: Session, source_id: str) -> int:
    query = select(func.count()).select_from(Document).where(Document.connection_id == source_id)
    return int(session.scalar(query) or 0)


def sources_by_external_key(session: Session, source_type: str, external_key: str) -> list[ConnectedSource]:
    """Every workspace's connection of one outside source (a GitHub repository may be in several)."""
    return list(
        session.scalars(
            select(ConnectedSource).where(
                ConnectedSource.source_type == source_type, ConnectedSource.external_key == external_key
            )
        )
    )


def sources_by_metadata(session: Session, source_type: str, key: str, value: Any) -> list[ConnectedSource]:
    """Connections of a type whose metadata has ``key == value`` (e.g. every repository of an
    installation). Filtered in Python: the JSON column is portable text, and the set is small."""
    rows = session.scalars(select(ConnectedSource).where(ConnectedSource.source_type == source_type))
    return [row for row in rows if (row.source_metadata or {}).get(key) == value]
