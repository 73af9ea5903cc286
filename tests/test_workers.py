"""Several workers on one queue: two worker processes (each its own LIGHTFAST_HOME and worker id) share a
PostgreSQL database, every job runs exactly once, the job of a killed worker shows interrupted once its
lease has passed and the other worker takes it over and finishes it (once), and ``lightfast serve
--no-worker`` runs no jobs at all.

Workers are subprocesses: ``tests/crash_worker.py`` (the real ``JobEngine`` with a fake embedder slowed
per call, so work spreads over both workers and a job can be killed mid-way) and the real CLI.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from lightfast.app.container import Services, build_services
from lightfast.app.engine import WorkerLock
from lightfast.db.models import ConnectedSource, Document, Job, VectorEntry
from lightfast.db.statuses import ACTIVE
from lightfast.settings import Settings
from tests.conftest import make_settings, write

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

WORKER = Path(__file__).with_name("crash_worker.py")
ROOT = Path(__file__).resolve().parents[1]
BATCH = 2  # documents per batch step


def make_repo(root: Path, files: int, tag: int) -> Path:
    notes: dict[str, str | bytes] = {}
    for i in range(files):
        body = "\n\n".join(
            f"Paragraph {p} of note {i} in repo {tag} covers topic{(i + tag) % 7} and term{(i * p) % 11}."
            for p in range(1 + i % 4)
        )
        if i % 3 == 0:  # long enough for several chunks of the fake model
            body += "\n\n" + "\n\n".join(" ".join(f"w{tag}x{i}x{w}" for w in range(90)) for _ in range(3))
        notes[f"notes/n{i:02d}.md"] = f"# Note {i} of repo {tag}\n\n{body}\n"
    return write(root, notes)


class Procs:
    """The subprocesses of one test, each logging to its own file; all are ended at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        full_env = {
            **os.environ,
            "LIGHTFAST_EMBEDDING_PROVIDER": "fake",
            "LIGHTFAST_INGEST_BATCH_DOCUMENTS": str(BATCH),
            "LIGHTFAST_DISPATCH_INTERVAL": "0.05",
            "LIGHTFAST_WORKSPACE_CONCURRENCY": "8",
            "LIGHTFAST_WORKER_CONCURRENCY": "2",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
            **env,
        }
        self.stop(name)
        path = self.tmp_path / f"{name}.{len(self.logs)}.log"
        self.logs[name] = path
        with path.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, *args], env=full_env, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp_path
            )
        self.procs[name] = proc
        return proc

    def worker(
        self, worker_id: str, home: Path, database_url: str, delay: float = 0.2, lease: float | None = None
    ) -> subprocess.Popen[bytes]:
        """``tests/crash_worker.py`` with its own home and worker id (and ``LIGHTFAST_WORKER_LEASE``)."""
        env = {
            "LIGHTFAST_HOME": str(home),
            "LIGHTFAST_DATABASE_URL": database_url,
            "LIGHTFAST_WORKER_ID": worker_id,
            "CRASH_EMBED_DELAY": str(delay),
            **({"LIGHTFAST_WORKER_LEASE": str(lease)} if lease is not None else {}),
        }
        return self.start(worker_id, [str(WORKER)], env)

    def log(self, name: str) -> str:
        path = self.logs.get(name)
        return path.read_text(errors="replace")[-4000:] if path and path.exists() else ""

    def check_alive(self, name: str, what: str) -> None:
        proc = self.procs[name]
        if proc.poll() is not None:
            pytest.fail(f"{name} exited ({proc.returncode}) while waiting for {what}:\n{self.log(name)}")

    def wait_ready(self, name: str, pattern: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.log(name)):
            self.check_alive(name, f"/{pattern}/")
            if time.monotonic() > deadline:
                pytest.fail(f"{name} not ready after {timeout} s:\n{self.log(name)}")
            time.sleep(0.05)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    started = Procs(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
def svc_factory() -> Iterator[Callable[[Settings], Services]]:
    built: list[Services] = []

    def build(settings: Settings) -> Services:
        services = build_services(settings)
        built.append(services)
        return services

    yield build
    for services in built:
        services.close()


def job_row(svc: Services, job_id: str) -> Job:
    with svc.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def wait_for(
    predicate: Callable[[], bool], *, timeout: float, what: str, alive: Callable[[], None] = lambda: None
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        alive()
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def worker_ticks(home: Path) -> int:
    """The dispatcher ticks a ``crash_worker.py`` has completed (it publishes them in its home)."""
    try:
        return int((home / "ticks").read_text() or 0)
    except FileNotFoundError:
        return 0


def wait_finished(svc: Services, job_ids: list[str], *, timeout: float, alive: Callable[[], None]) -> None:
    def finished() -> bool:
        with svc.sessions() as session:
            statuses = dict(session.execute(select(Job.id, Job.status).where(Job.id.in_(job_ids))).all())
        return all(statuses.get(job_id) not in ACTIVE for job_id in job_ids)

    wait_for(finished, timeout=timeout, what=f"jobs {job_ids} to finish", alive=alive)


def per_source(svc: Services) -> dict[str, tuple[int, int, int]]:
    """Per source (its directory): documents, vector entries, and the documents' total chunk count."""
    with svc.sessions() as session:
        docs = dict(
            session.execute(
                select(ConnectedSource.external_key, func.count(Document.id))
                .join(Document, Document.connection_id == ConnectedSource.id)
                .group_by(ConnectedSource.external_key)
            ).all()
        )
        chunks = dict(
            session.execute(
                select(ConnectedSource.external_key, func.coalesce(func.sum(Document.chunk_count), 0))
                .join(Document, Document.connection_id == ConnectedSource.id)
                .group_by(ConnectedSource.external_key)
            ).all()
        )
        vectors = dict(
            session.execute(
                select(ConnectedSource.external_key, func.count(VectorEntry.seq))
                .join(Document, Document.connection_id == ConnectedSource.id)
                .join(VectorEntry, VectorEntry.document_id == Document.id)
                .group_by(ConnectedSource.external_key)
            ).all()
        )
    return {key: (docs[key], vectors.get(key, 0), int(chunks[key])) for key in docs}


def workflow_rows(svc: Services, job_ids: list[str]) -> dict[str, list[tuple[str, str | None]]]:
    """The DBOS system table's rows of the given workflows: (status, executor_id) per workflow id."""
    rows: dict[str, list[tuple[str, str | None]]] = {job_id: [] for job_id in job_ids}
    with svc.sessions() as session:
        for workflow_id, status, executor in session.execute(
            text("SELECT workflow_uuid, status, executor_id FROM dbos.workflow_status")
        ):
            if workflow_id in rows:
                rows[workflow_id].append((status, executor))
    return rows


def expected_steps(files: int) -> Counter[str]:
    return Counter(
        {
            "lightfast.plan": 1,
            "lightfast.index_batch": -(-files // BATCH),
            "lightfast.delete_removed": 1,
            "lightfast.finish": 1,
        }
    )


# -- 1. two workers share the queue ------------------------------------------------------------------

SOURCES = 6
FILES = 6


def test_two_workers_share_the_postgres_queue(
    tmp_path: Path, pg_url: str, procs: Procs, svc_factory: Callable[[Settings], Services]
) -> None:
    repos = [make_repo(tmp_path / f"repo{i}", FILES, i) for i in range(SOURCES)]
    settings = make_settings(tmp_path / "main", pg_url, ingest_batch_documents=BATCH, workspace_concurrency=8)
    svc = svc_factory(settings)  # migrated before the workers start

    for worker_id in ("w1", "w2"):
        procs.worker(worker_id, tmp_path / f"home-{worker_id}", pg_url)
    for worker_id in ("w1", "w2"):
        procs.wait_ready(worker_id, rf"worker {worker_id} pid \d+ running")

    job_ids: dict[str, str] = {}
    workspaces: set[str] = set()
    for repo in repos:
        registered = svc.ingest.register_local(repo)
        workspaces.add(registered.workspace_id)
        job_ids[str(repo.resolve())] = svc.jobs.enqueue_sync(
            registered.workspace_id, registered.connection_id
        ).job_id
    ids = list(job_ids.values())
    assert len(workspaces) == 1

    def alive() -> None:
        procs.check_alive("w1", "the jobs")
        procs.check_alive("w2", "the jobs")

    wait_finished(svc, ids, timeout=60, alive=alive)
    for job_id in ids:
        job = job_row(svc, job_id)
        assert job.status == "completed", (job_id, job.status, job.error_message, procs.log("w2"))
        assert job.engine_run_id == job_id
        assert job.progress_processed == FILES

    # Every job's workflow exists once, succeeded, and ran on one of the two executors.
    listed = svc.jobs.client().list_workflows(workflow_ids=ids, load_input=False, load_output=False)
    workflows = {workflow.workflow_id: workflow for workflow in listed}
    assert sorted(workflows) == sorted(ids)
    executors: Counter[str | None] = Counter()
    for job_id in ids:
        status = workflows[job_id]
        assert status.status == "SUCCESS", (job_id, status.status)
        assert status.executor_id in ("w1", "w2"), status.executor_id
        executors[status.executor_id] += 1
    assert set(executors) == {"w1", "w2"}, f"one worker ran every job: {executors}"
    rows = workflow_rows(svc, ids)
    for job_id in ids:
        assert rows[job_id] == [("SUCCESS", workflows[job_id].executor_id)], (job_id, rows[job_id])

    # Ran once: each step of each job's workflow recorded exactly once.
    for job_id in ids:
        names = Counter(step.name for step in svc.jobs.steps(job_id))
        assert names == expected_steps(FILES), (job_id, names)
    with svc.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == SOURCES

    shared = per_source(svc)

    clean = svc_factory(
        make_settings(tmp_path / "clean", f"sqlite:///{tmp_path / 'clean.db'}", ingest_batch_documents=BATCH)
    )
    for repo in repos:
        assert clean.ingest.ingest_path(repo).status == "completed"
    expected = per_source(clean)

    assert sorted(expected) == sorted(job_ids)
    for documents, vectors, chunk_total in expected.values():
        assert documents == FILES
        assert vectors == chunk_total > FILES  # some notes have several chunks
    assert shared == expected


# -- 2. killing one of two workers -------------------------------------------------------------------

LONG_FILES = 16
KILLED_DELAY = 0.4  # per embedding call of the worker that is killed: its job takes a few seconds
LEASE = 3.0  # LIGHTFAST_WORKER_LEASE of both workers: heartbeats every 0.5 s, sweeps every second


def test_a_killed_workers_job_is_interrupted_then_taken_over_by_another_worker(
    tmp_path: Path, pg_url: str, procs: Procs, svc_factory: Callable[[Settings], Services]
) -> None:
    long_repo = make_repo(tmp_path / "long", LONG_FILES, 100)
    short_repo = make_repo(tmp_path / "short", 3, 200)
    settings = make_settings(
        tmp_path / "main", pg_url, ingest_batch_documents=BATCH, workspace_concurrency=8, worker_lease=LEASE
    )
    svc = svc_factory(settings)
    home1, home2 = tmp_path / "home-w1", tmp_path / "home-w2"

    # w1 alone claims the long job; w2 starts only once the job is w1's.
    procs.worker("w1", home1, pg_url, delay=KILLED_DELAY, lease=LEASE)
    procs.wait_ready("w1", r"worker w1 pid \d+ running")
    registered = svc.ingest.register_local(long_repo)
    job_id = svc.jobs.enqueue_sync(registered.workspace_id, registered.connection_id).job_id
    wait_for(
        lambda: job_row(svc, job_id).engine_run_id is not None,
        timeout=30,
        what="w1 to claim the job",
        alive=lambda: procs.check_alive("w1", "the claim"),
    )
    procs.worker("w2", home2, pg_url, lease=LEASE)
    procs.wait_ready("w2", r"worker w2 pid \d+ running")

    def some_progress() -> bool:
        job = job_row(svc, job_id)
        assert job.status in ("queued", "running"), (job.status, job.error_message)
        return job.progress_total is not None and job.progress_processed >= BATCH

    wait_for(some_progress, timeout=30, what="progress", alive=lambda: procs.check_alive("w1", "progress"))
    assert svc.jobs.client().retrieve_workflow(job_id).get_status().executor_id == "w1"
    assert job_row(svc, job_id).worker_id == "w1"
    procs.kill("w1")
    at_kill = job_row(svc, job_id)
    assert at_kill.status == "running", "w1 must die with the job unfinished"
    assert at_kill.progress_processed < LONG_FILES

    # Within the lease w1 might come back: w2 keeps working (it runs a new job) but leaves w1's alone.
    other = svc.ingest.register_local(short_repo)
    other_id = svc.jobs.enqueue_sync(other.workspace_id, other.connection_id).job_id
    wait_finished(svc, [other_id], timeout=30, alive=lambda: procs.check_alive("w2", "the other job"))
    assert job_row(svc, other_id).status == "completed"
    assert svc.jobs.client().retrieve_workflow(other_id).get_status().executor_id == "w2"
    lease_end = at_kill.lease_expires_at
    assert lease_end is not None

    # Then the job shows interrupted (by the lease alone, or as w2's sweep wrote it) ...
    shown: list[str] = []

    def interrupted() -> bool:
        shown.append(svc.jobs.get_job(registered.workspace_id, job_id).status)
        return shown[-1] == "interrupted"

    wait_for(interrupted, timeout=30, what="the job to show interrupted", alive=lambda: None)
    assert set(shown) <= {"running", "interrupted"}, shown

    # ... and w2, another worker id, takes it over and finishes it, once.
    wait_finished(svc, [job_id], timeout=60, alive=lambda: procs.check_alive("w2", "the taken-over job"))
    job = job_row(svc, job_id)
    assert job.status == "completed", (job.status, job.error_message, procs.log("w2"))
    assert job.progress_processed == LONG_FILES
    assert job.worker_id == "w2"
    status = svc.jobs.client().retrieve_workflow(job_id).get_status()
    assert (status.status, status.executor_id) == ("SUCCESS", "w2")
    assert workflow_rows(svc, [job_id])[job_id] == [("SUCCESS", "w2")]
    names = Counter(step.name for step in svc.jobs.steps(job_id))
    assert names == expected_steps(LONG_FILES), names
    assert "taking it over" in procs.log("w2")
    with svc.sessions() as session:
        assert sorted(session.scalars(select(Job.id))) == sorted([job_id, other_id])
    counts = per_source(svc)[str(long_repo.resolve())]
    assert counts[0] == LONG_FILES
    assert counts[1] == counts[2]

    # w1 back, same home and worker id: nothing of its own is left to resume, nothing runs twice.
    procs.worker("w1", home1, pg_url, lease=LEASE)
    procs.wait_ready("w1", r"worker w1 pid \d+ running")
    ticks = worker_ticks(home1)
    wait_for(
        lambda: worker_ticks(home1) >= ticks + 20,
        timeout=30,
        what="20 dispatcher ticks of the restarted w1",
        alive=lambda: procs.check_alive("w1", "its ticks"),
    )
    assert workflow_rows(svc, [job_id])[job_id] == [("SUCCESS", "w2")]
    assert Counter(step.name for step in svc.jobs.steps(job_id)) == expected_steps(LONG_FILES)


# -- 3. serve --no-worker --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_serve_without_worker_runs_no_jobs(
    tmp_path: Path, procs: Procs, svc_factory: Callable[[Settings], Services]
) -> None:
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'lightfast.db'}"
    home.mkdir()
    settings = make_settings(tmp_path, url, home=home, ingest_batch_documents=BATCH)
    svc = svc_factory(settings)
    env = {"LIGHTFAST_HOME": str(home), "LIGHTFAST_DATABASE_URL": url, "LIGHTFAST_WORKER_ID": "cli"}

    port = free_port()
    procs.start("serve", ["-m", "lightfast.cli", "serve", "--no-worker", "--port", str(port)], env)
    wait_for(
        lambda: healthy(port), timeout=60, what="the server", alive=lambda: procs.check_alive("serve", "it")
    )

    repo = make_repo(tmp_path / "repo", 4, 300)
    registered = svc.ingest.register_local(repo)
    job_id = svc.jobs.enqueue_sync(registered.workspace_id, registered.connection_id).job_id
    # A worker takes its home's worker lock before it dispatches (and before the server answers): the
    # lock is free, so the server runs none.
    lock = WorkerLock(home)
    assert lock.acquire(), f"the server holds a worker:\n{procs.log('serve')}"
    lock.release()
    procs.check_alive("serve", "the lock check")
    job = job_row(svc, job_id)
    assert (job.status, job.engine_run_id) == ("queued", None), procs.log("serve")

    procs.start("worker", ["-m", "lightfast.cli", "worker"], {**env, "LIGHTFAST_WORKER_ID": "worker"})

    def alive() -> None:
        procs.check_alive("worker", "the job")
        procs.check_alive("serve", "the job")

    wait_finished(svc, [job_id], timeout=60, alive=alive)
    job = job_row(svc, job_id)
    assert job.status == "completed", (job.status, job.error_message, procs.log("worker"))
    assert job.engine_run_id == job_id
    # and the worker process, not the server, ran it
    assert svc.jobs.client().retrieve_workflow(job_id).get_status().executor_id == "worker"
    assert healthy(port)
