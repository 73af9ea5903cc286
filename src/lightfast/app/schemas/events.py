"""Shapes sent outside a request's answer: the live feed's events (GET /v1/events, the console) and the
payloads of outgoing notifications. camelCase on the wire like every response."""

from __future__ import annotations

from typing import Any, Self

from lightfast.app.schemas.common import Out, Timestamp
from lightfast.db.models import Job


class LiveProgressOut(Out):
    processed: int
    total: int | None


class LiveJobOut(Out):
    """A job as the live feed sends it: the status it shows at the moment of the poll."""

    id: str
    name: str
    status: str
    source_id: str | None
    progress: LiveProgressOut
    eta_seconds: float | None
    error: str | None
    created_at: Timestamp | None
    started_at: Timestamp | None
    completed_at: Timestamp | None
    updated_at: Timestamp | None

    @classmethod
    def of(cls, job: Job, status: str, *, running: bool) -> Self:
        return cls(
            id=job.id,
            name=job.name,
            status=status,
            source_id=job.source_id,
            progress=LiveProgressOut(processed=job.progress_processed, total=job.progress_total),
            eta_seconds=job.eta_seconds if running else None,
            error=job.error_message,
            created_at=job.created_at,
            started_at=job.started_at,
            completed_at=job.completed_at,
            updated_at=job.updated_at,
        )


class LiveActivityOut(Out):
    id: str
    category: str
    action: str
    actor_type: str
    actor_id: str | None
    entity_type: str
    entity_id: str | None
    status: str
    summary: str
    source_id: str | None
    details: dict[str, Any]
    timestamp: Timestamp | None


class FailedJobOut(Out):
    id: str
    name: str
    source_id: str | None
    trigger: str
    triggered_by: str | None
    error: str
    duration_ms: int | None


class JobFailedEventOut(Out):
    """The body of a ``job.failed`` notification."""

    event: str = "job.failed"
    occurred_at: Timestamp
    workspace_id: str
    job: FailedJobOut

    @classmethod
    def of(cls, job: Job) -> Self:
        assert job.completed_at is not None  # a failed job has finished
        return cls(
            occurred_at=job.completed_at,
            workspace_id=job.workspace_id,
            job=FailedJobOut(
                id=job.id,
                name=job.name,
                source_id=job.source_id,
                trigger=job.trigger,
                triggered_by=job.triggered_by,
                error=(job.error_message or "")[:2000],
                duration_ms=job.duration_ms,
            ),
        )
