"""Jobs that tell the truth (issue 10, items 16, 20 and 21), on SQLite and PostgreSQL:

- a job whose worker vanished shows ``interrupted`` once its lease has passed, and a live worker with
  another worker id takes it over and finishes it;
- a job whose workflow DBOS gave up on fails, and the next sync of its source runs;
- a cancel is logged as a cancel, not as an ERROR with a traceback;
- a running job carries its ETA (a pure estimate, property-tested), and an ingestion event ends
  ``processed``, ``skipped`` or ``failed`` as its job did.

A worker "vanishes" in process: its embedder raises a ``BaseException`` (as a SIGKILL would stop it, the
step records nothing and the workflow stays pending on that worker's id), then its engine stops. The
engines are driven by hand (``tick``) on a fake clock, so leases pass without waiting.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from dbos import DBOS
from dbos._dbos import _get_dbos_instance
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from lightfast.app.container import Services
from lightfast.app.engine import SWEEP_EVERY, JobEngine
from lightfast.app.schemas import JobOut
from lightfast.db.models import IngestionEvent
from lightfast.embed.fake import FakeEmbedder
from lightfast.errors import ConfigError
from lightfast.insights.eta import remaining_seconds
from lightfast.testing import FakeClock
from tests import test_github_source, test_jobs
from tests.gitrepo import commit, git
from tests.test_github_source import FULL_NAME, World
from tests.test_jobs import (
    BATCH,
    DELETE,
    FINISH,
    PLAN,
    TIMEOUT,
    GatedEmbedder,
    ServicesFactory,
    connect,
    job_row,
    wait_until,
    workflow_status,
)

# The fixtures of test_jobs.py (services with one-document batches, engines stopped at teardown) and of
# test_github_source.py (a repository served by the GitHub stand-in, webhooks posted to the API).
make_services = test_jobs.make_services
engines = test_jobs.engines
start_worker = test_jobs.start_worker
driven_engine = test_jobs.driven_engine
keys = test_github_source.keys
world = test_github_source.world

LEASE = timedelta(seconds=30)  # LIGHTFAST_WORKER_LEASE's default
FILES = {f"doc{i}.md": f"# Doc {i}\n\nParagraph about topic{i} and nothing else.\n" for i in range(4)}


class WorkerDied(BaseException):
    """Not an ``Exception``: neither the steps nor DBOS record it, as when the process is killed."""


class DyingEmbedder(FakeEmbedder):
    """The fake embedder; its call number ``dies_at`` (from 0) raises :class:`WorkerDied`, once."""

    def __init__(self, dies_at: int) -> None:
        super().__init__()
        self.seen = 0
        self.dies_at: int | None = dies_at
        self.died = threading.Event()

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        call, self.seen = self.seen, self.seen + 1
        if call == self.dies_at:
            self.dies_at = None
            self.died.set()
            raise WorkerDied
        return super().embed_batch(texts)


def run_until_the_worker_dies(engine: JobEngine, embedder: DyingEmbedder, job_id: str) -> None:
    """Claim and start the job, and wait until its workflow's thread has ended with the worker's death."""
    engine.tick()
    handle = engine.running()[job_id]
    assert embedder.died.wait(TIMEOUT)
    ended = threading.Event()

    def wait() -> None:
        try:
            handle.get_result()
        except BaseException:  # the WorkerDied it ended with
            pass
        finally:
            ended.set()

    threading.Thread(target=wait, daemon=True).start()
    assert ended.wait(TIMEOUT), "the workflow thread never ended"


def dbos_status(job_id: str) -> tuple[str, str | None]:
    status = DBOS.get_workflow_status(job_id)
    assert status is not None
    return status.status, status.executor_id


# -- item 16: a vanished worker's job is interrupted, then taken over -------------------------------------


def test_a_vanished_workers_job_shows_interrupted_then_another_worker_takes_it_over(
    make_services: ServicesFactory, driven_engine: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    clock = FakeClock()
    dying = DyingEmbedder(dies_at=2)  # the third document's embedding
    dead = make_services(embedder=dying, clock=clock, worker_id="w-dead")
    held = GatedEmbedder()
    live = make_services(embedder=held, clock=clock, worker_id="w-live")
    reg = connect(dead, tmp_path / "repo", FILES)
    job_id = dead.jobs.enqueue_sync(reg.workspace_id, reg.connection_id).job_id

    first = driven_engine(dead)
    run_until_the_worker_dies(first, dying, job_id)
    first.stop()  # w-dead is gone; its workflow is pending on its id, its job running under its lease
    row = job_row(dead, job_id)
    assert (row.status, row.worker_id, row.progress_processed) == ("running", "w-dead", 2)
    assert row.lease_expires_at == clock.now() + LEASE

    second = driven_engine(live)
    assert dbos_status(job_id) == ("PENDING", "w-dead")
    second.tick()  # within the lease: w-dead may yet come back, nothing moves
    assert live.jobs.get_job(reg.workspace_id, job_id).status == "running"
    assert dbos_status(job_id) == ("PENDING", "w-dead")

    clock.advance(LEASE + timedelta(seconds=1))
    # Shown at once, by any reader, before a worker has written it (none might be alive).
    assert live.jobs.get_job(reg.workspace_id, job_id).status == "interrupted"
    assert job_row(live, job_id).status == "running"
    listed = live.jobs.list_jobs(reg.workspace_id, status="interrupted")[0]
    assert [job.id for job in listed] == [job_id]
    assert live.jobs.list_jobs(reg.workspace_id, status="running")[0] == []
    assert JobOut.from_row(listed[0]).eta_seconds is None

    held.hold_after(0)  # stop the resumed run at its first embedding
    second.tick()  # sweeps: writes interrupted and hands w-dead's workflow to the live workers
    assert job_row(live, job_id).status == "interrupted"
    assert held.holding.wait(TIMEOUT), "no live worker resumed the job"
    assert dbos_status(job_id) == ("PENDING", "w-live")

    clock.advance(LEASE / 6)
    second.tick()  # w-live's heartbeat: the job is its own now, and running again
    row = job_row(live, job_id)
    assert (row.status, row.worker_id) == ("running", "w-live")
    assert row.lease_expires_at == clock.now() + LEASE

    held.release()
    done = live.jobs.wait(reg.workspace_id, job_id, timeout=TIMEOUT)
    assert done.status == "completed", done.error_message
    assert (done.progress_processed, done.worker_id, done.lease_expires_at) == (4, "w-live", None)
    assert dbos_status(job_id) == ("SUCCESS", "w-live")
    steps = Counter(step.name for step in live.jobs.steps(job_id))
    assert steps == {PLAN: 1, BATCH: 4, DELETE: 1, FINISH: 1}  # resumed, not redone
    assert (done.output or {})["documents_added"] + (done.output or {})["documents_unchanged"] == 4


@pytest.mark.parametrize("gave_up", ["MAX_RECOVERY_ATTEMPTS_EXCEEDED", "CANCELLED"])
def test_a_job_whose_workflow_dbos_gave_up_on_fails_and_frees_its_source(
    make_services: ServicesFactory,
    driven_engine: Callable[[Services], JobEngine],
    tmp_path: Path,
    gave_up: str,
) -> None:
    clock = FakeClock()
    dying = DyingEmbedder(dies_at=1)
    svc = make_services(embedder=dying, clock=clock)
    reg = connect(svc, tmp_path / "repo", FILES)
    stuck = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id).job_id
    engine = driven_engine(svc)
    run_until_the_worker_dies(engine, dying, stuck)
    following = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id).job_id
    engine.tick()
    assert job_row(svc, following).engine_run_id is None  # one sync per source: it waits

    if gave_up == "CANCELLED":  # cancelled outside Lightfast (the DBOS CLI, an operator's script)
        DBOS.cancel_workflow(stuck)
    else:  # what DBOS does when a workflow's runs exceeded its recovery attempts
        _get_dbos_instance()._sys_db.dead_letter_workflows([stuck], min_recovery_attempts=0)
    assert dbos_status(stuck)[0] == gave_up

    clock.advance(SWEEP_EVERY + 1)  # well within the lease: only DBOS's verdict counts
    engine.tick()  # sweeps, then claims the next sync of the source
    failed = svc.jobs.get_job(reg.workspace_id, stuck)
    assert failed.status == "failed"
    assert failed.completed_at is not None
    expected = "gave up" if gave_up == "MAX_RECOVERY_ATTEMPTS_EXCEEDED" else "cancelled outside Lightfast"
    assert expected in (failed.error_message or ""), failed.error_message
    assert "retry the job" in (failed.error_message or "")
    assert list(engine.running()) == [following]
    done = svc.jobs.wait(reg.workspace_id, following, timeout=TIMEOUT)
    assert done.status == "completed", done.error_message


# -- item 20: a cancel is not an error ------------------------------------------------------------------


@pytest.fixture
def dbos_records(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog, also fed by DBOS's logger (which does not propagate to the root logger)."""
    dbos_log = logging.getLogger("dbos")
    dbos_log.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="lightfast")
    try:
        yield caplog
    finally:
        dbos_log.removeHandler(caplog.handler)


