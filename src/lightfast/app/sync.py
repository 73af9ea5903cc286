"""The steps of a sync, as plain functions over a job id: plan, index a batch, delete what was removed,
finish (or fail). A durable workflow (``lightfast.app.workflows``) runs them as recorded steps; tests and
benchmarks can run them in a plain loop. Each step is idempotent: running it again after a crash writes
nothing twice, because documents have deterministic ids and unchanged content is skipped."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.pipeline import Pipeline, SyncSummary, SyncTarget, store_config_hash
from lightfast.db import documents as docs_repo
from lightfast.db import jobs as jobs_repo
from lightfast.db import metrics, tenancy
from lightfast.db import sources as sources_repo
from lightfast.db.models import ConnectedSource, Store
from lightfast.db.statuses import JobStatus
from lightfast.db.types import utcnow
from lightfast.embed.base import ModelSpec
from lightfast.errors import ConfigError, Conflict, NotFound
from lightfast.ingest.changes import split_changes
from lightfast.ingest.config import CONFIG_FILENAMES, path_matches
from lightfast.settings import Settings
from lightfast.sources.base import Source
from lightfast.sources.registry import SourceOpener


@dataclass(frozen=True)
class SyncPlan:
    """What one sync will do; a plain-data step output the workflow engine records."""

    store_id: str
    connection_id: str
    source_type: str
    upserts: list[str]  # paths to (re)index
    removals: list[str]  # document ids to delete
    revision: str | None = None  # the commit every batch reads, for versioned sources

    def to_dict(self) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "connection_id": self.connection_id,
            "source_type": self.source_type,
            "upserts": self.upserts,
            "removals": self.removals,
            "revision": self.revision,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyncPlan:
        return cls(
            data["store_id"],
            data["connection_id"],
            data["source_type"],
            list(data["upserts"]),
            list(data["removals"]),
            data.get("revision"),
        )


def chunk_settings(settings: Settings, spec: ModelSpec) -> tuple[int, int]:
    """The store's chunk size: the settings' override, else the model's measured default, never more
    than the model reads (its window less the two special tokens)."""
    tokens = min(settings.chunk_size or spec.default_chunk_tokens, spec.max_input_tokens - 2)
    overlap = spec.default_chunk_overlap if settings.chunk_overlap is None else settings.chunk_overlap
    return tokens, min(overlap, tokens // 2)


class SyncRunner:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        pipeline: Pipeline,
        opener: SourceOpener,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.pipeline = pipeline
        self.opener = opener

    @property
    def spec(self) -> ModelSpec:
        return self.pipeline.embedder.spec

    def plan(self, job_id: str) -> SyncPlan:
        try:
            try:
                return self._plan(job_id)
            except IntegrityError:
                # Concurrent first syncs of a workspace (on one worker or several) may each create its
                # store; one insert wins and the others roll back. Plan again: the store exists now.
                return self._plan(job_id)
        except ConfigError as exc:
            # The failed plan's transaction rolled back: record the source's config error on its own.
            with self.sessions.begin() as session:
                connection = self._connection(session, jobs_repo.get_job(session, job_id).source_id)
                connection.config_status, connection.config_message = "error", exc.message
            raise

    def _plan(self, job_id: str) -> SyncPlan:
        with self.sessions.begin() as session:
            jobs_repo.start_job(session, job_id)
            job = jobs_repo.get_job(session, job_id)
            connection = self._connection(session, job.source_id)
            if not connection.is_active:
                raise Conflict(f"source {connection.display_name} is inactive; it cannot be synced")
            source = self.opener.open(connection)
            # Pin the run to one commit: a retry, or a batch after a crash, reads the same version.
            revision = job.input.get("revision") or source.head()
            if revision and job.input.get("revision") != revision:
                job.input = {**job.input, "revision": revision}
            report = source.inspect_config(revision)
            sources_repo.record_config(session, connection, report, at=utcnow())
            config = report.require()  # ConfigError: recorded on the source by plan()
            chunk_tokens, overlap = chunk_settings(self.settings, self.spec)
            store = tenancy.ensure_store(
                session,
                job.workspace_id,
                config.store,
                provider=self.spec.provider,
                model=self.spec.name,
                dimension=self.spec.dimension,
                chunk_tokens=chunk_tokens,
                chunk_overlap=overlap,
            )
            sources_repo.link_store(session, store.id, connection.id)
            job.store_id = store.id
            existing = docs_repo.source_documents(session, store.id, connection.id)
            changes = self._changes(job.input, connection, source, revision)
            if changes is None:
                listed_paths = source.paths(config, revision)
                listed = {source.source_id(p) for p in listed_paths}
                removals = [doc for source_id, doc in existing.items() if source_id not in listed]
                removals += docs_repo.documents_outside(session, connection.id, store.id)
                upserts = self._skip_unchanged(session, store, connection.id, source, listed_paths, revision)
            else:
                changed, removed = split_changes(changes)
                upserts = [p for p in changed if path_matches(p, config)]
                gone = [*removed, *(p for p in changed if not path_matches(p, config))]
                removals = [existing[source.source_id(p)] for p in gone if source.source_id(p) in existing]
            jobs_repo.set_progress(session, job_id, 0, len(upserts))
            return SyncPlan(store.id, connection.id, connection.source_type, upserts, removals, revision)

    def _changes(
        self, job_input: dict[str, Any], connection: ConnectedSource, source: Source, revision: str | None
    ) -> dict[str, str] | None:
        """The change set of an incremental sync, or None for a full one: the pushed changes when the job
        carries them, else the difference between the last indexed commit and ``revision``."""
        if job_input.get("mode", "full") == "full":
            return None
        last = (connection.source_metadata or {}).get("lastCommit")
        pushed = job_input.get("changes")
        if pushed is not None and (job_input.get("base") in (None, last)):
            changes: dict[str, str] | None = dict(pushed)
        else:
            # No change set, or one that starts after the last indexed commit (an earlier push's job failed
            # or was cancelled): diff from what is indexed, so nothing in between is missed.
            if not last or not revision:
                return None  # nothing indexed yet, or not a versioned source
            changes = {} if last == revision else source.changes(last, revision)
        if changes is not None and any(path in CONFIG_FILENAMES for path in changes):
            return None  # new include/exclude globs may select other files: look at all of them
        return changes

    def _skip_unchanged(
        self,
        session: Session,
        store: Store,
        connection_id: str,
        source: Source,
        paths: list[str],
        revision: str | None,
    ) -> list[str]:
        """Drop paths whose stored document has the same blob sha and indexing config: a full sync of an
        unchanged repository then downloads nothing."""
        versions = source.versions(revision)
        if not versions:
            return paths
        stored = docs_repo.stored_versions(session, store.id, connection_id, store_config_hash(store))
        return [p for p in paths if not versions.get(p) or stored.get(source.source_id(p)) != versions[p]]

    def run_batch(
        self,
        job_id: str,
        plan: SyncPlan,
        paths: list[str],
        done_before: int,
        should_stop: Callable[[], bool] | None = None,
    ) -> SyncSummary:
        with self.sessions() as session:
            store = self._store(session, plan.store_id)
            source = self.opener.open(self._connection(session, plan.connection_id))
        target = SyncTarget(
            store=store, connection_id=plan.connection_id, source_type=plan.source_type, job_id=job_id
        )
        with self.sessions.begin() as session:
            # A retried run forked past the plan step starts here: mark it running and attach its store.
            jobs_repo.start_job(session, job_id, store_id=plan.store_id)
        summary = self.pipeline.process_batch(target, source.files(paths, plan.revision), should_stop)
        with self.sessions.begin() as session:
            jobs_repo.set_progress(
                session,
                job_id,
                done_before + len(paths),
                len(plan.upserts),
                chunks_added=summary.chunks_embedded + summary.chunks_reused,
            )
        return summary

    def delete_removed(self, job_id: str, plan: SyncPlan) -> SyncSummary:
        with self.sessions() as session:
            store = self._store(session, plan.store_id)
        target = SyncTarget(
            store=store, connection_id=plan.connection_id, source_type=plan.source_type, job_id=job_id
        )
        return self.pipeline.delete(target, plan.removals)

    def finish(self, job_id: str, summary: SyncSummary) -> JobStatus:
        status = summary.status
        with self.sessions.begin() as session:
            if jobs_repo.job_status(session, job_id) == JobStatus.CANCELLED:
                return JobStatus.CANCELLED  # a cancel acknowledged while the run ended stands
            job = jobs_repo.finish_job(session, job_id, status=status, output=summary.to_dict())
            workspace_id, source_id = job.workspace_id, job.source_id
            if source_id:
                sources_repo.record_sync(
                    session, source_id, at=utcnow(), ingested=True, commit=job.input.get("revision")
                )
            metrics.record_metric(
                session,
                workspace_id=workspace_id,
                type="job_duration",
                value=job.duration_ms or 0,
                unit="ms",
                source_id=source_id,
                tags={"job": job_id, "status": status},
            )
            metrics.record_metric(
                session,
                workspace_id=workspace_id,
                type="documents_indexed",
                value=summary.documents_added + summary.documents_updated,
                source_id=source_id,
                tags={"job": job_id},
            )
            if summary.documents_failed:
                metrics.record_metric(
                    session,
                    workspace_id=workspace_id,
                    type="errors",
                    value=summary.documents_failed,
                    source_id=source_id,
                    tags={"job": job_id, "stage": "document"},
                )
        return status

    def fail(self, job_id: str, message: str) -> None:
        with self.sessions.begin() as session:
            job = jobs_repo.finish_job(session, job_id, status=JobStatus.FAILED, error_message=message)
            metrics.record_metric(
                session,
                workspace_id=job.workspace_id,
                type="job_duration",
                value=job.duration_ms or 0,
                unit="ms",
                source_id=job.source_id,
                tags={"job": job_id, "status": JobStatus.FAILED},
            )
            metrics.record_metric(
                session,
                workspace_id=job.workspace_id,
                type="errors",
                value=1,
                source_id=job.source_id,
                tags={"job": job_id, "stage": "sync"},
            )

    def is_cancelled(self, job_id: str) -> bool:
        with self.sessions() as session:
            return jobs_repo.job_status(session, job_id) == JobStatus.CANCELLED

    def run_inline(
        self, job_id: str, on_progress: Callable[[int, int, int], None] | None = None
    ) -> SyncSummary:
        """Run every step in this thread, without the workflow engine (tests, benchmarks)."""
        try:
            plan = self.plan(job_id)
            total = SyncSummary()
            size = self.settings.ingest_batch_documents
            for start in range(0, len(plan.upserts), size):
                total.merge(self.run_batch(job_id, plan, plan.upserts[start : start + size], start))
                if on_progress:
                    done = min(start + size, len(plan.upserts))
                    on_progress(done, len(plan.upserts), total.chunks_embedded + total.chunks_reused)
            total.merge(self.delete_removed(job_id, plan))
            self.finish(job_id, total)
            return total
        except Exception as exc:
            self.fail(job_id, str(exc) or type(exc).__name__)
            raise

    def _connection(self, session: Session, source_id: str | None) -> ConnectedSource:
        connection = sources_repo.find_source(session, source_id) if source_id else None
        if connection is None:
            raise NotFound(f"source {source_id!r} does not exist")
        return connection

    def _store(self, session: Session, store_id: str) -> Store:
        store = tenancy.find_store(session, store_id)
        if store is None:
            raise NotFound(f"store {store_id!r} does not exist")
        return store
