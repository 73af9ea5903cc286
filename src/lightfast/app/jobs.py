"""Jobs as the CLI and API see them: enqueue (idempotent, superseding), cancel, retry, inspect, wait."""

from __future__ import annotations

import base64
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from lightfast.app.clock import Clock, SystemClock
from lightfast.app.disconnect import DISCONNECT
from lightfast.db import documents as docs_repo
from lightfast.db import jobs as jobs_repo
from lightfast.db import sources as sources_repo
from lightfast.db.models import DocumentFailure, Job, new_id
from lightfast.db.statuses import ACTIVE, RETRYABLE, SUCCEEDED, TERMINAL, JobStatus, JobTrigger
from lightfast.db.types import utcnow
from lightfast.errors import Conflict, InvalidInput, NotFound
from lightfast.ingest.changes import merge_changes
from lightfast.insights.percentiles import nearest_rank_percentile
from lightfast.settings import Settings

StepStatus = Literal["completed", "failed", "running"]  # a workflow step's, not a job's
FINISH_STEPS = (
    "lightfast.finish",
    "lightfast.fail",
    "lightfast.disconnect.finish",
    "lightfast.disconnect.fail",
    "lightfast.embedding_switch.finish",
    "lightfast.embedding_switch.fail",
)


@dataclass(frozen=True)
class Enqueued:
    job_id: str
    created: bool  # False when an idempotency key or a queued full sync already covered the request


@dataclass(frozen=True)
class StepView:
    id: int
    name: str
    status: StepStatus
    started_at_ms: int | None
    completed_at_ms: int | None
    duration_ms: int | None
    error: str | None


@dataclass(frozen=True)
class JobDetail:
    job: Job
    steps: list[StepView]
    failures: list[DocumentFailure]


@dataclass(frozen=True)
class JobStatistics:
    """The jobs created in the last ``hours`` hours: counts by status, durations of the succeeded ones
    (nearest-rank percentiles) and the share of finished jobs that succeeded."""

    hours: int
    total: int
    by_status: dict[str, int]
    average_duration_ms: float | None
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    success_rate: float | None


