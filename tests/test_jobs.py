"""Background sync jobs end to end on SQLite and PostgreSQL: the DBOS worker, its admission rules
(one sync per source, a limit per workspace, superseding), cancel, retry with resume, schedules and
incremental syncs, with the fake embedder (optionally slowed down or held at a chosen call)."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from lightfast.app.container import Services, build_services
from lightfast.app.engine import ORPHAN_AFTER, SWEEP_EVERY, JobEngine
from lightfast.app.ingest import RegisteredSource
from lightfast.app.schedule import enqueue_due, latest_slot
from lightfast.app.sync import chunk_settings
from lightfast.db import jobs as jobs_repo
from lightfast.db.engine import make_engine
from lightfast.db.models import Document, Job, Metric, VectorEntry
from lightfast.embed.fake import FakeEmbedder
from lightfast.errors import Conflict, InvalidInput, NotFound
from lightfast.ingest.chunking import chunk_markdown
from lightfast.ingest.hashing import document_id
from lightfast.ingest.markdown import parse_document
from lightfast.testing import FakeClock
from tests.conftest import make_settings, write

TIMEOUT = 60.0
CONFIG = "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n"
PLAN, BATCH, DELETE, FINISH, FAIL = (
    "lightfast.plan",
    "lightfast.index_batch",
    "lightfast.delete_removed",
    "lightfast.finish",
    "lightfast.fail",
)


# -- an embedder the tests can slow down or hold ---------------------------------------------------


class GatedEmbedder(FakeEmbedder):
    """The fake embedder, optionally slowed by ``delay`` seconds per call, and able to stop at a chosen
    call until the test releases it."""

    def __init__(self, batch_size: int = 64, delay: float = 0.0) -> None:
        super().__init__(batch_size=batch_size)
        self.delay = delay
        self._lock = threading.Lock()
        self._pass: int | None = None  # calls to let through before holding one; None: never hold
        self.holding = threading.Event()
        self.go = threading.Event()

    def hold_after(self, calls: int) -> None:
        """Let ``calls`` more calls through, then hold the next one until ``release()``."""
        with self._lock:
            self.holding.clear()
            self.go.clear()
            self._pass = calls

    def release(self) -> None:
        self.go.set()

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        hold = False
        with self._lock:
            if self._pass is not None:
                if self._pass == 0:
                    self._pass, hold = None, True
                else:
                    self._pass -= 1
        if hold:
            self.holding.set()
            if not self.go.wait(TIMEOUT):
                raise RuntimeError("the test never released the embedder")
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            return super().embed_batch(texts)


# -- fixtures ------------------------------------------------------------------------------------------

ServicesFactory = Callable[..., Services]


@pytest.fixture
def make_services(tmp_path: Path, database_url: str) -> Iterator[ServicesFactory]:
    """Services with one-document batches and a fast dispatcher; keyword arguments override settings."""
    (tmp_path / "home").mkdir(exist_ok=True)  # the DBOS system database (SQLite) lives there
    built: list[Services] = []

    def factory(
        embedder: FakeEmbedder | None = None, clock: FakeClock | None = None, **overrides: Any
    ) -> Services:
        values: dict[str, Any] = {"ingest_batch_documents": 1, "dispatch_interval": 0.05, **overrides}
        settings = make_settings(tmp_path, database_url, **values)
        services = build_services(
            settings,
            embedder=embedder or GatedEmbedder(),
            engine=make_engine(settings.resolved_database_url),
            clock=clock,
        )
        built.append(services)
        return services

    yield factory
    for services in built:
        services.close()


@pytest.fixture
def svc(make_services: ServicesFactory) -> Services:
    return make_services()


EngineStarter = Callable[..., JobEngine]


@pytest.fixture
def engines(make_services: ServicesFactory) -> Iterator[EngineStarter]:
    """Starts the (per-process) DBOS worker for some services, with its dispatcher loop or
    (``dispatcher=False``) for the test to drive; stopped before the services close."""
    started: list[JobEngine] = []
    embedders: list[GatedEmbedder] = []

    def start(services: Services, *, dispatcher: bool = True) -> JobEngine:
        if isinstance(services.embedder, GatedEmbedder):
            embedders.append(services.embedder)
        engine = JobEngine(services).start(dispatcher=dispatcher)
        started.append(engine)
        return engine

    yield start
    for embedder in embedders:
        embedder.release()  # never leave a step thread waiting
    for engine in reversed(started):
        engine.stop()


@pytest.fixture
def start_worker(engines: EngineStarter) -> Callable[[Services], JobEngine]:
    """Starts the worker with its dispatcher loop."""
    return lambda services: engines(services)


@pytest.fixture
def driven_engine(engines: EngineStarter) -> Callable[[Services], JobEngine]:
    """Starts the worker without its dispatcher loop: the test calls ``tick()`` and
    ``release_orphans()`` itself, with the services' (fake) clock."""
    return lambda services: engines(services, dispatcher=False)


# -- helpers -------------------------------------------------------------------------------------------


def words(tag: str, paragraphs: int = 3, per_paragraph: int = 90) -> str:
    return "\n\n".join(
        " ".join(f"{tag}p{p}w{i}" for i in range(per_paragraph)) + "." for p in range(paragraphs)
    )


def versioned_doc(name: str, version: int) -> str:
    """A document of a few chunks; every word carries the name and the version."""
    return f"# {name} v{version}\n\n{words(f'{name}v{version}x', paragraphs=5)}\n"


def connect(
    services: Services, root: Path, files: Mapping[str, str | bytes], workspace: str | None = None
) -> RegisteredSource:
    write(root, {"lightfast.yml": CONFIG, **files})
    return services.ingest.register_local(root, workspace)


