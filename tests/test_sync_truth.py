"""A sync tells the truth, on SQLite and PostgreSQL: a document the database cannot hold is a failure of
its own and the run goes on (issue 10, item 6); nothing the listing skips vanishes without a record
(item 7); progress counts what was written (item 18). No SQL text ever reaches a job's error message or a
failure record."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from lightfast.app import pipeline as pipeline_module
from lightfast.app.container import Services
from lightfast.db import documents as docs_repo
from lightfast.db.models import Document, DocumentFailure, Job
from lightfast.errors import LightfastError
from lightfast.sources.base import Unlisted
from lightfast.sources.local import LocalSource
from tests.conftest import write

# Words of a database error message; none may reach a user.
SQL_WORDS = ("INSERT", "SELECT", "UPDATE", "psycopg", "sqlalchemy", "sqlite3", "[SQL", "no_such_table")
LONG_PATH = "/".join(["d" * 100] * 11) + "/" + "n" * 24 + ".md"  # 1,138 characters, as in the report


def failures(services: Services, job_id: str) -> dict[str, tuple[str, str]]:
    with services.sessions() as session:
        rows = session.scalars(select(DocumentFailure).where(DocumentFailure.job_id == job_id)).all()
        return {row.path: (row.reason, row.message) for row in rows}


def stored_paths(services: Services) -> set[str]:
    with services.sessions() as session:
        return set(session.scalars(select(Document.path)))


def job_row(services: Services, job_id: str) -> Job:
    with services.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def assert_no_sql(*messages: str | None) -> None:
    for message in messages:
        assert message is None or not any(word in message for word in SQL_WORDS), message


# -- item 6: a document the database cannot hold ---------------------------------------------------------


def test_a_path_too_long_to_store_fails_that_document_only(services: Services, tmp_path: Path) -> None:
    assert len(LONG_PATH) == 1138
    repo = write(tmp_path / "repo", {"good.md": "# Good\n\nfine text\n", LONG_PATH: "# Deep\n\nfar down\n"})
    result = services.ingest.ingest_path(repo)
    job = job_row(services, result.job_id)
    assert job.status == "completed_with_errors", job.error_message
    assert job.error_message is None
    assert stored_paths(services) == {"good.md"}
    assert result.summary.documents_added == 1
    assert result.summary.documents_failed == 1
    [(path, (reason, message))] = failures(services, result.job_id).items()
    assert reason == "path_too_long"
    assert "1,138" in message or "1138" in message
    assert path.endswith(".md")  # shortened to fit in the middle: its end (the file name) is kept
    assert len(path) <= 1024
    assert_no_sql(message)


def test_a_database_error_fails_one_document_and_the_batch_goes_on(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document whose rows the database refuses (here: a foreign key that points nowhere, written after
    the document's own rows) is rolled back alone; the others of its batch are written."""
    repo = write(tmp_path / "repo", {f"doc{i}.md": f"# Doc {i}\n\ntext {i}\n" for i in range(4)})
    write_document = docs_repo.write_document

    def refusing(session: Session, doc: docs_repo.DocumentWrite, entries: Any) -> None:
        write_document(session, doc, entries)
        if doc.path == "doc1.md":
            session.execute(
                text(
                    "INSERT INTO document_failures (id, store_id, source_type, source_id, path, reason, "
                    "message, created_at) VALUES ('f', 'no-such-store', 'local', 's', 'p', 'r', 'm', "
                    "CURRENT_TIMESTAMP)"
                )
            )

    monkeypatch.setattr(docs_repo, "write_document", refusing)
    result = services.ingest.ingest_path(repo)
    job = job_row(services, result.job_id)
    assert job.status == "completed_with_errors", job.error_message
    assert stored_paths(services) == {"doc0.md", "doc2.md", "doc3.md"}
    recorded = failures(services, result.job_id)
    assert set(recorded) == {"doc1.md"}
    reason, message = recorded["doc1.md"]
    assert reason == "database_error"
    assert_no_sql(message, job.error_message)
    assert result.summary.documents_added == 3
    assert result.summary.documents_failed == 1


