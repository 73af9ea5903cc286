"""The worker: runs DBOS in this process and a dispatcher that admits queued jobs.

DBOS executes and recovers workflows. Admission is ours, because it needs rules a DBOS queue cannot
combine: one sync per source at a time, a limit per workspace, and newer pushes superseding queued
incremental syncs. Jobs wait in the jobs table; the dispatcher claims one (a conditional update under a
workspace row lock, so concurrent workers never double-claim) and starts its workflow with the job id as
the workflow id, or forks the failed run it retries.

Every job ends. A worker holds a lease on each job it runs and renews it every sixth of
``LIGHTFAST_WORKER_LEASE`` (its heartbeat); a job whose lease has passed shows ``interrupted``, and the
sweep of any live worker, whatever its id, hands its workflow to the workers (DBOS recovery re-queues it;
the worker that picks it up resumes it at its first unfinished step and makes it ``running`` again). A
job whose workflow DBOS gave up on (too many recoveries, an error, a cancel from outside) is failed with
a message that says so, so it never holds its source's queue.
"""

from __future__ import annotations

import fcntl
import logging
import sys
import threading
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from dbos import DBOS, DBOSConfig, SetWorkflowID
from dbos._error import DBOSAwaitedWorkflowCancelledError, DBOSWorkflowCancelledError
from sqlalchemy.exc import OperationalError

from lightfast import __version__
from lightfast.app import runtime, schedule
from lightfast.app.container import Services
from lightfast.app.disconnect import DISCONNECT
from lightfast.app.embedding_switch import EMBEDDING_SWITCH
from lightfast.app.workflows import disconnect_workflow, embedding_switch_workflow, sync_workflow
from lightfast.db import jobs as jobs_repo

log = logging.getLogger("lightfast.worker")


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record. DBOS would otherwise bind its
    console handler to the stderr of the moment it first starts, which a test runner may close later."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "__dbos_console_log_handler__"  # DBOS sets this handler's level from its config
        self.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] dbos: %(message)s", "%H:%M:%S"))

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


class _CancelIsNotAnError(logging.Filter):
    """DBOS logs a workflow that stopped because it was cancelled (a user's ``jobs cancel``, a disconnect)
    as an ERROR with a traceback. A cancel is not an error: the record becomes one INFO line."""

    CANCELLED = (DBOSAwaitedWorkflowCancelledError, DBOSWorkflowCancelledError)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, self.CANCELLED):
            workflow = getattr(error, "workflow_id", None) or getattr(record, "operationUUID", None)
            record.msg, record.args = "workflow %s stopped: it was cancelled", (workflow or "?",)
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
            record.exc_info = record.exc_text = record.stack_info = None
        return True


def _install_dbos_log_handler() -> None:
    dbos_log = logging.getLogger("dbos")
    if not dbos_log.handlers:
        dbos_log.propagate = False
        dbos_log.addHandler(_CurrentStderrHandler())
    if not any(isinstance(f, _CancelIsNotAnError) for f in dbos_log.filters):
        dbos_log.addFilter(_CancelIsNotAnError())


# A claimed job whose workflow does not exist after this long was orphaned by a crash between the claim
# and the start; it goes back to the queue.
ORPHAN_AFTER = timedelta(seconds=30)
SWEEP_EVERY = 5.0  # seconds between looks for orphans, lapsed leases and workflows DBOS gave up on
HEARTBEATS_PER_LEASE = 6  # a worker renews its leases this often within one lease
# DBOS statuses after which a workflow never runs again, and what a job still unfinished then says.
GAVE_UP = {
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED": "its workers stopped more often while running it than the workflow "
    "engine retries a run, so it gave up; retry the job to resume it where it stopped",
    "ERROR": "its workflow ended with an error before the job could record it; retry the job to resume it",
    "CANCELLED": "its workflow was cancelled outside Lightfast; retry the job to resume it",
}
SCHEDULE_EVERY = 1.0  # seconds between looks for due scheduled syncs


class WorkerLock:
    """One worker per LIGHTFAST_HOME: two processes with the same worker id would each recover the
    other's running workflows at start-up."""

    def __init__(self, home: Path) -> None:
        self.path = home / "worker.lock"
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def dbos_config(services: Services) -> DBOSConfig:
    settings = services.settings
    return {
        "name": "lightfast",
        "system_database_url": settings.resolved_jobs_database_url,
        "executor_id": settings.worker_id,
        # Recovery resumes only workflows of the same application version: tie it to our release, not to
        # a hash of the code, so a restart after a crash always resumes.
        "application_version": __version__,
        "console_log_level": "WARNING",
        "log_level": "WARNING",
        "max_executor_threads": max(8, settings.worker_concurrency * 4),
    }