def job_row(services: Services, job_id: str) -> Job:
    with services.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def run_job(services: Services, reg: RegisteredSource, **kwargs: Any) -> Job:
    queued = services.jobs.enqueue_sync(reg.workspace_id, reg.connection_id, **kwargs)
    assert queued.created
    return services.jobs.wait(reg.workspace_id, queued.job_id, timeout=TIMEOUT)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def workflow_status(services: Services, job_id: str) -> str:
    return str(services.jobs.client().retrieve_workflow(job_id).get_status().status)


def running_handle(engine: JobEngine, job_id: str) -> Any:
    """The handle of the workflow the engine started for a job, once the engine has recorded it."""
    wait_until(lambda: job_id in engine.running(), f"the engine to start job {job_id}")
    return engine.running()[job_id]


def wait_for_return(handle: Any) -> None:
    """Block until the workflow's execution in this process has returned (with its result or its
    cancellation): after that, nothing of it can run any more."""
    returned = threading.Event()

    def wait() -> None:
        try:
            handle.get_result()
        except Exception:  # a cancelled workflow's result is an error; only the return matters
            pass
        finally:
            returned.set()

    threading.Thread(target=wait, daemon=True).start()
    assert returned.wait(TIMEOUT), "the workflow never returned"


@dataclass(frozen=True)
class DocState:
    id: str
    content_hash: str
    chunk_count: int
    chunks: tuple[tuple[int, str, str], ...]  # (index, content hash, content)


def index_state(services: Services, store_id: str | None = None) -> dict[str, DocState]:
    """Every document of the database (or of one store) by path, with its chunks in order."""
    with services.sessions() as session:
        query = select(Document)
        if store_id:
            query = query.where(Document.store_id == store_id)
        state = {}
        for doc in session.scalars(query):
            entries = session.scalars(
                select(VectorEntry).where(VectorEntry.document_id == doc.id).order_by(VectorEntry.chunk_index)
            )
            chunks = tuple((e.chunk_index, e.content_hash, e.content) for e in entries)
            state[doc.path] = DocState(doc.id, doc.content_hash, doc.chunk_count, chunks)
    return state


def shape(state: dict[str, DocState]) -> dict[str, tuple[str, int, tuple[str, ...]]]:
    """What a clean run must reproduce, independent of the store: hashes and chunk hashes per path."""
    return {path: (d.content_hash, d.chunk_count, tuple(c[1] for c in d.chunks)) for path, d in state.items()}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def metrics_for(services: Services, job_id: str) -> dict[str, float]:
    with services.sessions() as session:
        rows = session.scalars(select(Metric)).all()
        return {m.type: m.value for m in rows if m.tags.get("job") == job_id}


# -- 1. lifecycle ----------------------------------------------------------------------------------------


def test_job_goes_queued_running_completed(
    svc: Services, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    files = {f"docs/{n}.md": versioned_doc(n, 1) for n in ("alpha", "beta", "gamma")}
    reg = connect(svc, tmp_path / "repo", files)
    queued = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id)
    assert queued.created
    job = job_row(svc, queued.job_id)
    assert (job.status, job.trigger, job.started_at, job.engine_run_id) == ("queued", "manual", None, None)

    embedder = svc.embedder
    assert isinstance(embedder, GatedEmbedder)
    embedder.hold_after(0)
    start_worker(svc)
    assert embedder.holding.wait(TIMEOUT)
    running = job_row(svc, queued.job_id)
    assert running.status == "running"
    assert running.started_at is not None
    assert running.completed_at is None
    assert running.progress_total == 3
    embedder.release()

    job = svc.jobs.wait(reg.workspace_id, queued.job_id, timeout=TIMEOUT)
    assert job.status == "completed"
    assert job.started_at is not None
    assert job.completed_at is not None
    assert job.started_at <= job.completed_at
    assert isinstance(job.duration_ms, int)
    assert job.duration_ms >= 0
    assert job.error_message is None
    assert job.output is not None
    assert job.output["documents_added"] == 3
    assert job.output["documents_failed"] == 0
    assert job.output["chunks_embedded"] > 3
    assert job.progress_processed == job.progress_total == 3
    assert set(index_state(svc)) == set(files)

    metrics = metrics_for(svc, job.id)
    assert metrics["documents_indexed"] == 3
    assert metrics["job_duration"] >= 0
    assert "errors" not in metrics
    assert workflow_status(svc, job.id) == "SUCCESS"

    with pytest.raises(Conflict):  # a finished job cannot be cancelled
        svc.jobs.cancel(reg.workspace_id, job.id)
    with pytest.raises(Conflict):  # nor retried
        svc.jobs.retry(reg.workspace_id, job.id)
    assert job_row(svc, job.id).status == "completed"


