"""Crash safety of durable jobs: SIGKILL a worker in the middle of a sync, start it again, and the same
job finishes with exactly the index a clean run builds.

The worker runs as a subprocess (``tests/crash_worker.py``: the real ``JobEngine`` with a fake embedder
slowed down per call, so a sync of a small repo takes a few seconds and can be killed at a chosen point).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from lightfast.app.container import Services, build_services
from lightfast.db.models import Document, Job, VectorEntry
from lightfast.settings import Settings
from tests.conftest import DATABASES, _pg_url, make_settings, write

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("crash_worker.py")
ROOT = Path(__file__).resolve().parents[1]
FILES = 30
BATCH = 2  # documents per step: 15 batch steps
EMBED_DELAY = 0.25  # seconds per embedding call, about one per batch step
WORKER_ID = "crash-test"


def make_repo(root: Path) -> Path:
    files: dict[str, str | bytes] = {}
    for i in range(FILES):
        paragraphs = [
            f"Paragraph {p} of note {i} covers topic{i % 7} and term{(i * p) % 11} in some detail."
            for p in range(1 + i % 5)
        ]
        # Every fourth note is long enough for several chunks of the fake model (200 tokens).
        if i % 4 == 0:
            paragraphs += [" ".join(f"word{i}x{w}" for w in range(90)) for _ in range(3)]
        body = "\n\n".join(paragraphs)
        files[f"docs/section{i % 3}/note{i:02d}.md"] = f"# Note {i}\n\n{body}\n"
    return write(root, files)


class Workers:
    """Worker subprocesses of one test; whatever is still alive is killed at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, settings: Settings) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "LIGHTFAST_HOME": str(settings.home_dir),
            "LIGHTFAST_DATABASE_URL": settings.resolved_database_url,
            "LIGHTFAST_EMBEDDING_PROVIDER": "fake",
            "LIGHTFAST_INGEST_BATCH_DOCUMENTS": str(BATCH),
            "LIGHTFAST_WORKER_ID": WORKER_ID,
            "LIGHTFAST_DISPATCH_INTERVAL": "0.05",
            "CRASH_EMBED_DELAY": str(EMBED_DELAY),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
        }
        log = (self.tmp_path / f"worker{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, str(WORKER)], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp_path
        )
        log.close()
        self.procs.append(proc)
        return proc

    def log(self, index: int) -> str:
        path = self.tmp_path / f"worker{index}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp_path)
    try:
        yield started
    finally:
        started.kill_all()


@pytest.fixture(params=DATABASES)
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty databases of one kind: one for the crashed run, one for the clean run."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crashed.db'}", f"sqlite:///{tmp_path / 'clean.db'}"
        return
    server = request.getfixturevalue("pg_server")
    crashed = str(request.getfixturevalue("pg_url"))
    name = f"clean_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    server.psql(f"CREATE DATABASE {name};")
    try:
        yield crashed, _pg_url(server, name)
    finally:
        server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")


def job_row(services: Services, job_id: str) -> Job:
    with services.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    proc: subprocess.Popen[bytes],
    what: str,
    log: Callable[[], str],
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"the worker exited ({proc.returncode}) while waiting for {what}:\n{log()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def index_state(services: Services) -> dict[str, Any]:
    """The index as content, free of ids that differ between databases (store and document ids)."""
    with services.sessions() as session:
        documents = Counter(
            (row.source_id, row.path, row.content_hash, row.chunk_count)
            for row in session.execute(
                select(Document.source_id, Document.path, Document.content_hash, Document.chunk_count)
            )
        )
        entries = Counter(
            (row.path, row.chunk_index, row.content_hash)
            for row in session.execute(
                select(Document.path, VectorEntry.chunk_index, VectorEntry.content_hash).join(
                    Document, Document.id == VectorEntry.document_id
                )
            )
        )
        vectors = session.scalar(select(func.count()).select_from(VectorEntry))
        distinct_ids = session.scalar(select(func.count(func.distinct(VectorEntry.id))))
        chunk_total = session.scalar(select(func.coalesce(func.sum(Document.chunk_count), 0)))
        if session.get_bind().dialect.name == "sqlite":
            # The lexical index is kept by triggers; a crash must not leave it out of step.
            session.execute(text("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')"))
    return {
        "documents": documents,
        "entries": entries,
        "vectors": vectors,
        "distinct_ids": distinct_ids,
        "chunk_total": chunk_total,
    }


