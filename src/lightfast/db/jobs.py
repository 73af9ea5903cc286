"""Job records: what background work was asked for, did, and is doing."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from lightfast.db import activities, notifications
from lightfast.db.models import IngestionEvent, Job, JobStepResult, Workspace, new_id
from lightfast.db.statuses import ACTIVE, SUCCEEDED, EventStatus, JobStatus, JobTrigger
from lightfast.db.types import utcnow
from lightfast.errors import NotFound
from lightfast.insights.eta import remaining_seconds


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
    activities.job_activity(
        session, job, "job.retried" if retry_of else "job.queued", {"retry_of": retry_of} if retry_of else {}
    )
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
        activities.job_activity(session, job, "job.started", {})
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
    elapsed = (utcnow() - (job.started_at or job.created_at)).total_seconds()
    job.eta_seconds = remaining_seconds(elapsed, processed, total)
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
    finished_by: str | None = None,
) -> Job:
    """``finished_by``: who ended it when that is not its own course (a user or key that cancelled)."""
    job = get_job(session, job_id)
    now = utcnow()
    newly_failed = status == JobStatus.FAILED and job.status != JobStatus.FAILED
    job.status = status
    job.output = output
    job.error_message = error_message
    job.completed_at = now
    started: datetime = job.started_at or job.created_at
    job.duration_ms = int((now - started).total_seconds() * 1000)
    job.eta_seconds = job.lease_expires_at = None  # the worker that ran it stays in worker_id
    session.flush()
    activities.job_activity(session, job, f"job.{status}", _impact(job), by=finished_by)
    settle_events(session)  # the deliveries that queued it now know how they ended
    if newly_failed:  # told in this transaction: the notification exists exactly when the failure does
        # The record names the job; the notification's body is rendered from it when it is sent.
        notifications.enqueue_event(session, job.workspace_id, "job.failed", {"job_id": job.id}, at=now)
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


def claim(
    session: Session,
    job_id: str,
    workspace_limit: int,
    *,
    worker_id: str | None = None,
    lease_until: datetime | None = None,
) -> Job | None:
    """Give a queued job to this worker (``worker_id``, holding it until ``lease_until`` unless it renews
    the lease) if its source runs nothing else and its workspace is under its limit. Locks the workspace
    row on PostgreSQL so concurrent workers decide one at a time."""
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
        .values(engine_run_id=job_id, updated_at=utcnow(), worker_id=worker_id, lease_expires_at=lease_until)
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
        .values(engine_run_id=None, status=JobStatus.QUEUED, worker_id=None, lease_expires_at=None)
    )


def cancel(session: Session, job_id: str, by: str | None = None) -> bool:
    job = session.get(Job, job_id)
    if job is None or job.status not in ACTIVE:
        return False
    finish_job(
        session,
        job_id,
        status=JobStatus.CANCELLED,
        output=job.output,
        error_message="cancelled",
        finished_by=by,
    )
    return True


def query_jobs(
    session: Session,
    workspace_id: str,
    *,
    status: str | None = None,
    source_id: str | None = None,
    limit: int = 20,
    before: tuple[datetime, str] | None = None,
    now: datetime | None = None,
) -> list[Job]:
    """A workspace's jobs, newest first. With ``now``, a status filter goes by the status a job shows
    (:func:`shown_status`): ``interrupted`` also finds running jobs whose lease has passed."""
    query = select(Job).where(Job.workspace_id == workspace_id)
    if status and now is not None and status in LEASED:
        lapsed = Job.lease_expires_at.is_not(None) & (Job.lease_expires_at < now)
        query = query.where(Job.status == status, ~lapsed)
    elif status == JobStatus.INTERRUPTED and now is not None:
        lapsed = Job.status.in_(LEASED) & Job.lease_expires_at.is_not(None) & (Job.lease_expires_at < now)
        query = query.where(or_(Job.status == status, lapsed))
    elif status:
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


def step_result(session: Session, job_id: str, step: str) -> dict[str, Any] | None:
    """What a step of the job wrote, if its writes committed (see ``JobStepResult``)."""
    return session.scalar(
        select(JobStepResult.result).where(JobStepResult.job_id == job_id, JobStepResult.step == step)
    )


def save_step_result(session: Session, job_id: str, step: str, result: dict[str, Any]) -> None:
    """Store a step's result in the transaction of its writes (a step commits once: no upsert needed)."""
    session.add(JobStepResult(job_id=job_id, step=step, result=result))


# -- leases: which worker runs a job, and whether it still lives --------------------------------------

#: The statuses a worker's lease covers: a claimed job (queued until its plan runs) and a running one.
LEASED: tuple[JobStatus, ...] = (JobStatus.QUEUED, JobStatus.RUNNING)


def shown_status(job: Job, now: datetime) -> str:
    """The status a job shows at ``now``: ``interrupted`` once the lease of the worker running it has
    passed, even before a live worker has noticed and written it."""
    lease = job.lease_expires_at
    if job.status in LEASED and lease is not None and lease < now:
        return JobStatus.INTERRUPTED
    return job.status