def test_binary_file_completes_with_errors(
    svc: Services, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    reg = connect(
        svc,
        tmp_path / "repo",
        {"good.md": "# Good\n\nfine text\n", "img.md": b"PNG\x00\x01\x02", "other.md": "# O\n\nok\n"},
    )
    start_worker(svc)
    job = run_job(svc, reg)
    assert job.status == "completed_with_errors"
    assert job.output is not None
    assert job.output["documents_added"] == 2
    assert job.output["documents_failed"] == 1
    assert job.progress_processed == job.progress_total == 3

    detail = svc.jobs.detail(reg.workspace_id, job.id)
    assert detail.job.status == "completed_with_errors"
    assert [(f.path, f.reason) for f in detail.failures] == [("img.md", "binary")]
    assert detail.failures[0].message

    metrics = metrics_for(svc, job.id)
    assert metrics["errors"] == 1
    assert metrics["documents_indexed"] == 2
    assert metrics["job_duration"] >= 0


# -- 2. step trace -------------------------------------------------------------------------------------


def test_step_trace_lists_every_step_in_order(
    make_services: ServicesFactory, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    svc = make_services(ingest_batch_documents=2)
    files = {f"d{i}.md": f"# D{i}\n\ntext number {i}\n" for i in range(5)}
    reg = connect(svc, tmp_path / "repo", files)
    start_worker(svc)
    job = run_job(svc, reg)
    assert job.status == "completed"

    steps = svc.jobs.detail(reg.workspace_id, job.id).steps
    assert [s.name for s in steps] == [PLAN, BATCH, BATCH, BATCH, DELETE, FINISH]  # 5 files, 2 a batch
    assert [s.id for s in steps] == sorted(s.id for s in steps)
    for step in steps:
        assert step.status == "completed", step
        assert step.error is None
        assert step.duration_ms is not None
        assert step.duration_ms >= 0
        assert step.started_at_ms is not None
        assert step.completed_at_ms is not None
    starts = [s.started_at_ms for s in steps]
    assert starts == sorted(starts)  # type: ignore[type-var]


# -- 3. failure ----------------------------------------------------------------------------------------


def test_source_deleted_after_enqueue_fails_the_job(
    svc: Services, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    reg = connect(svc, root, {"a.md": "# A\n\nalpha\n"})
    queued = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id)
    for path in sorted(root.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    root.rmdir()

    start_worker(svc)
    job = svc.jobs.wait(reg.workspace_id, queued.job_id, timeout=TIMEOUT)
    assert job.status == "failed"
    assert job.error_message
    assert "not a directory" in job.error_message
    assert job.completed_at is not None
    assert isinstance(job.duration_ms, int)
    assert job.duration_ms >= 0

    steps = svc.jobs.detail(reg.workspace_id, job.id).steps
    assert [(s.name, s.status) for s in steps] == [(PLAN, "failed"), (FAIL, "completed")]
    assert steps[0].error
    assert "not a directory" in steps[0].error
    assert metrics_for(svc, job.id)["errors"] == 1
    with pytest.raises(Conflict):  # a failed job cannot be cancelled
        svc.jobs.cancel(reg.workspace_id, job.id)


def test_invalid_config_fails_the_job_and_marks_the_source(
    svc: Services, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    reg = connect(svc, root, {"a.md": "# A\n\nalpha\n"})
    start_worker(svc)
    assert run_job(svc, reg).status == "completed"
    before = index_state(svc)

    (root / "lightfast.yml").write_text("version: 1\nstore: Docs!\ninclude: [a.md\n")
    job = run_job(svc, reg)
    assert job.status == "failed"
    assert job.error_message
    assert "line" in job.error_message
    steps = svc.jobs.detail(reg.workspace_id, job.id).steps
    assert [(s.name, s.status) for s in steps] == [(PLAN, "failed"), (FAIL, "completed")]
    assert index_state(svc) == before  # a failed plan changes nothing

    source = svc.sources.get(reg.workspace_id, reg.connection_id)
    assert source.config_status == "error"
    assert source.config_message
    assert "line" in source.config_message


# -- 4. cancel ---------------------------------------------------------------------------------------


@dataclass
class Interrupted:
    reg: RegisteredSource
    job_id: str
    v1: dict[str, DocState]
    files: list[str]
    batches_started: list[int]


def start_then_cancel(
    svc: Services, start_worker: Callable[[Services], JobEngine], root: Path
) -> Interrupted:
    """Index six documents in v1, change all to v2, run a full sync one document a batch and cancel it
    while the third document's second chunk is being embedded (one chunk per model call): the run
    stops before the third chunk, so the third document is not written."""
    names = [f"doc{i}" for i in range(6)]
    files = {f"{n}.md": versioned_doc(n, 1) for n in names}
    reg = connect(svc, root, files)
    svc.ingest.ingest_path(root)  # v1 fully indexed, in this thread
    v1 = index_state(svc)
    assert set(v1) == set(files)
    assert all(len(d.chunks) >= 3 for d in v1.values())  # so the hold below lands mid-document
    chunks_before_third = sum(len(v1[f"{n}.md"].chunks) for n in names[:2])
    write(root, {f"{n}.md": versioned_doc(n, 2) for n in names})

    batches_started: list[int] = []
    batches_finished: list[int] = []
    run_batch = svc.runner.run_batch

    def counted(job_id: str, plan: Any, paths: list[str], done_before: int, **kw: Any) -> Any:
        batches_started.append(done_before)
        try:
            return run_batch(job_id, plan, paths, done_before, **kw)
        finally:
            batches_finished.append(done_before)

    svc.runner.run_batch = counted  # type: ignore[method-assign, assignment]

    embedder = svc.embedder
    assert isinstance(embedder, GatedEmbedder)
    assert embedder.batch_size == 1
    embedder.hold_after(chunks_before_third + 1)  # hold the second chunk of the third document
    queued = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id)
    engine = start_worker(svc)
    assert embedder.holding.wait(TIMEOUT)
    assert job_row(svc, queued.job_id).status == "running"
    workflow = running_handle(engine, queued.job_id)  # held, so the engine still counts it as running

    cancelled = svc.jobs.cancel(reg.workspace_id, queued.job_id)
    assert cancelled.status == "cancelled"
    assert cancelled.completed_at is not None
    embedder.release()
    # The held step finishes on its own; then the workflow must not start another batch.
    wait_until(lambda: workflow_status(svc, queued.job_id) == "CANCELLED", "the workflow to be cancelled")
    wait_until(lambda: batches_finished == batches_started, "the held batch to end")
    wait_for_return(workflow)  # a wrongly continuing workflow would have started its next batch by now
    return Interrupted(reg, queued.job_id, v1, sorted(files), batches_started)


def assert_each_document_old_or_new(svc: Services, root: Path, v1: dict[str, DocState]) -> dict[str, int]:
    """Every document is wholly in v1 or wholly in v2: hash, chunks and chunk texts agree."""
    versions = {}
    for path, doc in index_state(svc).items():
        text = {v: versioned_doc(path.removesuffix(".md"), v) for v in (1, 2)}
        version = next(v for v in (1, 2) if doc.content_hash == sha256(text[v]))
        versions[path] = version
        assert doc.chunk_count == len(doc.chunks) >= 3
        assert [c[0] for c in doc.chunks] == list(range(len(doc.chunks)))
        for _, chunk_hash, content in doc.chunks:
            assert chunk_hash == sha256(content)
            assert set(re.findall(r"v([12])x", content)) == {str(version)}, (path, version)
        if version == 1:
            assert doc == v1[path]
    assert (root / "doc0.md").read_text() == versioned_doc("doc0", 2)
    return versions


def test_cancel_while_running_stops_between_batches_and_leaves_whole_documents(
    make_services: ServicesFactory, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    svc = make_services(embedder=GatedEmbedder(batch_size=1))
    root = tmp_path / "repo"
    run = start_then_cancel(svc, start_worker, root)

    job = job_row(svc, run.job_id)
    assert job.status == "cancelled"  # stays cancelled after the held step ended
    assert job.progress_total == 6
    assert job.progress_processed < 6
    assert run.batches_started == [0, 1, 2]  # the held batch was the last one started

    versions = assert_each_document_old_or_new(svc, root, run.v1)
    assert set(versions) == set(run.files)
    assert versions == {"doc0.md": 2, "doc1.md": 2, "doc2.md": 1, "doc3.md": 1, "doc4.md": 1, "doc5.md": 1}

    steps = svc.jobs.steps(run.job_id)
    assert [s.name for s in steps if s.name != BATCH] == [PLAN]  # no delete, no finish, no fail
    with pytest.raises(Conflict):  # already cancelled
        svc.jobs.cancel(run.reg.workspace_id, run.job_id)


def test_cancel_during_the_finish_step_stands(
    svc: Services, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    """A cancel acknowledged while the last step runs is not overwritten by that step."""
    reg = connect(svc, tmp_path / "repo", {"a.md": "# A\n\nalpha\n"})
    in_finish, go_on, finished = threading.Event(), threading.Event(), threading.Event()
    finish = svc.runner.finish

    def held_finish(job_id: str, summary: Any) -> str:
        in_finish.set()
        try:
            assert go_on.wait(TIMEOUT)
            return finish(job_id, summary)
        finally:
            finished.set()

    svc.runner.finish = held_finish  # type: ignore[method-assign]
    queued = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id)
    start_worker(svc)
    try:
        assert in_finish.wait(TIMEOUT)
        assert svc.jobs.cancel(reg.workspace_id, queued.job_id).status == "cancelled"
    finally:
        go_on.set()
    assert finished.wait(TIMEOUT)
    wait_until(lambda: workflow_status(svc, queued.job_id) == "CANCELLED", "the workflow to be cancelled")
    job = job_row(svc, queued.job_id)
    assert job.status == "cancelled"
    assert job.error_message == "cancelled"


def test_cancel_of_a_queued_job_is_immediate(
    svc: Services, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    reg = connect(svc, tmp_path / "repo", {"a.md": "# A\n\nalpha\n"})
    queued = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id)
    job = svc.jobs.cancel(reg.workspace_id, queued.job_id)
    assert job.status == "cancelled"
    assert job.completed_at is not None
    assert job.engine_run_id is None

    start_worker(svc)
    other = run_job(svc, reg)  # the worker runs new work but never the cancelled job
    assert other.status == "completed"
    job = job_row(svc, queued.job_id)
    assert (job.status, job.engine_run_id, job.started_at) == ("cancelled", None, None)
    assert svc.jobs.detail(reg.workspace_id, queued.job_id).steps == []


# -- 5. retry ----------------------------------------------------------------------------------------


def test_retry_of_a_cancelled_queued_job_runs_like_a_clean_run(
    svc: Services, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    files = {f"docs/{n}.md": versioned_doc(n, 1) for n in ("alpha", "beta", "gamma")}
    reg = connect(svc, tmp_path / "repo", files)
    old = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id)
    svc.jobs.cancel(reg.workspace_id, old.job_id)

    new = svc.jobs.retry(reg.workspace_id, old.job_id, triggered_by="tester")
    assert new.id != old.job_id
    assert new.retry_of == old.job_id
    assert new.status == "queued"
    assert new.triggered_by == "tester"
    assert new.input == {"mode": "full"}  # never ran: nothing to resume
    assert new.source_id == reg.connection_id

    start_worker(svc)
    job = svc.jobs.wait(reg.workspace_id, new.id, timeout=TIMEOUT)
    assert job.status == "completed"
    assert job_row(svc, old.job_id).status == "cancelled"

    # A clean run of the same files into another workspace's store gives the same index.
    retried = index_state(svc, job.store_id)
    assert shape(retried) == shape(index_state(svc, clean_run(svc, tmp_path / "repo")))
    assert job.store_id is not None
    for path, doc in retried.items():
        assert doc.id == document_id(job.store_id, "local", f"{(tmp_path / 'repo').resolve()}:{path}")
        assert doc.content_hash == sha256(files[path])


def test_retry_of_a_cancelled_run_resumes_after_its_last_finished_batch(
    make_services: ServicesFactory, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    embedder = GatedEmbedder(batch_size=1)
    svc = make_services(embedder=embedder)
    root = tmp_path / "repo"
    run = start_then_cancel(svc, start_worker, root)
    versions = assert_each_document_old_or_new(svc, root, run.v1)
    pending = [p for p, v in versions.items() if v == 1]
    assert pending

    retry = svc.jobs.retry(run.reg.workspace_id, run.job_id)
    assert retry.retry_of == run.job_id
    assert retry.status == "queued"
    resume = retry.input["resume"]
    # plan (1) and the batches of doc0 and doc1 (2, 3) finished; the held batch (4) was stopped
    assert resume == {"from": run.job_id, "step": 4}
    assert retry.input["mode"] == "full"
    # The fork skips the plan: the work already done shows on the new job from the start.
    assert retry.progress_total == 6
    assert retry.progress_processed == job_row(svc, run.job_id).progress_processed

    embedded_before = embedder.texts_embedded
    job = svc.jobs.wait(run.reg.workspace_id, retry.id, timeout=TIMEOUT)
    assert job.status == "completed", job.error_message
    # Only what the cancelled run had not written is embedded again.
    pending_chunks = sum(len(versioned_chunks(svc, p)) for p in pending)
    assert embedder.texts_embedded - embedded_before == pending_chunks
    assert run.batches_started[3:] == [2, 3, 4, 5]  # resumed at the held batch, earlier ones not redone
    assert job.progress_processed == job.progress_total == 6
    assert job.started_at is not None
    assert job.started_at >= retry.created_at
    assert job_row(svc, run.job_id).status == "cancelled"

    # The finish step marks the job completed inside its own transaction; DBOS records the step's
    # output just after it returns, so the trace may lag the job's status by a moment.
    deadline = time.monotonic() + 10
    steps = svc.jobs.steps(retry.id)
    while steps[-1].name != FINISH and time.monotonic() < deadline:
        time.sleep(0.05)
        steps = svc.jobs.steps(retry.id)
    assert [s.name for s in steps] == [PLAN] + [BATCH] * 6 + [DELETE, FINISH]
    assert all(s.status == "completed" for s in steps)

    final = index_state(svc)
    assert all(
        doc.content_hash == sha256(versioned_doc(p.removesuffix(".md"), 2)) for p, doc in final.items()
    )
    assert shape(index_state(svc, job.store_id)) == shape(index_state(svc, clean_run(svc, root)))


def clean_run(svc: Services, root: Path) -> str:
    """Sync the directory through the worker into a fresh workspace; the id of the store it fills."""
    job = run_job(svc, svc.ingest.register_local(root, "clean"))
    assert job.status == "completed"
    assert job.store_id is not None
    return job.store_id


def versioned_chunks(svc: Services, path: str) -> list[str]:
    """The chunk texts of the v2 version of a test document, as the pipeline cuts them."""
    text = versioned_doc(path.removesuffix(".md"), 2)
    tokens, overlap = chunk_settings(svc.settings, svc.embedder.spec)
    chunks = chunk_markdown(parse_document(text, path).body, tokens, overlap, svc.tokenizer.count)
    return [c.text for c in chunks]


# -- 6. supersede --------------------------------------------------------------------------------------


def test_newer_syncs_supersede_queued_ones(svc: Services, tmp_path: Path) -> None:
    reg = connect(svc, tmp_path / "repo", {"a.md": "# A\n\na\n", "b.md": "# B\n\nb\n"})
    ws, src = reg.workspace_id, reg.connection_id

    a = svc.jobs.enqueue_sync(ws, src, mode="incremental", changes={"a.md": "upsert"})
    b = svc.jobs.enqueue_sync(ws, src, mode="incremental", changes={"a.md": "remove", "b.md": "upsert"})
    assert a.created
    assert b.created
    job_a, job_b = job_row(svc, a.job_id), job_row(svc, b.job_id)
    assert job_a.status == "cancelled"
    assert job_a.error_message
    assert b.job_id in job_a.error_message
    assert job_b.status == "queued"
    assert job_b.input == {"mode": "incremental", "changes": {"a.md": "remove", "b.md": "upsert"}}

    c = svc.jobs.enqueue_sync(ws, src, mode="incremental", changes={"c.md": "upsert"})
    job_c = job_row(svc, c.job_id)
    assert job_row(svc, b.job_id).status == "cancelled"
    assert job_c.input["changes"] == {"a.md": "remove", "b.md": "upsert", "c.md": "upsert"}

    full = svc.jobs.enqueue_sync(ws, src)
    assert full.created
    job_c = job_row(svc, c.job_id)
    assert job_c.status == "cancelled"
    assert job_c.error_message
    assert full.job_id in job_c.error_message
    assert job_row(svc, full.job_id).input == {"mode": "full"}

    covered = svc.jobs.enqueue_sync(ws, src, mode="incremental", changes={"a.md": "upsert"})
    assert covered == type(covered)(full.job_id, False)
    queued, _ = svc.jobs.list_jobs(ws, status="queued")
    assert [j.id for j in queued] == [full.job_id]


def test_claimed_jobs_are_not_superseded(svc: Services, tmp_path: Path) -> None:
    reg = connect(svc, tmp_path / "repo", {"a.md": "# A\n\na\n"})
    ws, src = reg.workspace_id, reg.connection_id
    first = svc.jobs.enqueue_sync(ws, src, mode="incremental", changes={"a.md": "upsert"})
    with svc.sessions.begin() as session:  # what the dispatcher does before starting the workflow
        assert jobs_repo.claim(session, first.job_id, workspace_limit=2) is not None
    second = svc.jobs.enqueue_sync(ws, src, mode="incremental", changes={"b.md": "upsert"})
    assert second.created
    assert job_row(svc, first.job_id).status == "queued"
    assert job_row(svc, second.job_id).input["changes"] == {"b.md": "upsert"}
    with svc.sessions.begin() as session:  # one claimed sync of the source blocks the next
        assert jobs_repo.claim(session, second.job_id, workspace_limit=2) is None


def test_a_claim_racing_a_supersede_neither_deadlocks_nor_claims_the_superseded_job(
    svc: Services, tmp_path: Path
) -> None:
    """The dispatcher claims a queued job while enqueue_sync, in its own transaction, supersedes that
    job and inserts the newer one: the claim must wait, then see the job cancelled and leave it."""
    reg = connect(svc, tmp_path / "repo", {"a.md": "# A\n\na\n"})
    older = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id, mode="incremental").job_id
    outcome: dict[str, Any] = {}

    def claim() -> None:
        try:
            with svc.sessions.begin() as session:
                job = jobs_repo.claim(session, older, workspace_limit=2)
                outcome["claimed"] = job.id if job else None
        except Exception as exc:  # reported below
            outcome["error"] = exc

    claimer = threading.Thread(target=claim)
    with svc.sessions.begin() as session:  # what enqueue_sync does, step by step
        [queued] = jobs_repo.queued_unclaimed(session, reg.connection_id)
        assert jobs_repo.supersede(session, queued, "job_newer")
        claimer.start()
        time.sleep(0.5)  # the claim now waits for this transaction's lock on the older job
        jobs_repo.create_job(
            session,
            workspace_id=reg.workspace_id,
            organization_id=reg.organization_id,
            source_id=reg.connection_id,
            name="newer",
            trigger="manual",
            job_id="job_newer",
        )
    claimer.join(TIMEOUT)
    assert outcome == {"claimed": None}
    job = job_row(svc, older)
    assert (job.status, job.engine_run_id) == ("cancelled", None)
    assert job_row(svc, "job_newer").status == "queued"


def test_sources_of_other_workspaces_are_not_found(svc: Services, tmp_path: Path) -> None:
    reg = connect(svc, tmp_path / "repo", {"a.md": "# A\n\na\n"})
    other = connect(svc, tmp_path / "elsewhere", {"b.md": "# B\n\nb\n"}, "other").workspace_id
    assert other != reg.workspace_id
    with pytest.raises(NotFound):
        svc.jobs.enqueue_sync(other, reg.connection_id)
    with pytest.raises(InvalidInput):
        svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id, mode="sometimes")
    queued = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id)
    with pytest.raises(NotFound):
        svc.jobs.cancel(other, queued.job_id)


# -- 7. admission limits -------------------------------------------------------------------------------


class RunningWatcher:
    """Polls job rows in a thread and records the largest number of the given jobs running at once."""

    def __init__(self, services: Services, job_ids: list[str]) -> None:
        self.services, self.job_ids = services, list(job_ids)
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.services.sessions() as session:
                statuses = session.scalars(select(Job.status).where(Job.id.in_(self.job_ids))).all()
            self.most = max(self.most, sum(1 for s in statuses if s == "running"))
            time.sleep(0.01)

    def __enter__(self) -> RunningWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)


def assert_one_after_another(first: Job, second: Job) -> None:
    assert first.started_at
    assert first.completed_at
    assert second.started_at
    assert second.completed_at
    earlier, later = sorted((first, second), key=lambda j: j.started_at)  # type: ignore[arg-type, return-value]
    assert earlier.completed_at <= later.started_at  # type: ignore[operator]


def assert_stays_unclaimed(engine: JobEngine, job_id: str) -> None:
    """The dispatcher ticks many times, with free slots, and still does not claim the job."""
    assert len(engine.running()) < engine.settings.worker_concurrency
    ticks = engine.ticks
    wait_until(lambda: engine.ticks >= ticks + 20, "20 more dispatcher ticks")
    job = job_row(engine.services, job_id)
    assert (job.status, job.engine_run_id, job.started_at) == ("queued", None, None)


def test_one_sync_per_source_at_a_time(
    make_services: ServicesFactory, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    embedder = GatedEmbedder(delay=0.02)
    svc = make_services(embedder=embedder, worker_concurrency=2, workspace_concurrency=2)
    reg = connect(svc, tmp_path / "repo", {f"d{i}.md": f"# D{i}\n\ntext {i}\n" for i in range(4)})
    embedder.hold_after(0)
    engine = start_worker(svc)
    first = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id)
    assert embedder.holding.wait(TIMEOUT)  # the first sync is running, d0 already read
    write(tmp_path / "repo", {"d0.md": "# D0\n\nchanged text\n"})
    second = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id)
    assert second.created  # a claimed sync is not superseded
    with RunningWatcher(svc, [first.job_id, second.job_id]) as watcher:
        assert_stays_unclaimed(engine, second.job_id)
        embedder.release()
        jobs = [svc.jobs.wait(reg.workspace_id, j.job_id, timeout=TIMEOUT) for j in (first, second)]
    assert [j.status for j in jobs] == ["completed", "completed"]
    assert watcher.most == 1
    assert_one_after_another(*jobs)
    assert jobs[1].output is not None
    assert jobs[1].output["documents_updated"] == 1