def test_cancelling_a_running_job_logs_no_error(
    make_services: ServicesFactory,
    start_worker: Callable[[Services], JobEngine],
    tmp_path: Path,
    dbos_records: pytest.LogCaptureFixture,
) -> None:
    embedder = GatedEmbedder()
    svc = make_services(embedder=embedder)
    reg = connect(svc, tmp_path / "repo", FILES)
    embedder.hold_after(1)
    job_id = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id).job_id
    engine = start_worker(svc)
    assert embedder.holding.wait(TIMEOUT)
    workflow = test_jobs.running_handle(engine, job_id)
    assert svc.jobs.cancel(reg.workspace_id, job_id).status == "cancelled"
    embedder.release()
    wait_until(lambda: workflow_status(svc, job_id) == "CANCELLED", "the workflow to be cancelled")
    test_jobs.wait_for_return(workflow)  # DBOS has logged whatever it logs about the stop by now

    errors = [r for r in dbos_records.records if r.levelno >= logging.ERROR]
    assert errors == [], [(r.name, r.getMessage()) for r in errors]
    assert not [r for r in dbos_records.records if r.exc_info], "a traceback was logged"
    cancelled = [r.getMessage() for r in dbos_records.records if r.levelno == logging.INFO]
    assert f"workflow {job_id} stopped: it was cancelled" in cancelled


