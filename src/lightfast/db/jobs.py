"""Job records, metrics and activities: what background work did, for people to watch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lightfast.db.models import Activity, Job, Metric
from lightfast.db.types import utcnow
from lightfast.errors import NotFound


def create_job(
    session: Session,
    *,
    workspace_id: str,
    organization_id: str | None,
    name: str,
    trigger: str,
    store_id: str | None = None,
    source_id: str | None = None,
    triggered_by: str | None = None,
    input: dict[str, Any] | None = None,
) -> Job:
    job = Job(
        workspace_id=workspace_id,
        organization_id=organization_id,
        store_id=store_id,
        source_id=source_id,
        name=name,
        status="queued",
        trigger=trigger,
        triggered_by=triggered_by,
        input=input or {},
        progress_processed=0,
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id!r} does not exist")
    return job


def start_job(session: Session, job_id: str) -> None:
    """Queued -> running; a job already cancelled or finished keeps its status."""
    job = get_job(session, job_id)
    if job.status == "queued":
        job.status = "running"
    job.started_at = job.started_at or utcnow()


def job_status(session: Session, job_id: str) -> str | None:
    return session.scalar(select(Job.status).where(Job.id == job_id))


def set_progress(session: Session, job_id: str, processed: int, total: int | None) -> None:
    job = get_job(session, job_id)
    job.progress_processed = processed
    job.progress_total = total


def finish_job(
    session: Session,
    job_id: str,
    *,
    status: str,
    output: dict[str, Any] | None = None,
    error_message: str | None = None,
) -> Job:
    job = get_job(session, job_id)
    now = utcnow()
    job.status = status
    job.output = output
    job.error_message = error_message
    job.completed_at = now
    started: datetime = job.started_at or job.created_at
    job.duration_ms = int((now - started).total_seconds() * 1000)
    return job


def record_metric(
    session: Session,
    *,
    workspace_id: str,
    type: str,
    value: float,
    unit: str | None = None,
    source_id: str | None = None,
    tags: dict[str, Any] | None = None,
) -> None:
    session.add(
        Metric(
            workspace_id=workspace_id, source_id=source_id, type=type, value=value, unit=unit, tags=tags or {}
        )
    )


def record_activity(
    session: Session,
    *,
    workspace_id: str,
    actor_type: str,
    actor_id: str | None,
    category: str,
    action: str,
    entity_type: str,
    entity_id: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        Activity(
            workspace_id=workspace_id,
            actor_type=actor_type,
            actor_id=actor_id,
            category=category,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            details=details or {},
        )
    )


def list_jobs(session: Session, workspace_id: str, limit: int = 20) -> list[Job]:
    return list(
        session.scalars(
            select(Job).where(Job.workspace_id == workspace_id).order_by(Job.created_at.desc()).limit(limit)
        )
    )