def renew_leases(session: Session, job_ids: Collection[str], *, worker_id: str, until: datetime) -> None:
    """The heartbeat of worker ``worker_id``: it runs these jobs' workflows, so it holds them until
    ``until``; an interrupted one it took over is running again."""
    if not job_ids:
        return
    session.execute(
        update(Job)
        .where(Job.id.in_(job_ids), Job.status.in_(ACTIVE))
        .values(
            worker_id=worker_id,
            lease_expires_at=until,
            status=case((Job.status == JobStatus.INTERRUPTED, JobStatus.RUNNING.value), else_=Job.status),
        )
        .execution_options(synchronize_session=False)
    )


def grant_lease(session: Session, job_id: str, *, worker_id: str, until: datetime) -> None:
    """Give an unfinished job's lease to the worker its workflow now runs on (one that took it over, or
    a job leased before leases existed); that worker renews it while it lives."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(ACTIVE))
        .values(worker_id=worker_id, lease_expires_at=until)
        .execution_options(synchronize_session=False)
    )


def interrupt(session: Session, job_id: str, now: datetime) -> bool:
    """Mark a claimed job ``interrupted`` if its lease has passed at ``now`` (its worker vanished);
    False when the worker renewed it meanwhile or the job finished."""
    result = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.engine_run_id == job_id,
            Job.status.in_(LEASED),
            Job.lease_expires_at < now,
        )
        .values(status=JobStatus.INTERRUPTED, eta_seconds=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def abandon(session: Session, job_id: str, message: str) -> Job | None:
    """Fail an unfinished job whose workflow will never run again (the workflow engine gave up on it);
    None when the job finished meanwhile."""
    job = session.get(Job, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.status not in ACTIVE:
        return None
    return finish_job(session, job_id, status=JobStatus.FAILED, output=job.output, error_message=message)


# -- ingestion events end as their jobs did --------------------------------------------------------------


def _job_outcome(session: Session, job_id: str) -> EventStatus | None:
    """What became of a job an event queued, following the jobs that superseded it (a newer push's
    sync did its work); None while that work is unfinished."""
    job = session.get(Job, job_id)
    kind = job.input.get("kind", "sync") if job is not None else None
    seen: set[str] = set()
    while job is not None and job.id not in seen and job.status == JobStatus.CANCELLED:
        seen.add(job.id)
        successor = (job.output or {}).get("supersededBy")
        if not isinstance(successor, str):
            break
        job = session.get(Job, successor)
    if job is None:
        return EventStatus.SKIPPED  # deleted with its workspace
    if job.status in ACTIVE:
        return None
    if job.input.get("kind", "sync") != kind:
        return EventStatus.SKIPPED  # a sync superseded by its source's disconnect
    if job.status in SUCCEEDED:
        return EventStatus.PROCESSED
    return EventStatus.FAILED if job.status == JobStatus.FAILED else EventStatus.SKIPPED


def event_status(session: Session, job_ids: Collection[str]) -> EventStatus:
    """The status of an event that queued these jobs: ``pending`` until all have finished, then
    ``failed`` if one failed, ``processed`` if one did its work, else ``skipped`` (all cancelled).
    An event that queued nothing was processed when it was handled."""
    outcomes = [_job_outcome(session, job_id) for job_id in job_ids]
    if not outcomes:
        return EventStatus.PROCESSED
    if None in outcomes:
        return EventStatus.PENDING
    for status in (EventStatus.FAILED, EventStatus.PROCESSED):
        if status in outcomes:
            return status
    return EventStatus.SKIPPED


def settle_events(session: Session) -> int:
    """Give every pending ingestion event whose jobs have all finished its final status; returns how
    many were settled. Called when a job finishes, and by the workers' sweep for any a race left."""
    settled = 0
    pending = select(IngestionEvent).where(IngestionEvent.status == EventStatus.PENDING)
    for event in session.scalars(pending.order_by(IngestionEvent.id)):
        jobs = event.event_metadata.get("jobs") or []
        status = event_status(session, [j for j in jobs if isinstance(j, str)])
        if status != EventStatus.PENDING:
            event.status, event.processed_at = status, utcnow()
            settled += 1
    return settled


def sources_with_running_jobs(session: Session, source_ids: Collection[str]) -> set[str]:
    """Which of these sources have a job under way (running, or interrupted until a worker takes it
    over): the sources whose config status reads ``ingesting`` (seed 002)."""
    if not source_ids:
        return set()
    rows = session.scalars(
        select(Job.source_id)
        .where(
            Job.source_id.in_(list(source_ids)), Job.status.in_([JobStatus.RUNNING, JobStatus.INTERRUPTED])
        )
        .distinct()
    )
    return {source_id for source_id in rows if source_id is not None}


def _impact(job: Job) -> dict[str, Any]:
    """What a finished job changed, for the activity log: its counts, duration and error."""
    counts = {
        key: value
        for key, value in (job.output or {}).items()
        if isinstance(value, int) and not isinstance(value, bool)
    }
    impact: dict[str, Any] = {"duration_ms": job.duration_ms, "impact": counts}
    if job.error_message:
        impact["error"] = job.error_message[:500]
    return impact