class JobEngine:
    """DBOS plus the dispatcher. Every reading of time goes through ``services.clock``, so a test with a
    fake clock can call :meth:`tick`, :meth:`heartbeat` and :meth:`sweep` itself and move time by hand."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.clock = services.clock
        self.worker_id = self.settings.worker_id
        self.lease = timedelta(seconds=self.settings.worker_lease)
        self.ticks = 0  # dispatcher passes of the background loop that completed without an error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._launched = False
        self._running: dict[str, Any] = {}  # job id -> workflow handle, for the local concurrency limit
        self._last_sweep: float | None = None
        self._last_schedule: float | None = None
        self._last_heartbeat: float | None = None

    def start(self, *, dispatcher: bool = True) -> JobEngine:
        """Launch DBOS in this process and, unless ``dispatcher`` is false (a test that drives
        :meth:`tick` itself), the dispatcher loop in a background thread."""
        runtime.bind(self.services)
        _install_dbos_log_handler()
        DBOS(config=dbos_config(self.services))
        # Launching recovers this worker id's unfinished workflows: DBOS puts them back on its internal
        # queue, from which this or another worker resumes each at its first unfinished step.
        DBOS.launch()
        self._launched = True
        if dispatcher:
            self._thread = threading.Thread(target=self._loop, name="lightfast-dispatcher", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the dispatcher and DBOS (once; stopping again does nothing). The jobs this worker runs
        keep their leases until they pass: a worker that comes back in time resumes them itself."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._launched:
            self._launched = False
            DBOS.destroy(workflow_completion_timeout_sec=0)
            runtime.bind(None)

    def __enter__(self) -> JobEngine:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- the dispatcher loop ---------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # keep dispatching; the next tick retries
                log.exception("dispatcher tick failed")
            else:
                self.ticks += 1
            self._stop.wait(self.settings.dispatch_interval)

    def running(self) -> dict[str, Any]:
        """The workflows this engine started and still counts against its concurrency, by job id."""
        return dict(self._running)

    def tick(self) -> None:
        """One pass of the dispatcher: renew this worker's leases, sweep and enqueue due schedules when
        their intervals have passed on the clock (all three on the first pass), then claim and start
        what fits."""
        now = self.clock.monotonic()
        heartbeat_every = self.lease.total_seconds() / HEARTBEATS_PER_LEASE
        if self._last_heartbeat is None or now - self._last_heartbeat >= heartbeat_every:
            self._last_heartbeat = now
            self.heartbeat()
        if self._last_sweep is None or now - self._last_sweep > min(SWEEP_EVERY, 2 * heartbeat_every):
            self._last_sweep = now
            self.sweep()
        if self._last_schedule is None or now - self._last_schedule > SCHEDULE_EVERY:
            self._last_schedule = now
            schedule.enqueue_due(self.services.sessions, self.services.jobs, self.clock.now())
        self.services.notifications.tick()  # never raises; deliveries run in a thread of their own
        self._forget_finished()
        free = self.settings.worker_concurrency - len(self._running)
        if free <= 0:
            return
        with self.services.sessions() as session:
            candidates = jobs_repo.claimable_jobs(session, limit=free * 4)
        for job_id in candidates:
            if len(self._running) >= self.settings.worker_concurrency:
                break
            self._try_start(job_id)

    def _try_start(self, job_id: str) -> None:
        try:
            with self.services.sessions.begin() as session:
                job = jobs_repo.claim(
                    session,
                    job_id,
                    self.settings.workspace_concurrency,
                    worker_id=self.worker_id,
                    lease_until=self.clock.now() + self.lease,
                )
                resume = dict(job.input.get("resume", {})) if job else {}
                kind = job.input.get("kind", "sync") if job else "sync"
                if job is not None and resume:
                    # A fork resumes past the plan step, which is what marks a fresh run as started.
                    jobs_repo.start_job(session, job_id)
        except OperationalError:  # SQLite: another writer won the race; try again next tick
            return
        if job is None:
            return
        with SetWorkflowID(job_id):
            if resume:
                handle = DBOS.fork_workflow(resume["from"], int(resume["step"]))
            elif kind == DISCONNECT:
                handle = DBOS.start_workflow(disconnect_workflow)
            elif kind == EMBEDDING_SWITCH:
                handle = DBOS.start_workflow(embedding_switch_workflow)
            else:
                handle = DBOS.start_workflow(sync_workflow)
        self._running[job_id] = handle

    def _forget_finished(self) -> None:
        for job_id, handle in list(self._running.items()):
            status = handle.get_status().status
            if status not in ("PENDING", "ENQUEUED"):
                del self._running[job_id]

    def release_orphans(self) -> None:
        """Requeue claimed jobs whose workflow still does not exist ``ORPHAN_AFTER`` after the claim, by
        the clock: the dispatcher that claimed them died before starting them. A job run inline by a
        caller has no workflow by design and is left alone."""
        cutoff = self.clock.now() - ORPHAN_AFTER
        with self.services.sessions.begin() as session:
            for job in jobs_repo.claimed_unfinished(session):
                if job.engine_run_id != job.id:
                    continue  # run inline by another process, not through the engine
                if job.updated_at < cutoff and DBOS.get_workflow_status(job.id) is None:
                    log.warning("job %s was claimed but never started; requeueing it", job.id)
                    jobs_repo.release(session, job.id)

    # -- leases: every job ends, whichever worker dies ----------------------------------------------

    def heartbeat(self) -> None:
        """Renew the lease of every job whose workflow runs on this worker (DBOS's executor id is the
        worker id), until a lease from now: those this dispatcher started and those it took over from
        a vanished worker, which are ``running`` again from here."""
        mine = DBOS.list_workflows(
            executor_id=self.worker_id, status="PENDING", load_input=False, load_output=False
        )
        job_ids = {workflow.workflow_id for workflow in mine} | set(self._running)
        with self.services.sessions.begin() as session:
            jobs_repo.renew_leases(
                session, job_ids, worker_id=self.worker_id, until=self.clock.now() + self.lease
            )

    def sweep(self) -> None:
        """Requeue orphaned claims, end the jobs whose workflows will never run again, take over those
        whose worker vanished, and settle the ingestion events a race left pending."""
        self.release_orphans()
        self.reconcile()
        with self.services.sessions.begin() as session:
            jobs_repo.settle_events(session)

    def reconcile(self) -> None:
        """Compare every claimed, unfinished job with its DBOS workflow:

        - DBOS gave up on it (``GAVE_UP``): the job fails with a message saying why;
        - it runs on another worker than the job's lease names (taken over, or leased before leases
          existed): the lease passes to that worker, which renews it while it lives;
        - the lease of the worker it runs on has passed: the job is ``interrupted`` and the vanished
          worker's workflows go back to DBOS's queue, from which a live worker resumes each.

        Every write is conditional on the job still being unfinished (and its lease still passed), so
        a job that finishes or renews meanwhile is left as it is."""
        now = self.clock.now()
        with self.services.sessions() as session:
            claimed = [
                (job.id, job.worker_id, job.lease_expires_at)
                for job in jobs_repo.claimed_unfinished(session)
                if job.engine_run_id == job.id  # not run inline by another process
            ]
        if not claimed:
            return
        workflows = {
            workflow.workflow_id: workflow
            for workflow in DBOS.list_workflows(
                workflow_ids=[job_id for job_id, _, _ in claimed], load_input=False, load_output=False
            )
        }
        vanished: set[str] = set()
        for job_id, worker_id, lease in claimed:
            workflow = workflows.get(job_id)
            if workflow is None:
                continue  # not started yet, or orphaned: release_orphans' business
            if workflow.status in GAVE_UP:
                self._fail(job_id, workflow.status)
            elif workflow.status == "PENDING" and workflow.executor_id:
                executor = str(workflow.executor_id)
                if executor == self.worker_id:
                    continue  # this worker runs it, and renews its lease in its heartbeat
                if executor != worker_id or lease is None:
                    with self.services.sessions.begin() as session:
                        jobs_repo.grant_lease(session, job_id, worker_id=executor, until=now + self.lease)
                elif lease < now:
                    with self.services.sessions.begin() as session:
                        interrupted = jobs_repo.interrupt(session, job_id, now)
                    if interrupted:
                        log.warning(
                            "job %s: worker %s stopped renewing its lease at %s; taking it over",
                            job_id,
                            executor,
                            lease.isoformat(),
                        )
                    vanished.add(executor)
            # ENQUEUED: on DBOS's queue, waiting for any live worker. SUCCESS: its last step ended it.
        self._take_over(vanished)

    def _fail(self, job_id: str, workflow_status: str) -> None:
        message = f"The job did not finish: {GAVE_UP[workflow_status]}."
        with self.services.sessions.begin() as session:
            failed = jobs_repo.abandon(session, job_id, message)
        if failed is not None:
            log.warning("job %s failed: DBOS marked its workflow %s", job_id, workflow_status)

    def _take_over(self, workers: Iterable[str]) -> None:
        """Put the pending workflows of vanished workers back on DBOS's queue; every live worker serves
        it, so one of them resumes each at its first unfinished step. Only a workflow still pending on
        one of these workers moves, so asking twice, or from two workers at once, runs nothing twice."""
        dead = sorted(workers)
        if dead:
            recovered = DBOS._recover_pending_workflows(dead)
            log.info("took over %d workflow(s) of vanished worker(s) %s", len(recovered), ", ".join(dead))