def test_workspace_limit_bounds_concurrent_syncs(
    make_services: ServicesFactory, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    embedder = GatedEmbedder(delay=0.02)
    svc = make_services(embedder=embedder, worker_concurrency=2, workspace_concurrency=1)
    regs = [
        connect(svc, tmp_path / name, {f"{name}{i}.md": f"# {name}\n\ntext {i}\n" for i in range(4)})
        for name in ("one", "two")
    ]
    assert regs[0].workspace_id == regs[1].workspace_id
    queued = [svc.jobs.enqueue_sync(r.workspace_id, r.connection_id).job_id for r in regs]
    embedder.hold_after(0)
    with RunningWatcher(svc, queued) as watcher:
        engine = start_worker(svc)
        assert embedder.holding.wait(TIMEOUT)  # the older job runs, held at its first document
        assert job_row(svc, queued[0]).status == "running"
        assert_stays_unclaimed(engine, queued[1])
        embedder.release()
        jobs = [svc.jobs.wait(regs[0].workspace_id, j, timeout=TIMEOUT) for j in queued]
    assert [j.status for j in jobs] == ["completed", "completed"]
    assert watcher.most == 1
    assert_one_after_another(*jobs)


def test_syncs_of_different_sources_run_together_under_the_limit(
    make_services: ServicesFactory, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    """The control for the two tests above: with room for two, a held sync does not block another."""
    embedder = GatedEmbedder()
    svc = make_services(embedder=embedder, worker_concurrency=2, workspace_concurrency=2)
    one = connect(svc, tmp_path / "one", {"a.md": "# A\n\nalpha\n"})
    two = connect(svc, tmp_path / "two", {"b.md": "# B\n\nbeta\n"})
    embedder.hold_after(0)
    held = svc.jobs.enqueue_sync(one.workspace_id, one.connection_id)
    start_worker(svc)
    assert embedder.holding.wait(TIMEOUT)
    other = run_job(svc, two)
    assert other.status == "completed"
    assert job_row(svc, held.job_id).status == "running"
    embedder.release()
    assert svc.jobs.wait(one.workspace_id, held.job_id, timeout=TIMEOUT).status == "completed"


# -- 8. idempotency ------------------------------------------------------------------------------------


def test_concurrent_enqueues_with_one_key_make_one_job(svc: Services, tmp_path: Path) -> None:
    reg = connect(svc, tmp_path / "repo", {"a.md": "# A\n\na\n"})
    barrier = threading.Barrier(8)
    results: list[str] = []
    errors: list[BaseException] = []

    def enqueue() -> None:
        try:
            barrier.wait(10)
            job = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id, idempotency_key="push-42")
            results.append(job.job_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=enqueue) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert errors == []
    assert len(results) == 8
    with svc.sessions() as session:
        keyed = session.scalars(select(Job).where(Job.idempotency_key == "push-42")).all()
        jobs = session.scalars(select(Job)).all()
    assert len(keyed) == 1
    assert set(results) == {keyed[0].id}
    assert keyed[0].status == "queued"
    assert [j.id for j in jobs] == [keyed[0].id]  # no stray job left behind

    again = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id, idempotency_key="push-42")
    assert (again.job_id, again.created) == (keyed[0].id, False)


