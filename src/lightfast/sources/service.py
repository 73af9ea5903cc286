"""Connected sources as the CLI and API see them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lightfast.db import documents as docs_repo
from lightfast.db.models import ConnectedSource, Document
from lightfast.db.tenancy import bump_generation
from lightfast.db.types import utcnow
from lightfast.errors import NotFound
from lightfast.ingest.config import find_config_file, load_config, validate_config
from lightfast.jobs.schedule import make_schedule
from lightfast.sources.registry import open_source


class SourceService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def list(self, workspace_id: str) -> list[ConnectedSource]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(ConnectedSource)
                    .where(ConnectedSource.workspace_id == workspace_id)
                    .order_by(ConnectedSource.created_at)
                )
            )

    def get(self, workspace_id: str, source_id: str) -> ConnectedSource:
        with self.sessions() as session:
            return self._source(session, workspace_id, source_id)

    def detect_config(self, workspace_id: str, source_id: str) -> dict[str, object]:
        """Read and validate the source's lightfast.yml now, and record the outcome on the source."""
        with self.sessions.begin() as session:
            source = self._source(session, workspace_id, source_id)
            opened = open_source(source)
            config_file = find_config_file(opened.root)
            problems = [str(p) for p in validate_config(opened.root)]
            config = None
            if not problems:
                loaded = load_config(opened.root)
                config = {
                    "version": loaded.version,
                    "store": loaded.store,
                    "include": list(loaded.include),
                    "exclude": list(loaded.exclude),
                }
            status = "error" if problems else "configured" if config_file else "unconfigured"
            source.config_status, source.config_message = status, "; ".join(problems) or None
            return {
                "sourceId": source.id,
                "status": status,
                "path": config_file.name if config_file else None,
                "config": config,
                "problems": problems,
            }

    def remove(self, workspace_id: str, source_id: str) -> int:
        """Disconnect a source: its documents, chunks and vectors go in the same transaction."""
        with self.sessions.begin() as session:
            source = self._source(session, workspace_id, source_id)
            documents = session.scalars(select(Document).where(Document.connection_id == source_id)).all()
            stores = {d.store_id for d in documents}
            deleted, _ = docs_repo.delete_documents(session, [d.id for d in documents])
            for store_id in stores:
                bump_generation(session, store_id)
            session.delete(source)
            return deleted

    def set_schedule(
        self,
        workspace_id: str,
        source_id: str,
        *,
        every_seconds: int | None = None,
        cron: str | None = None,
        off: bool = False,
    ) -> ConnectedSource:
        with self.sessions.begin() as session:
            source = self._source(session, workspace_id, source_id)
            metadata = dict(source.source_metadata)
            if off:
                metadata.pop("schedule", None)
            else:
                metadata["schedule"] = make_schedule(every_seconds=every_seconds, cron=cron, since=utcnow())
            source.source_metadata = metadata
            return source

    def _source(self, session: Session, workspace_id: str, source_id: str) -> ConnectedSource:
        source = session.get(ConnectedSource, source_id)
        if source is None or source.workspace_id != workspace_id:
            raise NotFound(f"source {source_id!r} does not exist")
        return source
