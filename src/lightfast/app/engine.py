"""The worker: runs DBOS in this process and a dispatcher that admits queued jobs.

DBOS executes and recovers workflows. Admission is ours, because it needs rules a DBOS queue cannot
combine: one sync per source at a time, a limit per workspace, and newer pushes superseding queued
incremental syncs. Jobs wait in the jobs table; the dispatcher claims one (a conditional update under a
workspace row lock, so concurrent workers never double-claim) and starts its workflow with the job id as
the workflow id, or forks the failed run it retries.
"""

from __future__ import annotations

import fcntl
import logging
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from dbos import DBOS, DBOSConfig, SetWorkflowID
from sqlalchemy.exc import OperationalError

from lightfast import __version__
from lightfast.app import runtime, schedule
from lightfast.app.container import Services
from lightfast.app.disconnect import DISCONNECT
from lightfast.app.workflows import disconnect_workflow, sync_workflow
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


def _install_dbos_log_handler() -> None:
    dbos_log = logging.getLogger("dbos")
    if not dbos_log.handlers:
        dbos_log.propagate = False
        dbos_log.addHandler(_CurrentStderrHandler())


# A claimed job whose workflow does not exist after this long was orphaned by a crash between the claim
# and the start; it goes back to the queue.
ORPHAN_AFTER = timedelta(seconds=30)
SWEEP_EVERY = 5.0  # seconds between looks for orphans
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
    fake clock can call :meth:`tick` and :meth:`release_orphans` itself and move time by hand."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings
        self.clock = services.clock
        self.ticks = 0  # dispatcher passes of the background loop that completed without an error
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._running: dict[str, Any] = {}  # job id -> workflow handle, for the local concurrency limit
        self._last_sweep: float | None = None
        self._last_schedule: float | None = None

    def start(self, *, dispatcher: bool = True) -> JobEngine:
        """Launch DBOS in this process and, unless ``dispatcher`` is false (a test that drives
        :meth:`tick` itself), the dispatcher loop in a background thread."""
        runtime.bind(self.services)
        _install_dbos_log_handler()
        DBOS(config=dbos_config(self.services))
        # Launching recovers this worker id's unfinished workflows: DBOS puts them back on its internal
        # queue, from which this or another worker resumes each at its first unfinished step.
        DBOS.launch()
        if dispatcher:
            self._thread = threading.Thread(target=self._loop, name="lightfast-dispatcher", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
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
        """One pass of the dispatcher: sweep for orphans and enqueue due schedules when their intervals
        have passed on the clock (both on the first pass), then claim and start what fits."""
        now = self.clock.monotonic()
        if self._last_sweep is None or now - self._last_sweep > SWEEP_EVERY:
            self._last_sweep = now
            self.release_orphans()
        if self._last_schedule is None or now - self._last_schedule > SCHEDULE_EVERY:
            self._last_schedule = now
            schedule.enqueue_due(self.services.sessions, self.services.jobs, self.clock.now())
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
                job = jobs_repo.claim(session, job_id, self.settings.workspace_concurrency)
                resume = dict(job.input.get("resume", {})) if job else {}
                kind = job.input.get("kind", "sync") if job else "sync"
        except OperationalError:  # SQLite: another writer won the race; try again next tick
            return
        if job is None:
            return
        with SetWorkflowID(job_id):
            if resume:
                handle = DBOS.fork_workflow(resume["from"], int(resume["step"]))
            elif kind == DISCONNECT:
                handle = DBOS.start_workflow(disconnect_workflow)
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
