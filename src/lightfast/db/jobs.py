"""Job records: what background work was asked for, did, and is doing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lightfast.db.models import Job, Workspace, new_id
from lightfast.db.statuses import ACTIVE, JobStatus, JobTrigger
from lightfast.db.types import utcnow
from lightfast.errors import NotFound


def create_job(
    session: Session,
    *,
    workspace_id: str,
    organization_id: str | None,
    name: str,
    trigger: JobTrigger,
    store_id: str | None = None,
    source_id: str | None = None,
    triggered_by: str | None = None,
    input: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    retry_of: str | None = None,
    job_id: str | None = None,
) -> Job:
    job = Job(
        id=job_id or new_id("job"),
        idempotency_key=idempotency_key,
        retry_of=retry_of,
        workspace_id=workspace_id,
        organization_id=organization_id,
        store_id=store_id,
        source_id=source_id,
        name=name,
        status=JobStatus.QUEUED,
        trigger=trigger,
        triggered_by=triggered_by,
        input=input or {},
        progress_processed=0,
    )
    session.add(job)
    session.flush()
    return job


def find_job(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def get_job(session: Session, job_id: str) -> Job:
    job = find_job(session, job_id)
    if job is None:
        raise NotFound(f"job {job_id!r} does not exist")
    return job


def start_job(session: Session, job_id: str, store_id: str | None = None) -> None:
    """Queued -> running; a job already cancelled or finished keeps its status."""
    job = get_job(session, job_id)
    if store_id and job.store_id is None:
        job.store_id = store_id
    if job.status == JobStatus.QUEUED:
        job.status = JobStatus.RUNNING
    job.started_at = job.started_at or utcnow()


def job_status(session: Session, job_id: str) -> str | None:
    return session.scalar(select(Job.status).where(Job.id == job_id))


def set_progress(
    session: Session, job_id: str, processed: int, total: int | None, chunks_added: int = 0
) -> None:
    """Record progress; while a job runs, ``output`` holds its running chunk count for progress bars."""
    job = get_job(session, job_id)
    job.progress_processed = processed
    job.progress_total = total
    if chunks_added and job.status == JobStatus.RUNNING:
        chunks = int((job.output or {}).get("chunks_done", 0)) + chunks_added
        job.output = {"chunks_done": chunks}


def finish_job(
    session: Session,
    job_id: str,
    *,
    status: JobStatus,
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


def find_by_idempotency_key(session: Session, key: str) -> Job | None:
    return session.scalar(select(Job).where(Job.idempotency_key == key))


def queued_unclaimed(session: Session, source_id: str) -> list[Job]:
    """Syncs of a source that no worker has claimed yet, oldest first."""
    return list(
        session.scalars(
            select(Job)
            .where(Job.source_id == source_id, Job.status == JobStatus.QUEUED, Job.engine_run_id.is_(None))
            .order_by(Job.created_at)
        )
    )


def active_jobs(session: Session, source_id: str) -> list[Job]:
    """Queued or running jobs of a source, oldest first."""
    return list(
        session.scalars(
            select(Job).where(Job.source_id == source_id, Job.status.in_(ACTIVE)).order_by(Job.created_at)
        )
    )


def supersede(session: Session, job: Job, by_job_id: str) -> bool:
    """Cancel a queued job in favour of a newer one, unless a worker claimed it meanwhile."""
    result = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == JobStatus.QUEUED, Job.engine_run_id.is_(None))
        .values(
            status=JobStatus.CANCELLED,
            error_message=f"superseded by {by_job_id}",
            completed_at=utcnow(),
            output={"supersededBy": by_job_id},
            duration_ms=0,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def claimable_jobs(session: Session, limit: int) -> list[str]:
    return list(
        session.scalars(
            select(Job.id)
            .where(Job.status == JobStatus.QUEUED, Job.engine_run_id.is_(None))
            .order_by(Job.created_at)
            .limit(limit)
        )
    )


def claim(session: Session, job_id: str, workspace_limit: int) -> Job | None:
    """Give a queued job to this worker if its source runs nothing else and its workspace is under its
    limit. Locks the workspace row on PostgreSQL so concurrent workers decide one at a time."""
    job = session.get(Job, job_id)
    if job is None or job.status != JobStatus.QUEUED or job.engine_run_id is not None:
        return None
    # NO KEY UPDATE: claims in a workspace still queue behind each other, but inserts that merely
    # reference the workspace (a new job, a store) do not, so a concurrent enqueue cannot deadlock us.
    session.execute(
        select(Workspace.id).where(Workspace.id == job.workspace_id).with_for_update(key_share=True)
    )
    claimed = (
        select(func.count()).select_from(Job).where(Job.engine_run_id.is_not(None), Job.status.in_(ACTIVE))
    )
    if job.source_id and session.scalar(claimed.where(Job.source_id == job.source_id)):
        return None
    if (session.scalar(claimed.where(Job.workspace_id == job.workspace_id)) or 0) >= workspace_limit:
        return None
    # Conditional: the job may have been superseded or cancelled since it was read above.
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED, Job.engine_run_id.is_(None))
        .values(engine_run_id=job_id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    session.refresh(job)
    return job


def claimed_unfinished(session: Session) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.engine_run_id.is_not(None), Job.status.in_(ACTIVE))))


def release(session: Session, job_id: str) -> None:
    """Hand a claimed job whose workflow never started back to the queue."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(ACTIVE))
        .values(engine_run_id=None, status=JobStatus.QUEUED)
    )


def cancel(session: Session, job_id: str) -> bool:
    job = session.get(Job, job_id)
    if job is None or job.status not in ACTIVE:
        return False
    finish_job(session, job_id, status=JobStatus.CANCELLED, output=job.output, error_message="cancelled")
    return True


def query_jobs(
    session: Session,
    workspace_id: str,
    *,
    status: str | None = None,
    source_id: str | None = None,
    limit: int = 20,
    before: tuple[datetime, str] | None = None,
) -> list[Job]:
    query = select(Job).where(Job.workspace_id == workspace_id)
    if status:
        query = query.where(Job.status == status)
    if source_id:
        query = query.where(Job.source_id == source_id)
    if before:
        created, job_id = before
        query = query.where((Job.created_at < created) | ((Job.created_at == created) & (Job.id < job_id)))
    return list(session.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)))


def jobs_since(session: Session, workspace_id: str, since: datetime) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.workspace_id == workspace_id, Job.created_at >= since)))


def detach_from_source(session: Session, source_id: str) -> None:
    """Keep a source's jobs listed once the source row is gone: they point at nothing."""
    for job in session.scalars(select(Job).where(Job.source_id == source_id)):
        job.source_id = None