def test_a_database_error_of_the_whole_batch_shows_no_sql(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = write(tmp_path / "repo", {"a.md": "# A\n\nalpha\n"})

    def broken(session: Session, store_id: str) -> None:
        session.execute(text("SELECT nothing FROM no_such_table"))

    monkeypatch.setattr(pipeline_module, "bump_generation", broken)
    with pytest.raises(LightfastError) as raised:
        services.ingest.ingest_path(repo)
    with services.sessions() as session:
        job = session.scalars(select(Job)).one()
    assert job.status == "failed"
    assert job.error_message
    assert_no_sql(job.error_message, str(raised.value))


# -- item 7: nothing skipped vanishes --------------------------------------------------------------------


def make_deep(root: Path, depth: int, name: str) -> str:
    """A file ``depth`` directories below ``root`` whose absolute path is longer than the system's path
    limit (PATH_MAX); made through directory descriptors, which have no such limit. Its relative path."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    parts = []
    try:
        for level in range(depth):
            part = f"dir{level:05d}"
            os.mkdir(part, dir_fd=fd)
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
            parts.append(part)
        handle = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(handle, b"# Deep\n\nfar down\n")
        os.close(handle)
    finally:
        os.close(fd)
    return "/".join([*parts, name])


def test_a_file_past_the_system_path_limit_is_recorded_not_lost(services: Services, tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {"good.md": "# Good\n\nfine text\n"})
    deep = make_deep(repo, 800, "deep.md")
    assert len(str(repo / deep)) > 4096
    result = services.ingest.ingest_path(repo)
    job = job_row(services, result.job_id)
    assert job.status == "completed_with_errors", job.error_message
    assert stored_paths(services) == {"good.md"}
    recorded = failures(services, result.job_id)
    assert len(recorded) == 1, recorded
    [(path, (reason, message))] = recorded.items()
    assert reason == "path_too_long"
    assert path.startswith("dir00000/dir00001/")
    assert message
    assert result.summary.documents_failed == 1
    assert [f.reason for f in result.summary.failures] == ["path_too_long"]


# -- item 18: progress counts what was written -----------------------------------------------------------


def test_a_batch_stopped_by_a_cancel_does_not_count_as_progress(services: Services, tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {f"doc{i}.md": f"# Doc {i}\n\ntext {i}\n" for i in range(8)})
    registered = services.ingest.register_local(repo)
    job_id = services.jobs.enqueue_sync(registered.workspace_id, registered.connection_id).job_id
    runner = services.runner
    plan = runner.plan(job_id)
    size = services.settings.ingest_batch_documents
    assert (len(plan.upserts), size) == (8, 4)
    runner.run_batch(job_id, plan, plan.upserts[:size], 0)
    services.jobs.cancel(registered.workspace_id, job_id)  # unclaimed: only the row changes
    # The next batch sees the cancel while it embeds, and writes nothing.
    runner.run_batch(job_id, plan, plan.upserts[size:], size, should_stop=lambda: runner.is_cancelled(job_id))
    job = job_row(services, job_id)
    assert job.status == "cancelled"
    with services.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(Document)) or 0
    assert stored == size
    assert (job.progress_processed, job.progress_total) == (stored, 8)


def test_documents_under_a_directory_the_listing_cannot_enter_are_kept(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory that cannot be listed this time (permissions changed, say) is not proof that its files
    are gone: its documents stay, and the directory is recorded."""
    repo = write(tmp_path / "repo", {"good.md": "# Good\n\nfine\n", "team/notes.md": "# Notes\n\nkept\n"})
    services.ingest.ingest_path(repo)
    assert stored_paths(services) == {"good.md", "team/notes.md"}

    real_paths = LocalSource.paths

    def paths_without_team(self: LocalSource, config: Any, revision: str | None = None) -> list[str]:
        return [p for p in real_paths(self, config, revision) if not p.startswith("team/")]

    def team_unreadable(self: LocalSource, revision: str | None = None) -> list[Unlisted]:
        return [Unlisted("team", "unreadable", "the directory cannot be listed: Permission denied")]

    monkeypatch.setattr(LocalSource, "paths", paths_without_team)
    monkeypatch.setattr(LocalSource, "unlisted", team_unreadable)
    result = services.ingest.ingest_path(repo)
    assert result.status == "completed_with_errors"
    assert result.summary.documents_deleted == 0
    assert stored_paths(services) == {"good.md", "team/notes.md"}
    assert failures(services, result.job_id) == {
        "team": ("unreadable", "the directory cannot be listed: Permission denied")
    }