def encode_cursor(job: Job) -> str:
    return base64.urlsafe_b64encode(f"{job.created_at.isoformat()}|{job.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, job_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            raise ValueError("cursor time has no time zone")
        return moment, job_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor is not valid", field="cursor") from exc


def _sync_input(
    mode: str,
    changes: dict[str, str] | None,
    revision: str | None,
    base: str | None,
    store_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    job_input: dict[str, Any] = {"mode": mode}
    if mode == "incremental" and changes is not None:
        job_input["changes"] = changes
        if base:
            job_input["base"] = base
    if revision:
        job_input["revision"] = revision
    if store_settings:  # what the asking process wants of the store (lightfast.app.sync.store_request)
        job_input["storeSettings"] = dict(store_settings)
    return job_input


class JobService:
    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock or SystemClock()  # tells whether a running job's lease has passed
        self._client: Any = None
        self._client_lock = threading.Lock()

    # -- enqueue ---------------------------------------------------------------------------------

    def enqueue_sync(
        self,
        workspace_id: str,
        source_id: str,
        *,
        mode: str = "full",
        changes: dict[str, str] | None = None,
        trigger: JobTrigger = JobTrigger.MANUAL,
        triggered_by: str | None = None,
        idempotency_key: str | None = None,
        name: str | None = None,
        revision: str | None = None,
        base: str | None = None,
        store_settings: dict[str, Any] | None = None,
    ) -> Enqueued:
        """Queue a sync of a source. Queued (unclaimed) syncs of the same source are superseded: an
        incremental one merges their changes (newest wins per path); a queued full sync, or an incremental
        one that will diff from the last indexed commit, already covers an incremental request. An
        idempotency key makes duplicates, even concurrent ones, one job.

        ``changes`` is a pushed change set from commit ``base`` to ``revision``; an incremental sync without
        one (or whose ``base`` is not the last indexed commit) indexes the difference between the source's
        last indexed commit and ``revision`` (default: its head when the job runs). ``store_settings`` is
        what the asking process wants of the store (``lightfast.app.sync.store_request``); it travels with
        the job to whichever worker runs it, and a job that supersedes another keeps the other's."""
        if mode not in ("full", "incremental"):
            raise InvalidInput("mode must be full or incremental", field="mode")
        if idempotency_key:
            existing = self._by_key(idempotency_key)
            if existing:
                return Enqueued(existing, False)
        job_id = new_id("job")
        try:
            with self.sessions.begin() as session:
                source = sources_repo.find_source(session, source_id)
                if source is None or source.workspace_id != workspace_id:
                    raise NotFound(f"source {source_id!r} does not exist")
                if not source.is_active:
                    raise Conflict(f"source {source.display_name} is inactive; it cannot be synced")
                merged = dict(changes or {})
                merged_any = False
                for queued in jobs_repo.queued_unclaimed(session, source_id):
                    if queued.input.get("kind", "sync") != "sync":
                        continue
                    covers = queued.input.get("mode") == "full" or "changes" not in queued.input
                    if covers and mode == "incremental":
                        return Enqueued(queued.id, False)
                    if not jobs_repo.supersede(session, queued, job_id):
                        continue
                    store_settings = store_settings or queued.input.get("storeSettings")
                    if changes is not None:
                        merged = merge_changes(queued.input.get("changes", {}), merged)
                        if not merged_any:  # the merged set starts where the oldest queued push started
                            base, merged_any = queued.input.get("base"), True
                job = jobs_repo.create_job(
                    session,
                    workspace_id=workspace_id,
                    organization_id=source.organization_id,
                    source_id=source_id,
                    name=name or f"Sync {source.display_name}",
                    trigger=trigger,
                    triggered_by=triggered_by,
                    idempotency_key=idempotency_key,
                    input=_sync_input(
                        mode, merged if changes is not None else None, revision, base, store_settings
                    ),
                    job_id=job_id,
                )
                return Enqueued(job.id, True)
        except IntegrityError:
            existing = self._by_key(idempotency_key) if idempotency_key else None
            if existing is None:
                raise
            return Enqueued(existing, False)

    def enqueue_disconnect(
        self,
        workspace_id: str,
        source_id: str,
        *,
        trigger: JobTrigger = JobTrigger.MANUAL,
        triggered_by: str | None = None,
        reason: str | None = None,
    ) -> Enqueued:
        """Deactivate a source at once (no new syncs start) and queue a job that removes its documents,
        chunks and vectors, then the source. Its queued syncs are superseded and running ones cancelled;
        asking again while the disconnect is pending returns the same job."""
        job_id = new_id("job")
        with self.sessions.begin() as session:
            source = sources_repo.find_source(session, source_id)
            if source is None or source.workspace_id != workspace_id:
                raise NotFound(f"source {source_id!r} does not exist")
            source.is_active = False
            pending = jobs_repo.active_jobs(session, source_id)
            for job in pending:
                if job.input.get("kind") == DISCONNECT:
                    return Enqueued(job.id, False)
            running = [job.id for job in pending if not jobs_repo.supersede(session, job, job_id)]
            jobs_repo.create_job(
                session,
                workspace_id=workspace_id,
                organization_id=source.organization_id,
                source_id=source_id,
                name=f"Disconnect {source.display_name}",
                trigger=trigger,
                triggered_by=triggered_by,
                input={
                    "kind": DISCONNECT,
                    "sourceId": source.id,
                    "sourceType": source.source_type,
                    "source": source.display_name,
                    "reason": reason,
                },
                job_id=job_id,
            )
        for running_id in running:
            with contextlib.suppress(Conflict):  # it may have finished meanwhile
                self.cancel(workspace_id, running_id)
        return Enqueued(job_id, True)

    def _by_key(self, key: str) -> str | None:
        with self.sessions() as session:
            job = jobs_repo.find_by_idempotency_key(session, key)
            return job.id if job else None

    # -- control ---------------------------------------------------------------------------------

    def cancel(self, workspace_id: str, job_id: str, cancelled_by: str | None = None) -> Job:
        """``cancelled_by``: who asked (``user:ID``, a key id, ``cli``), for the activity log."""
        with self.sessions.begin() as session:
            job = self._job(session, workspace_id, job_id)
            if not jobs_repo.cancel(session, job_id, by=cancelled_by):
                raise Conflict(f"job {job_id} is {job.status}; only queued or running jobs can be cancelled")
            claimed = job.engine_run_id == job.id  # a workflow exists for it
        if claimed:
            # The row says cancelled first, so the running step stops between model batches; then the
            # engine refuses to start the next step.
            self.client().cancel_workflow(job_id)
        return self.get_job(workspace_id, job_id)

    def retry(self, workspace_id: str, job_id: str, triggered_by: str | None = None) -> Job:
        """A new job for a failed or cancelled one, resuming after its last finished step."""
        with self.sessions() as session:
            old = self._job(session, workspace_id, job_id)
            if old.status not in RETRYABLE:
                raise Conflict(f"job {job_id} is {old.status}; only failed or cancelled jobs can be retried")
            claimed = old.engine_run_id == old.id
            old_input, old_name, source_id = dict(old.input), old.name, old.source_id
            organization_id, store_id = old.organization_id, old.store_id
            old_progress = (old.progress_processed, old.progress_total)
        resume_step = self.resume_step(job_id) if claimed else 1
        new_input = {k: v for k, v in old_input.items() if k != "resume"}
        if resume_step > 1:
            new_input["resume"] = {"from": job_id, "step": resume_step}
        with self.sessions.begin() as session:
            job = jobs_repo.create_job(
                session,
                workspace_id=workspace_id,
                organization_id=organization_id,
                store_id=store_id,
                source_id=source_id,
                name=old_name,
                trigger=JobTrigger.MANUAL,
                triggered_by=triggered_by,
                input=new_input,
                retry_of=job_id,
            )
            if resume_step > 1:
                # The fork skips the steps already done, the plan among them: carry their progress over,
                # or the resumed job would show "0 of ?" until (unless) a batch runs.
                job.progress_processed, job.progress_total = old_progress
            return job

    def resume_step(self, job_id: str) -> int:
        """The first step of a run that did not finish its work (DBOS function ids start at 1)."""
        done: set[int] = set()
        for step in self.client().list_workflow_steps(job_id, load_output=True):
            output = step.get("output")
            stopped = isinstance(output, dict) and output.get("cancelled")
            if (
                step["error"] is None
                and step["completed_at_epoch_ms"]
                and not stopped
                and step["function_name"] not in FINISH_STEPS
            ):
                done.add(step["function_id"])
        step = 1
        while step in done:
            step += 1
        return step

    # -- inspect ---------------------------------------------------------------------------------

    def get_job(self, workspace_id: str, job_id: str) -> Job:
        with self.sessions() as session:
            return self._shown(self._job(session, workspace_id, job_id))

    def detail(self, workspace_id: str, job_id: str) -> JobDetail:
        with self.sessions() as session:
            job = self._shown(self._job(session, workspace_id, job_id))
            failures = docs_repo.failures_for_job(session, job_id)
        # Only jobs run by the workflow engine have a step trace (inline runs, e.g. tests, have none).
        steps = self.steps(job_id) if job.engine_run_id == job.id else []
        return JobDetail(job, steps, failures)

    def steps(self, job_id: str) -> list[StepView]:
        views = []
        # load_output=True: without it DBOS leaves ``error`` empty too, and failed steps look completed.
        for step in self.client().list_workflow_steps(job_id, load_output=True):
            started, completed = step["started_at_epoch_ms"], step["completed_at_epoch_ms"]
            error = step["error"]
            status: StepStatus = "failed" if error is not None else "completed" if completed else "running"
            views.append(
                StepView(
                    id=step["function_id"],
                    name=step["function_name"],
                    status=status,
                    started_at_ms=started,
                    completed_at_ms=completed,
                    duration_ms=(completed - started)
                    if started is not None and completed is not None
                    else None,
                    error=str(error) if error is not None else None,
                )
            )
        return views

    def list_jobs(
        self,
        workspace_id: str,
        *,
        status: str | None = None,
        source_id: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[Job], str | None]:
        if status and status not in (*ACTIVE, *TERMINAL):
            raise InvalidInput(f"unknown status {status!r}", field="status")
        if not 1 <= limit <= 100:
            raise InvalidInput("limit must be between 1 and 100", field="limit")
        before = decode_cursor(cursor) if cursor else None
        with self.sessions() as session:
            now = self.clock.now()
            jobs = jobs_repo.query_jobs(
                session,
                workspace_id,
                status=status,
                source_id=source_id,
                limit=limit + 1,
                before=before,
                now=now,
            )
            jobs = [self._shown(job, now) for job in jobs]
        has_more = len(jobs) > limit
        jobs = jobs[:limit]
        return jobs, encode_cursor(jobs[-1]) if has_more and jobs else None

    def statistics(self, workspace_id: str, hours: int = 24) -> JobStatistics:
        """Counts by status, average and percentile durations and success rate of the jobs created in
        the last ``hours`` hours (nearest-rank percentiles over finished jobs)."""
        if not 1 <= hours <= 24 * 90:
            raise InvalidInput("hours must be between 1 and 2160", field="hours")
        since = utcnow() - timedelta(hours=hours)
        with self.sessions() as session:
            jobs = jobs_repo.jobs_since(session, workspace_id, since)
        by_status: dict[str, int] = {}
        for job in jobs:
            by_status[job.status] = by_status.get(job.status, 0) + 1
        succeeded = sum(by_status.get(status, 0) for status in SUCCEEDED)
        finished = succeeded + by_status.get(JobStatus.FAILED, 0)
        durations = [
            float(j.duration_ms) for j in jobs if j.duration_ms is not None and j.status in SUCCEEDED
        ]
        return JobStatistics(
            hours=hours,
            total=len(jobs),
            by_status=by_status,
            average_duration_ms=round(sum(durations) / len(durations), 1) if durations else None,
            p50_duration_ms=nearest_rank_percentile(durations, 50) if durations else None,
            p95_duration_ms=nearest_rank_percentile(durations, 95) if durations else None,
            success_rate=round(succeeded / finished, 4) if finished else None,
        )

    def wait(
        self,
        workspace_id: str,
        job_id: str,
        *,
        timeout: float | None = None,
        poll: float = 0.2,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get_job(workspace_id, job_id)
            if on_update:
                on_update(job)
            if job.status in TERMINAL:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job.status} after {timeout} s")
            time.sleep(poll)

    def client(self) -> Any:
        """A DBOS client on the system database: reads step traces and cancels without being a worker."""
        with self._client_lock:
            if self._client is None:
                from dbos import DBOSClient

                self._client = DBOSClient(system_database_url=self.settings.resolved_jobs_database_url)
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.destroy()
            self._client = None

    def _shown(self, job: Job, now: datetime | None = None) -> Job:
        """The job as it shows: ``interrupted`` once its worker's lease has passed, before a live worker
        has written it (none may be alive). Only the loaded object says so; nothing is written."""
        shown = jobs_repo.shown_status(job, now or self.clock.now())
        if shown != job.status:
            set_committed_value(job, "status", shown)
        return job

    def _job(self, session: Session, workspace_id: str, job_id: str) -> Job:
        job = jobs_repo.find_job(session, job_id)
        if job is None or job.workspace_id != workspace_id:
            raise NotFound(f"job {job_id!r} does not exist")
        return job
