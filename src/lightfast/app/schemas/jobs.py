"""Jobs: a job row as the API and the CLI show it, its step trace and failures, pages and statistics,
and what the CLI prints for a job it queued or followed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import ConfigDict, Field

from lightfast.app.jobs import JobDetail, StepStatus, StepView
from lightfast.app.schemas.common import Out, Timestamp
from lightfast.db.models import Job
from lightfast.db.statuses import JobStatus, JobTrigger


class ProgressOut(Out):
    processed: int
    total: int | None


class JobOut(Out):
    id: str
    name: str
    status: JobStatus
    trigger: JobTrigger
    source_id: str | None
    store_id: str | None
    retry_of: str | None
    progress: ProgressOut
    created_at: Timestamp | None
    started_at: Timestamp | None
    completed_at: Timestamp | None
    duration_ms: int | None
    eta_seconds: float | None = Field(
        description="Seconds the rest of a running job should take at its rate so far, as of its last "
        "progress update; null when it is not running or no rate is known yet."
    )
    worker_id: str | None = Field(description="The worker running the job, or the one that last ran it.")
    error: str | None
    output: dict[str, Any] | None

    @classmethod
    def from_row(cls, job: Job) -> Self:
        return cls(
            id=job.id,
            name=job.name,
            status=job.status,
            trigger=job.trigger,
            source_id=job.source_id,
            store_id=job.store_id,
            retry_of=job.retry_of,
            progress=ProgressOut(processed=job.progress_processed, total=job.progress_total),
            created_at=job.created_at,
            started_at=job.started_at,
            completed_at=job.completed_at,
            duration_ms=job.duration_ms,
            eta_seconds=job.eta_seconds if job.status == JobStatus.RUNNING else None,
            worker_id=job.worker_id,
            error=job.error_message,
            output=job.output,
        )


def _local_time(epoch_ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch_ms / 1000).astimezone() if epoch_ms is not None else None


class JobStepOut(Out):
    id: int
    name: str
    status: StepStatus
    started_at: Timestamp | None
    completed_at: Timestamp | None
    duration_ms: int | None
    error: str | None

    @classmethod
    def from_step(cls, step: StepView) -> Self:
        return cls(
            id=step.id,
            name=step.name,
            status=step.status,
            started_at=_local_time(step.started_at_ms),
            completed_at=_local_time(step.completed_at_ms),
            duration_ms=step.duration_ms,
            error=step.error,
        )


class JobFailureOut(Out):
    path: str
    reason: str
    message: str


class JobDetailOut(JobOut):
    steps: list[JobStepOut]
    failures: list[JobFailureOut]

    @classmethod
    def from_detail(cls, detail: JobDetail) -> Self:
        return cls(
            **dict(JobOut.from_row(detail.job)),
            steps=[JobStepOut.from_step(s) for s in detail.steps],
            failures=[JobFailureOut.model_validate(f) for f in detail.failures],
        )


class JobPageOut(Out):
    items: list[JobOut]
    next_cursor: str | None
    has_more: bool

    @classmethod
    def from_page(cls, jobs: list[Job], next_cursor: str | None) -> Self:
        return cls(
            items=[JobOut.from_row(j) for j in jobs],
            next_cursor=next_cursor,
            has_more=next_cursor is not None,
        )


class JobListOut(Out):
    items: list[JobOut]


class JobStatisticsOut(Out):
    hours: int
    total: int
    by_status: dict[str, int]
    average_duration_ms: float | None
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    success_rate: float | None


# -- what the CLI prints for a job -------------------------------------------------------------------


class EnqueuedOut(Out):
    """A job queued with ``--detach``: its id, to follow with ``lightfast jobs show``."""

    job_id: str


class JobRunOut(Out):
    """A job the CLI followed to its end: its id and status, then its output's keys (the sync summary:
    ``documents_added``, ``chunks_embedded``, ...) as they are."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    status: JobStatus

    @classmethod
    def from_job(cls, job: Job, **fields: Any) -> Self:
        return cls.model_validate({"job_id": job.id, "status": job.status, **fields, **(job.output or {})})


class IngestRunOut(JobRunOut):
    """``lightfast ingest --json``: a followed job, with the workspace and store it indexed into."""

    workspace: str
    store: str | None