# -- 9. schedules -------------------------------------------------------------------------------------


def test_scheduled_sync_enqueues_each_slot_once(svc: Services, tmp_path: Path) -> None:
    reg = connect(svc, tmp_path / "repo", {"a.md": "# A\n\na\n"})
    source = svc.sources.set_schedule(reg.workspace_id, reg.connection_id, every_seconds=60)
    since = datetime.fromisoformat(source.source_metadata["schedule"]["since"])
    assert source.source_metadata["schedule"]["every"] == 60

    assert enqueue_due(svc.sessions, svc.jobs, since + timedelta(seconds=30)) == 0
    assert enqueue_due(svc.sessions, svc.jobs, since + timedelta(seconds=61)) == 1
    jobs, _ = svc.jobs.list_jobs(reg.workspace_id)
    assert len(jobs) == 1
    assert (jobs[0].trigger, jobs[0].triggered_by, jobs[0].status) == ("scheduled", "scheduler", "queued")
    assert jobs[0].idempotency_key
    assert jobs[0].idempotency_key.startswith(f"schedule:{reg.connection_id}:")

    assert enqueue_due(svc.sessions, svc.jobs, since + timedelta(seconds=61)) == 0  # same slot
    assert enqueue_due(svc.sessions, svc.jobs, since + timedelta(seconds=119)) == 0  # still that slot
    assert len(svc.jobs.list_jobs(reg.workspace_id)[0]) == 1
    assert enqueue_due(svc.sessions, svc.jobs, since + timedelta(seconds=121)) == 1  # the next slot

    svc.sources.set_schedule(reg.workspace_id, reg.connection_id, off=True)
    assert enqueue_due(svc.sessions, svc.jobs, since + timedelta(seconds=3600)) == 0


