"""Opening Linear and Notion connections as sources for the sync: their documents are rendered from the
entity snapshots in the database (lightfast.sources.snapshots); with an API token, a full sync first
lists everything upstream (the backfill and the reconciliation)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from lightfast.db import vendor_entities as entities_repo
from lightfast.db.models import ConnectedSource
from lightfast.sources.base import Source
from lightfast.sources.linear import documents as linear_docs
from lightfast.sources.snapshots import Backfill, Rendered, Snapshot, SnapshotSource


class DatabaseSnapshots:
    """One connection's snapshots, read through short sessions of their own."""

    def __init__(
        self, sessions: sessionmaker[Session], source_id: str, path_of: Callable[[str, str], str]
    ) -> None:
        self.sessions, self.source_id, self.path_of = sessions, source_id, path_of

    def live_paths(self) -> list[str]:
        with self.sessions() as session:
            return sorted(
                self.path_of(kind, entity_id)
                for kind, entity_id in entities_repo.live_entities(session, self.source_id)
            )

    def read(self, entity_ids: list[str]) -> dict[str, Snapshot]:
        with self.sessions() as session:
            rows = entities_repo.live_snapshots(session, self.source_id, entity_ids)
            return {
                row.entity_id: Snapshot(row.entity_id, row.kind, row.version, dict(row.payload or {}))
                for row in rows
            }


def render_linear(snapshot: Snapshot) -> Rendered | None:
    payload = snapshot.payload
    data = payload.get("data")
    if not isinstance(data, dict) or not isinstance(payload.get("type"), str):
        return None
    document = linear_docs.render(str(payload["type"]), data, payload.get("url"))
    if document is None:
        return None
    relationships = {"mentions": {"linear": document.mentions}} if document.mentions else None
    return Rendered(
        document.path, document.markdown, document.url, document.metadata, document.parent_id, relationships
    )


def linear_entity_of_path(path: str) -> str | None:
    found = linear_docs.kind_of_path(path)
    return found[1] if found else None


class VendorOpeners:
    """Registered with the ``SourceOpener`` by the composition root."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        linear_backfill: Callable[[ConnectedSource], Backfill | None] | None = None,
        notion_source: Callable[[ConnectedSource], Source] | None = None,
    ) -> None:
        self.sessions = sessions
        self.linear_backfill = linear_backfill
        self.notion_source = notion_source

    def linear(self, connection: ConnectedSource) -> Source:
        return SnapshotSource(
            source_type="linear",
            external_key=connection.external_key,
            name=connection.display_name,
            reader=DatabaseSnapshots(self.sessions, connection.id, linear_docs.path_for),
            render=render_linear,
            entity_of_path=linear_entity_of_path,
            backfill=self.linear_backfill(connection) if self.linear_backfill else None,
            id_prefix=connection.id,
        )
