"""Connected sources as the CLI and API see them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lightfast.db.models import ConnectedSource
from lightfast.db.types import utcnow
from lightfast.errors import NotFound
from lightfast.jobs.schedule import make_schedule


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