SINCE = datetime(2024, 1, 1, 0, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "now", "expected"),
    [
        ({"every": 60}, SINCE, None),
        ({"every": 60}, SINCE + timedelta(seconds=59), None),
        ({"every": 60}, SINCE + timedelta(seconds=60), SINCE + timedelta(seconds=60)),
        ({"every": 60}, SINCE + timedelta(seconds=150), SINCE + timedelta(seconds=120)),
        ({"every": 3600}, SINCE + timedelta(hours=5, minutes=1), SINCE + timedelta(hours=5)),
        ({"cron": "*/5 * * * *"}, datetime(2024, 1, 1, 0, 4, tzinfo=UTC), None),
        (
            {"cron": "*/5 * * * *"},
            datetime(2024, 1, 1, 0, 7, 30, tzinfo=UTC),
            datetime(2024, 1, 1, 0, 5, tzinfo=UTC),
        ),
        (
            {"cron": "*/5 * * * *"},
            datetime(2024, 1, 1, 0, 10, tzinfo=UTC),
            datetime(2024, 1, 1, 0, 10, tzinfo=UTC),
        ),
        (
            {"cron": "0 3 * * *"},
            datetime(2024, 1, 3, 2, 0, tzinfo=UTC),
            datetime(2024, 1, 2, 3, 0, tzinfo=UTC),
        ),
        (
            {"cron": "*/5 * * * *"},
            datetime(2024, 1, 1, 2, 7, tzinfo=UTC).astimezone(timezone(timedelta(hours=2))),
            datetime(2024, 1, 1, 2, 5, tzinfo=UTC),
        ),
    ],
)
def test_latest_slot(schedule: dict[str, Any], now: datetime, expected: datetime | None) -> None:
    assert latest_slot({**schedule, "since": SINCE.isoformat()}, now) == expected