# -- item 21: the ETA is part of the job ----------------------------------------------------------------


@given(
    elapsed=st.floats(min_value=0.001, max_value=1e6),
    done=st.integers(min_value=1, max_value=10**6),
    left=st.integers(min_value=0, max_value=10**6),
)
def test_the_eta_is_the_time_left_at_the_rate_so_far(elapsed: float, done: int, left: int) -> None:
    eta = remaining_seconds(elapsed, done, done + left)
    assert eta is not None
    assert eta >= 0
    assert eta == pytest.approx(elapsed / done * left, abs=0.0501)  # rounded to a tenth
    if left == 0:
        assert eta == 0
    # More done in the same time, or the same done in less time: never a longer estimate.
    faster = remaining_seconds(elapsed, done + 1, done + left)
    assert faster is not None
    assert faster <= eta
    quicker = remaining_seconds(elapsed / 2, done, done + left)
    assert quicker is not None
    assert quicker <= eta


@given(
    elapsed=st.floats(allow_nan=True, allow_infinity=True),
    done=st.integers(max_value=0),
    total=st.none() | st.integers(min_value=1),
)
def test_the_eta_is_unknown_until_something_is_done_in_measured_time(
    elapsed: float, done: int, total: int | None
) -> None:
    assert remaining_seconds(elapsed, done, total) is None
    assert remaining_seconds(float("nan"), 3, 10) is None
    assert remaining_seconds(-1.0, 3, 10) is None
    assert remaining_seconds(5.0, 3, None) is None


