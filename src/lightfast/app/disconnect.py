"""The steps of a disconnect job: remove everything a connected source put into the index, a bounded
batch per transaction, then the source itself. Like the sync steps, each is idempotent: a step run again
after a crash deletes what is still there and nothing else.

A workspace's delete job (``Job.input["scope"] == WORKSPACE``, ``lightfast workspaces delete``) is a
disconnect of everything in the workspace: the same steps remove the documents of all its stores, then
the workspace itself with the rest of it (its sources, keys, events, and its jobs, this one included)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.orm import Session, sessionmaker

from lightfast.db import activities, tenancy
from lightfast.db import documents as docs_repo
from lightfast.db import jobs as jobs_repo
from lightfast.db import sources as sources_repo
from lightfast.db.statuses import JobStatus
from lightfast.db.tenancy import bump_generation

DISCONNECT = "disconnect"  # Job.input["kind"]
WORKSPACE = "workspace"  # Job.input["scope"] of a disconnect that deletes its whole workspace
BATCH_DOCUMENTS = 500


class DisconnectRunner:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def _source_id(self, session: Session, job_id: str) -> str | None:
        job = jobs_repo.get_job(session, job_id)
        return job.source_id or job.input.get("sourceId")

    def _workspace_id(self, session: Session, job_id: str) -> str | None:
        """The workspace a workspace's delete job removes; None for a source's disconnect."""
        job = jobs_repo.get_job(session, job_id)
        return job.workspace_id if job.input.get("scope") == WORKSPACE else None

    def start(self, job_id: str) -> int:
        """Mark the job running; the number of documents to remove is its progress total."""
        with self.sessions.begin() as session:
            jobs_repo.start_job(session, job_id)
            source_id = self._source_id(session, job_id)
            if workspace_id := self._workspace_id(session, job_id):
                total = tenancy.count_workspace_documents(session, workspace_id)
            else:
                total = sources_repo.count_connection_documents(session, source_id) if source_id else 0
            jobs_repo.set_progress(session, job_id, 0, total)
            return total

    def remove_batch(self, job_id: str, done_before: int) -> tuple[int, int]:
        """Delete up to one batch of the source's documents with their chunks and vectors, in one
        transaction. Returns (documents, chunks) deleted; (0, 0) when none are left."""
        with self.sessions.begin() as session:
            source_id = self._source_id(session, job_id)
            if workspace_id := self._workspace_id(session, job_id):
                batch = tenancy.workspace_documents(session, workspace_id, BATCH_DOCUMENTS)
            elif source_id is None:
                return 0, 0
            else:
                batch = sources_repo.connection_documents(session, source_id, BATCH_DOCUMENTS)
            if not batch:
                return 0, 0
            by_store: dict[str, list[str]] = defaultdict(list)
            for document_id, store_id in batch:
                by_store[store_id].append(document_id)
            documents = chunks = 0
            for store_id, ids in by_store.items():
                deleted, removed = docs_repo.delete_documents(session, ids)
                documents, chunks = documents + deleted, chunks + removed
                bump_generation(session, store_id)
            job = jobs_repo.get_job(session, job_id)
            jobs_repo.set_progress(session, job_id, done_before + documents, job.progress_total)
            return documents, chunks

    def finish(self, job_id: str, documents: int, chunks: int) -> JobStatus:
        """Delete the source row (anything a cancelled sync wrote meanwhile goes with it) and complete."""
        with self.sessions.begin() as session:
            if jobs_repo.find_job(session, job_id) is None:  # a workspace's delete job, run again: done
                return JobStatus.COMPLETED
            job = jobs_repo.get_job(session, job_id)
            if workspace_id := self._workspace_id(session, job_id):
                output = {"documents_deleted": documents, "chunks_deleted": chunks}
                jobs_repo.finish_job(session, job_id, status=JobStatus.COMPLETED, output=output)
                tenancy.delete_workspace(session, workspace_id)  # this job's row goes with it
                return JobStatus.COMPLETED
            source_id = self._source_id(session, job_id)
            source = sources_repo.find_source(session, source_id) if source_id else None
            if source is not None:
                leftovers = sources_repo.connection_documents(session, source.id)
                for store_id in {store for _, store in leftovers}:
                    bump_generation(session, store_id)
                deleted, removed = docs_repo.delete_documents(session, [doc for doc, _ in leftovers])
                documents, chunks = documents + deleted, chunks + removed
                # Keep the jobs of the source listed: they point at nothing once the row is gone.
                jobs_repo.detach_from_source(session, source.id)
                sources_repo.delete_source(session, source)
            # The sync summary's keys, so every job's output reads the same way.
            jobs_repo.finish_job(
                session,
                job_id,
                status=JobStatus.COMPLETED,
                output={"documents_deleted": documents, "chunks_deleted": chunks},
            )
            activities.record_activity(
                session,
                workspace_id=job.workspace_id,
                actor_type="system",
                actor_id=job_id,
                category="source",
                action="source.disconnected",
                entity_type="source",
                entity_id=source_id,
                details={"documents_deleted": documents, "chunks_deleted": chunks, **job.input},
            )
            return JobStatus.COMPLETED

    def fail(self, job_id: str, message: str) -> None:
        with self.sessions.begin() as session:
            jobs_repo.finish_job(session, job_id, status=JobStatus.FAILED, error_message=message)

    def run_inline(self, job_id: str) -> tuple[int, int]:
        """Every step in this thread, without the workflow engine (CLI without a worker, tests)."""
        try:
            self.start(job_id)
            documents = chunks = 0
            while True:
                deleted, removed = self.remove_batch(job_id, documents)
                if not deleted:
                    break
                documents, chunks = documents + deleted, chunks + removed
            self.finish(job_id, documents, chunks)
            return documents, chunks
        except Exception as exc:
            self.fail(job_id, str(exc) or type(exc).__name__)
            raise