# -- 10. incremental sync ----------------------------------------------------------------------------


def test_incremental_sync_applies_only_the_changes(
    svc: Services, start_worker: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    files = {
        "README.md": "# Readme\n\nthe readme text\n",
        "docs/keep.md": versioned_doc("keep", 1),
        "docs/old.md": versioned_doc("old", 1),
    }
    reg = connect(svc, root, files)
    start_worker(svc)
    assert run_job(svc, reg).status == "completed"
    before = index_state(svc)
    old_id = before["docs/old.md"].id

    write(root, {"docs/new.md": versioned_doc("new", 1), "docs/keep.md": versioned_doc("keep", 2)})
    (root / "docs/old.md").unlink()
    embedder = svc.embedder
    assert isinstance(embedder, FakeEmbedder)
    embedded = embedder.texts_embedded
    job = run_job(svc, reg, mode="incremental", changes={"docs/new.md": "upsert", "docs/old.md": "remove"})
    assert job.status == "completed"
    assert job.input == {"mode": "incremental", "changes": {"docs/new.md": "upsert", "docs/old.md": "remove"}}
    assert job.output is not None
    assert (job.output["documents_added"], job.output["documents_deleted"]) == (1, 1)
    assert job.progress_processed == job.progress_total == 1

    after = index_state(svc)
    assert set(after) == {"README.md", "docs/keep.md", "docs/new.md"}
    # keep.md changed on disk but was not in the change set: an incremental sync leaves it alone
    assert after["README.md"] == before["README.md"]
    assert after["docs/keep.md"] == before["docs/keep.md"]
    assert after["docs/new.md"].content_hash == sha256(versioned_doc("new", 1))
    assert embedder.texts_embedded - embedded == len(after["docs/new.md"].chunks)
    with svc.sessions() as session:
        assert session.get(Document, old_id) is None
        assert session.scalars(select(VectorEntry.id).where(VectorEntry.document_id == old_id)).all() == []
    steps = [s.name for s in svc.jobs.steps(job.id)]
    assert steps == [PLAN, BATCH, DELETE, FINISH]


# -- 11. orphaned claims (release_orphans, driven by hand with a fake clock) ---------------------------


def claim_without_start(svc: Services, reg: RegisteredSource) -> Job:
    """What the dispatcher does before it starts a workflow, and no start: a crash in between."""
    queued = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id)
    with svc.sessions.begin() as session:
        assert jobs_repo.claim(session, queued.job_id, workspace_limit=2) is not None
    job = job_row(svc, queued.job_id)
    assert (job.status, job.engine_run_id) == ("queued", job.id)
    return job