def test_a_running_job_carries_its_eta_and_a_finished_one_none(
    make_services: ServicesFactory, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    embedder = GatedEmbedder()
    svc = make_services(embedder=embedder)
    reg = connect(svc, tmp_path / "repo", FILES)
    embedder.hold_after(2)  # two of four documents indexed
    job_id = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id).job_id
    start_worker(svc)
    try:
        assert embedder.holding.wait(TIMEOUT)
        job = svc.jobs.get_job(reg.workspace_id, job_id)
        assert (job.status, job.progress_processed, job.progress_total) == ("running", 2, 4)
        started = job.started_at
        assert started is not None
        assert job.eta_seconds is not None
        # Two documents left at the rate of the first two: the time they took, as of that update.
        elapsed = (job.updated_at - started).total_seconds()
        assert job.eta_seconds == pytest.approx(elapsed, abs=0.2)
        wire = JobOut.from_row(job).wire()
        assert wire["etaSeconds"] == job.eta_seconds
        assert wire["workerId"] == "local"
    finally:
        embedder.release()
    done = svc.jobs.wait(reg.workspace_id, job_id, timeout=TIMEOUT)
    assert done.status == "completed"
    assert JobOut.from_row(done).wire()["etaSeconds"] is None


# -- item 21: an ingestion event ends as its job did ------------------------------------------------------


def event_status(world: World, delivery: str) -> str:
    with world.services.sessions() as session:
        return session.scalars(
            select(IngestionEvent.status).where(IngestionEvent.event_key == delivery)
        ).one()


def push(world: World, delivery: str, files: dict[str, str | bytes], message: str) -> str:
    before = git(world.repo, "rev-parse", "HEAD")
    after = commit(world.repo, message, files)
    answer = world.deliver("push", world.standin.push_payload(FULL_NAME, before, after), delivery=delivery)
    assert answer.status_code == 202, answer.text
    [job_id] = answer.json()["jobs"]
    return str(job_id)


def test_ingestion_events_end_processed_skipped_or_failed_as_their_jobs_did(world: World) -> None:
    world.connect()
    superseded = push(world, "d-merged", {"docs/a.md": "# A\n\nalpha\n"}, "a")
    merged_into = push(world, "d-last", {"docs/b.md": "# B\n\nbeta\n"}, "b")
    assert world.job(superseded).status == "cancelled"  # superseded by the newer push while queued
    assert event_status(world, "d-merged") == event_status(world, "d-last") == "pending"
    assert world.run(merged_into).status == "completed"
    # The newer job did the older push's work too.
    assert event_status(world, "d-merged") == event_status(world, "d-last") == "processed"

    cancelled = push(world, "d-cancelled", {"docs/c.md": "# C\n\ngamma\n"}, "c")
    world.services.jobs.cancel(world.workspace_id, cancelled)
    assert event_status(world, "d-cancelled") == "skipped"

    broken = push(world, "d-broken", {"lightfast.yml": "version: 1\nstore: NOT A STORE\n"}, "broken config")
    with pytest.raises(ConfigError):
        world.run(broken)
    assert world.job(broken).status == "failed"
    assert event_status(world, "d-broken") == "failed"  # it was recorded "processed" before
    with world.services.sessions() as session:
        event = session.scalars(select(IngestionEvent).where(IngestionEvent.event_key == "d-broken")).one()
    assert event.event_metadata["jobs"] == [broken]