# Kill points by progress_processed: right after the plan, mid-way, with the last batch in flight.
KILL_POINTS = [
    pytest.param(0, id="after-plan"),
    pytest.param(14, id="middle"),
    pytest.param(28, id="near-end"),
]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_killed_worker_resumes_the_same_job(
    tmp_path: Path, urls: tuple[str, str], workers: Workers, kill_at: int
) -> None:
    crashed_url, clean_url = urls
    repo = make_repo(tmp_path / "repo")
    settings = make_settings(tmp_path, crashed_url, ingest_batch_documents=BATCH, worker_id=WORKER_ID)
    svc = build_services(settings)
    try:
        registered = svc.ingest.register_local(repo)
        job_id = svc.jobs.enqueue_sync(registered.workspace_id, registered.connection_id).job_id

        first = workers.start(settings)

        def reached() -> bool:
            job = job_row(svc, job_id)
            assert job.status in ("queued", "running"), job.status
            return job.progress_total is not None and job.progress_processed >= kill_at

        wait_until(reached, timeout=60, proc=first, what=f"progress {kill_at}", log=lambda: workers.log(0))
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = datetime.now(UTC)

        at_kill = job_row(svc, job_id)
        assert at_kill.status == "running", "the worker must die with the job unfinished"
        assert at_kill.progress_total == FILES
        assert at_kill.progress_processed < FILES

        second = workers.start(settings)
        deadline = time.monotonic() + 90
        while (job := job_row(svc, job_id)).status in ("queued", "running"):
            if second.poll() is not None:
                pytest.fail(f"the restarted worker exited ({second.returncode}):\n{workers.log(1)}")
            if time.monotonic() > deadline:
                pytest.fail(f"job still {job.status} at {job.progress_processed}/{job.progress_total}")
            time.sleep(0.05)
        assert job.status == "completed", (job.status, job.error_message, workers.log(1))
        assert job.progress_processed == FILES
        output = job.output or {}
        assert output["documents_failed"] == 0
        assert (
            output["documents_added"] + output["documents_updated"] + output["documents_unchanged"] == FILES
        )

        # Resumed, not redone: one job, one plan, one step per batch, one finish.
        with svc.sessions() as session:
            assert list(session.scalars(select(Job.id))) == [job_id]
        # The finish step marks the job completed, and DBOS records the step once it has returned: wait
        # for that record rather than read the steps the moment the status changes.
        wait_until(
            lambda: any(step.name == "lightfast.finish" for step in svc.jobs.steps(job_id)),
            timeout=30,
            proc=second,
            what="the finish step's record",
            log=lambda: workers.log(1),
        )
        names = Counter(step.name for step in svc.jobs.steps(job_id))
        assert names == {
            "lightfast.plan": 1,
            "lightfast.index_batch": FILES // BATCH,
            "lightfast.delete_removed": 1,
            "lightfast.finish": 1,
        }
        # Batches written before the kill were kept, not written again by the restarted worker.
        with svc.sessions() as session:
            kept = session.scalar(
                select(func.count()).select_from(Document).where(Document.updated_at <= killed_at)
            )
        assert (kept or 0) >= at_kill.progress_processed

        crashed = index_state(svc)
    finally:
        svc.close()

    clean_settings = make_settings(tmp_path / "clean", clean_url, ingest_batch_documents=BATCH)
    clean = build_services(clean_settings)
    try:
        result = clean.ingest.ingest_path(repo)
        assert result.status == "completed"
        expected = index_state(clean)
    finally:
        clean.close()

    assert sum(expected["documents"].values()) == FILES
    assert expected["vectors"] > FILES  # some notes have several chunks
    assert crashed["documents"] == expected["documents"]
    assert crashed["entries"] == expected["entries"]
    assert crashed["vectors"] == expected["vectors"] == expected["chunk_total"] == crashed["chunk_total"]
    assert crashed["distinct_ids"] == crashed["vectors"]