def test_a_claim_whose_workflow_never_started_is_requeued_after_orphan_after(
    make_services: ServicesFactory, driven_engine: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    clock = FakeClock()
    svc = make_services(clock=clock)
    reg = connect(svc, tmp_path / "repo", {"a.md": "# A\n\nalpha\n"})
    engine = driven_engine(svc)
    job = claim_without_start(svc, reg)

    clock.advance_to(job.updated_at + ORPHAN_AFTER - timedelta(seconds=1))
    engine.release_orphans()
    assert job_row(svc, job.id).engine_run_id == job.id  # not yet: the claim may still be starting

    clock.advance(2)
    engine.release_orphans()
    released = job_row(svc, job.id)
    assert (released.status, released.engine_run_id) == ("queued", None)
    assert svc.jobs.client().list_workflows(workflow_ids=[job.id]) == []


def test_the_dispatcher_sweeps_for_orphans_on_its_clock_and_runs_them(
    make_services: ServicesFactory, driven_engine: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    clock = FakeClock()
    svc = make_services(clock=clock)
    reg = connect(svc, tmp_path / "repo", {"a.md": "# A\n\nalpha\n"})
    engine = driven_engine(svc)
    job = claim_without_start(svc, reg)

    clock.advance_to(job.updated_at + ORPHAN_AFTER - timedelta(seconds=1))
    engine.tick()  # the first pass sweeps: too early for this claim
    clock.advance(2)  # an orphan now, but the last sweep was only 2 s ago
    engine.tick()
    assert job_row(svc, job.id).engine_run_id == job.id
    assert engine.running() == {}

    clock.advance(SWEEP_EVERY)
    engine.tick()  # sweeps: releases the claim, then claims the job again and starts its workflow
    assert list(engine.running()) == [job.id]
    done = svc.jobs.wait(reg.workspace_id, job.id, timeout=TIMEOUT)
    assert (done.status, done.engine_run_id) == ("completed", job.id)


def test_a_job_run_inline_by_another_process_is_not_an_orphan(
    make_services: ServicesFactory, driven_engine: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    clock = FakeClock()
    embedder = GatedEmbedder()
    svc = make_services(embedder=embedder, clock=clock)
    root = tmp_path / "repo"
    reg = connect(svc, root, {"a.md": "# A\n\nalpha\n"})
    engine = driven_engine(svc)
    embedder.hold_after(0)
    results: list[Any] = []
    inline = threading.Thread(target=lambda: results.append(svc.ingest.ingest_path(root)))
    inline.start()
    try:
        assert embedder.holding.wait(TIMEOUT)  # the inline run is claimed and running, with no workflow
        [job] = svc.jobs.list_jobs(reg.workspace_id, status="running")[0]
        assert job.engine_run_id == f"inline:{job.id}"

        clock.advance(ORPHAN_AFTER + timedelta(hours=1))
        engine.release_orphans()
        row = job_row(svc, job.id)
        assert (row.status, row.engine_run_id) == ("running", f"inline:{job.id}")
    finally:
        embedder.release()
        inline.join(TIMEOUT)
    assert [r.status for r in results] == ["completed"]


def test_a_claimed_job_whose_workflow_runs_is_not_an_orphan(
    make_services: ServicesFactory, driven_engine: Callable[[Services], JobEngine], tmp_path: Path
) -> None:
    clock = FakeClock()
    embedder = GatedEmbedder()
    svc = make_services(embedder=embedder, clock=clock)
    reg = connect(svc, tmp_path / "repo", {"a.md": "# A\n\nalpha\n"})
    engine = driven_engine(svc)
    embedder.hold_after(0)
    queued = svc.jobs.enqueue_sync(reg.workspace_id, reg.connection_id)
    engine.tick()  # claims the job and starts its workflow
    assert list(engine.running()) == [queued.job_id]
    assert embedder.holding.wait(TIMEOUT)

    clock.advance(ORPHAN_AFTER + timedelta(hours=1))
    engine.release_orphans()
    row = job_row(svc, queued.job_id)
    assert (row.status, row.engine_run_id) == ("running", queued.job_id)

    embedder.release()
    done = svc.jobs.wait(reg.workspace_id, queued.job_id, timeout=TIMEOUT)
    assert done.status == "completed"
    assert [s.name for s in svc.jobs.steps(queued.job_id)] == [PLAN, BATCH, DELETE, FINISH]
