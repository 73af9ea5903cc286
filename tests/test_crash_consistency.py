"""Crash consistency of a sync, as a property checked exhaustively (issue 10, item 17): kill the run right
after each of its commits in turn, recover it the way DBOS does, and the job's counts, progress, failure
records, metrics and index equal those of a run that never crashed.

A kill is simulated in-process: the ``after_commit`` hook of the services' sessions raises ``Killed`` (a
``BaseException``, so nothing of the run handles it, as nothing runs after a SIGKILL) once the chosen
commit is durable. Recovery replays the workflow the way DBOS recovery does: every step whose output was
recorded returns that output without running; the first unrecorded one, the one the kill interrupted, runs
again from its start. ``tests/test_crash.py`` does the same with real SIGKILLs of a worker process at a
few points; this one covers every point, on SQLite and PostgreSQL, with the fake embedder.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from lightfast.app.container import Services
from lightfast.app.sync_steps import SyncSteps, run_sync
from lightfast.db.models import Document, DocumentFailure, Job, Metric, VectorEntry
from lightfast.settings import Settings
from tests.conftest import make_settings, write

BATCH = 3  # documents per batch step
TAGS = ("status", "stage")


class Killed(BaseException):
    """The process died: no handler of the run may see this."""


@dataclass(eq=False)
class KillSwitch:
    """Counts the commits of the sessions it watches while armed, and raises ``Killed`` right after the
    ``at``-th one (never when ``at`` is None)."""

    at: int | None = None
    commits: int = 0
    armed: bool = False

    def __call__(self, session: Session) -> None:
        if not self.armed:
            return
        self.commits += 1
        if self.commits == self.at:
            self.at = None
            raise Killed(f"killed after commit {self.commits}")


@contextmanager
def watching(services: Services, switch: KillSwitch) -> Iterator[None]:
    event.listen(services.sessions, "after_commit", switch)
    try:
        yield
    finally:
        event.remove(services.sessions, "after_commit", switch)


class Journal:
    """DBOS's record of a workflow's finished steps: outputs by call order, stored once the step returned
    (a serialised copy: a step never shares objects with the run that replays it)."""

    def __init__(self) -> None:
        self.outputs: dict[int, Any] = {}

    def steps(self, inner: SyncSteps) -> SyncSteps:
        return _Journaled(inner, self)


class _Journaled:
    def __init__(self, inner: SyncSteps, journal: Journal) -> None:
        self.inner, self.journal, self.calls = inner, journal, 0

    def _step(self, name: str, *args: Any) -> Any:
        self.calls += 1
        if self.calls in self.journal.outputs:
            return copy.deepcopy(self.journal.outputs[self.calls])
        output = getattr(self.inner, name)(*args)
        self.journal.outputs[self.calls] = json.loads(json.dumps(output))
        return output

    def plan(self) -> dict[str, Any]:
        return dict(self._step("plan"))

    def index_batch(self, plan: dict[str, Any], start: int) -> dict[str, Any]:
        return dict(self._step("index_batch", plan, start))

    def delete_removed(self, plan: dict[str, Any]) -> dict[str, Any]:
        return dict(self._step("delete_removed", plan))

    def finish(self, summary: dict[str, Any]) -> str:
        return str(self._step("finish", summary))

    def fail(self, message: str) -> None:
        self._step("fail", message)


def run_job(services: Services, job_id: str) -> int:
    """Run a sync job to its end, recovering after every kill; the number of kills."""
    journal = Journal()
    kills = 0
    while True:
        try:
            run_sync(journal.steps(services.runner.steps(job_id)))
            return kills
        except Killed:
            kills += 1


# -- the scenario ----------------------------------------------------------------------------------------


def note(i: int, version: int = 1) -> str:
    long = i % 3 == 0  # several chunks of the fake model (200 tokens)
    body = " ".join(f"word{i}v{version}x{w}" for w in range(260 if long else 12))
    return f"# Note {i} v{version}\n\n{body}\n"


V1: dict[str, str | bytes] = {
    **{f"docs/note{i:02d}.md": note(i) for i in range(9)},
    "docs/binary.md": b"PNG\x00\x01\x02",
    "docs/latin1.md": "caf\xe9".encode("latin-1"),
    "docs/" + "/".join(["d" * 100] * 11) + "/deep.md": "# Deep\n\ntoo long a path to store\n",
}
# The second sync: three notes edited, two deleted, two added, one more bad file, the rest unchanged.
V2_WRITE: dict[str, str | bytes] = {
    **{f"docs/note{i:02d}.md": note(i, 2) for i in (0, 4, 5)},
    **{f"docs/new{i}.md": note(20 + i) for i in range(2)},
    "docs/empty-binary.md": b"\x00",
}
V2_REMOVE = ("docs/note07.md", "docs/note08.md")


def scenario(services: Services, root: Path, switch: KillSwitch) -> tuple[list[str], int]:
    """Two syncs of one directory into a workspace of its own, under ``switch``; the job ids, the kills."""
    write(root, V1)
    registered = services.ingest.register_local(root, root.name)
    jobs, kills = [], 0
    for version in (1, 2):
        if version == 2:
            write(root, V2_WRITE)
            for path in V2_REMOVE:
                (root / path).unlink()
        job_id = services.jobs.enqueue_sync(registered.workspace_id, registered.connection_id).job_id
        switch.armed = True
        try:
            with watching(services, switch):
                kills += run_job(services, job_id)
        finally:
            switch.armed = False
        jobs.append(job_id)
    return jobs, kills


def outcome(services: Services, job_ids: list[str]) -> list[dict[str, Any]]:
    """Everything a user can see of each job, free of ids and timings."""
    seen = []
    with services.sessions() as session:
        for job_id in job_ids:
            job = session.get(Job, job_id)
            assert job is not None
            output = dict(job.output or {})
            output.pop("embedding_seconds", None)
            output["failures"] = sorted(  # source ids name the directory, which differs per run
                (f["path"], f["reason"], f["message"]) for f in output.get("failures", [])
            )
            failures = Counter(
                (row.path, row.reason, row.message)
                for row in session.scalars(select(DocumentFailure).where(DocumentFailure.job_id == job_id))
            )
            metrics = Counter(  # durations differ from run to run
                (row.type, None if row.type == "job_duration" else row.value, *map(row.tags.get, TAGS))
                for row in session.scalars(select(Metric))
                if row.tags.get("job") == job_id
            )
            seen.append(
                {
                    "status": job.status,
                    "error": job.error_message,
                    "progress": (job.progress_processed, job.progress_total),
                    "output": output,
                    "failure_rows": failures,
                    "metrics": metrics,
                }
            )
    return seen


def index(services: Services, workspace_root: Path) -> Counter[tuple[Any, ...]]:
    prefix = f"{workspace_root.resolve()}:"
    with services.sessions() as session:
        rows = session.execute(
            select(Document.path, Document.content_hash, VectorEntry.chunk_index, VectorEntry.content_hash)
            .join(VectorEntry, VectorEntry.document_id == Document.id)
            .where(Document.source_id.startswith(prefix))
        )
        return Counter(tuple(row) for row in rows)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, ingest_batch_documents=BATCH)


@pytest.fixture
def svc(services: Services) -> Services:
    return services


def test_a_sync_killed_after_any_commit_ends_as_a_clean_run(svc: Services, tmp_path: Path) -> None:
    counting = KillSwitch()
    clean_jobs, _ = scenario(svc, tmp_path / "clean", counting)
    expected = outcome(svc, clean_jobs)
    expected_index = index(svc, tmp_path / "clean")
    commits = counting.commits
    assert commits >= 12  # two plans, several batches, two deletes, two finishes
    assert expected[0]["output"]["documents_added"] == 9
    assert expected[0]["output"]["documents_failed"] == 3
    assert expected[1]["output"]["documents_updated"] == 3
    assert expected[1]["output"]["documents_deleted"] == 2

    for at in range(1, commits + 1):
        root = tmp_path / f"killed{at}"
        jobs, kills = scenario(svc, root, KillSwitch(at=at))
        assert kills == 1
        assert outcome(svc, jobs) == expected, f"killed after commit {at} of {commits}"
        assert index(svc, root) == expected_index, f"killed after commit {at} of {commits}"


def test_a_sync_killed_again_and_again_ends_as_a_clean_run(svc: Services, tmp_path: Path) -> None:
    """Every attempt dies one commit later than the one before (the first after its first commit), the
    way a worker killed repeatedly makes a little progress each time."""
    clean_jobs, _ = scenario(svc, tmp_path / "clean", KillSwitch())
    expected = outcome(svc, clean_jobs)

    class Escalating(KillSwitch):
        def __call__(self, session: Session) -> None:
            if not self.armed:
                return
            self.commits += 1
            if self.commits == self.at:
                self.at, self.commits = (self.at or 0) + 1, 0
                raise Killed

    switch = Escalating(at=1)
    jobs, kills = scenario(svc, tmp_path / "killed", switch)
    assert kills >= 5
    assert outcome(svc, jobs) == expected
    assert index(svc, tmp_path / "killed") == index(svc, tmp_path / "clean")
