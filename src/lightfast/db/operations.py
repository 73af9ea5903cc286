"""The process-wide figures /metrics reads at scrape time: jobs by status, documents and chunks indexed,
notification deliveries waiting. Counts over indexed columns; no per-workspace breakdown (a label per
workspace would grow without bound)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lightfast.db.models import Document, Job, VectorEntry
from lightfast.db.notification_models import NotificationDelivery


def jobs_by_status(session: Session) -> dict[str, int]:
    return {
        str(status): int(n)
        for status, n in session.execute(select(Job.status, func.count()).group_by(Job.status))
    }


def documents_indexed(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Document)) or 0)


def chunks_indexed(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(VectorEntry)) or 0)


def deliveries_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(NotificationDelivery.status, func.count()).group_by(NotificationDelivery.status)
    )
    return {str(status): int(n) for status, n in rows}
