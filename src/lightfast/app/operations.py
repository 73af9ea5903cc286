"""What an operator's monitoring reads: the figures behind /metrics' gauges, read when scraped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from lightfast.db import operations as repo

if TYPE_CHECKING:
    from lightfast.app.container import Services


@dataclass(frozen=True)
class OperationalFigures:
    jobs_by_status: dict[str, int]
    documents_indexed: int
    chunks_indexed: int
    deliveries_by_status: dict[str, int]

    @property
    def queue_depth(self) -> int:
        """Jobs waiting for a worker."""
        return self.jobs_by_status.get("queued", 0)


class OperationsReader:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    @classmethod
    def of(cls, services: Services) -> OperationsReader:
        """The reader over a process's services (what /metrics builds; shells never touch sessions)."""
        return cls(services.sessions)

    def figures(self) -> OperationalFigures:
        with self.sessions() as session:
            return OperationalFigures(
                jobs_by_status=repo.jobs_by_status(session),
                documents_indexed=repo.documents_indexed(session),
                chunks_indexed=repo.chunks_indexed(session),
                deliveries_by_status=repo.deliveries_by_status(session),
            )
