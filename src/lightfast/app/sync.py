"""The steps of a sync, as plain functions over a job id: plan, index a batch, delete what was removed,
finish (or fail). ``lightfast.app.sync_steps.run_sync`` runs them: the durable workflow
(``lightfast.app.workflows``) hands it steps the workflow engine records, ``SyncRunner.run_inline`` steps
that run in this thread.

Every step may run again after a crash, and its second run changes nothing a user sees:

* the plan writes only what it would write again (the store, the source's config, its listing failures);
* a batch (and the deletion step) stores its result in the transaction of its writes, with the job's
  progress; run again once that committed, it returns the stored result instead of counting its own
  documents as unchanged;
* failure records are one per job and path (written again, they are updated, not added);
* finish and fail do nothing to a job that already ended (no second set of metrics).

The store a sync writes to, and its settings: ``lightfast.app.store_settings``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.pipeline import Failure, Pipeline, SyncSummary, SyncTarget, store_config_hash
from lightfast.app.store_settings import chunk_settings as chunk_settings  # for lightfast.app.workspaces
from lightfast.app.store_settings import store_for
from lightfast.app.sync_steps import RunnerSteps, SyncPlan
from lightfast.app.sync_steps import SyncSteps as SyncSteps  # re-exported: the workflow body's names
from lightfast.app.sync_steps import run_sync as run_sync
from lightfast.db import documents as docs_repo
from lightfast.db import jobs as jobs_repo
from lightfast.db import metrics, tenancy
from lightfast.db import sources as sources_repo
from lightfast.db.models import ConnectedSource, Store
from lightfast.db.statuses import TERMINAL, JobStatus
from lightfast.db.types import utcnow
from lightfast.embed.base import ModelSpec
from lightfast.embed.registry import EmbeddingChoice
from lightfast.errors import ConfigError, Conflict, NotFound
from lightfast.ingest.changes import split_changes
from lightfast.ingest.config import CONFIG_FILENAMES, SourceConfig, path_matches
from lightfast.settings import Settings
from lightfast.sources.base import Source, Unlisted
from lightfast.sources.registry import SourceOpener

DELETE_STEP = "delete"


def batch_step(start: int) -> str:
    return f"batch:{start}"


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

    def job_spec(self, job_input: dict[str, Any], config: SourceConfig) -> ModelSpec:
        """The model a sync asks for: lightfast.yml's ``embedding``, else the job's request (the queuing
        process's explicit LIGHTFAST_EMBEDDING_*), else the process default. Built by the pool, so any
        provider this process can serve will do; SettingsError names the one it cannot."""
        pool = self.pipeline.embedders
        request = job_input.get("storeSettings") or {}
        asked = config.embedding
        choice = EmbeddingChoice(asked.provider, asked.model, asked.dimensions) if asked else None
        if choice is None and request.get("embeddingModel"):
            choice = EmbeddingChoice(str(request.get("embeddingProvider")), str(request["embeddingModel"]))
        if pool is None or choice is None:
            return self.spec
        return pool.get(choice).spec

    def steps(self, job_id: str, on_batch: Callable[[int, int, int], None] | None = None) -> RunnerSteps:
        return RunnerSteps(self, job_id, on_batch)

    # -- plan -------------------------------------------------------------------------------------

    def plan(self, job_id: str) -> SyncPlan:
        self._prepare(job_id)
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

    def _prepare(self, job_id: str) -> None:
        """A full sync of a source that lists upstream into the database first (a Linear or Notion backfill,
        ``prepare()``) runs that listing here, in transactions of its own: inside the plan's transaction its
        writes would wait for that transaction's locks."""
        with self.sessions.begin() as session:
            job = jobs_repo.get_job(session, job_id)
            if job.status in TERMINAL or job.input.get("mode", "full") != "full":
                return
            connection = self._connection(session, job.source_id)
            if not connection.is_active:
                return  # the plan says why
            jobs_repo.start_job(session, job_id)
        prepare = getattr(self.opener.open(connection), "prepare", None)
        if callable(prepare):
            prepare(lambda: self.is_cancelled(job_id))

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
            store, warnings = store_for(session, job, config, self.job_spec(job.input, config))
            sources_repo.link_store(session, store.id, connection.id)
            job.store_id = store.id
            existing = docs_repo.source_documents(session, store.id, connection.id)
            changes = self._changes(job.input, connection, source, revision)
            unlisted: list[Unlisted] = []
            if changes is None:
                listed_paths = source.paths(config, revision)
                unlisted = source.unlisted(revision)
                listed = {source.source_id(p) for p in listed_paths}
                # What lies under a place the listing could not enter is not known to be gone: kept.
                hidden = tuple(source.source_id(u.path.rstrip("/") + "/") for u in unlisted)
                removals = [
                    doc
                    for source_id, doc in existing.items()
                    if source_id not in listed and not source_id.startswith(hidden)
                ]
                removals += docs_repo.documents_outside(session, connection.id, store.id)
                upserts = self._skip_unchanged(session, store, connection.id, source, listed_paths, revision)
            else:
                changed, removed = split_changes(changes)
                upserts = [p for p in changed if path_matches(p, config)]
                gone = [*removed, *(p for p in changed if not path_matches(p, config))]
                removals = [existing[source.source_id(p)] for p in gone if source.source_id(p) in existing]
            failures = [Failure(source.source_id(u.path), u.path, u.reason, u.message) for u in unlisted]
            for failure in failures:
                docs_repo.record_failure(
                    session,
                    store_id=store.id,
                    job_id=job_id,
                    source_type=connection.source_type,
                    source_id=failure.source_id,
                    path=failure.path,
                    reason=failure.reason,
                    message=failure.message,
                )
            jobs_repo.set_progress(session, job_id, 0, len(upserts))
            return SyncPlan(
                store.id,
                connection.id,
                connection.source_type,
                upserts,
                removals,
                revision,
                failures,
                warnings,
            )

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

    # -- batches and deletions --------------------------------------------------------------------

    def run_batch(
        self,
        job_id: str,
        plan: SyncPlan,
        paths: list[str],
        done_before: int,
        should_stop: Callable[[], bool] | None = None,
    ) -> SyncSummary:
        """Index ``paths``; the batch's result and the job's progress are written with its documents, in
        one transaction. Run again once that committed, it returns the stored result."""
        step = batch_step(done_before)
        with self.sessions() as session:
            stored = jobs_repo.step_result(session, job_id, step)
            if stored is not None:
                return SyncSummary.from_dict(stored)
            store = self._store(session, plan.store_id)
            source = self.opener.open(self._connection(session, plan.connection_id))
        target = SyncTarget(
            store=store, connection_id=plan.connection_id, source_type=plan.source_type, job_id=job_id
        )
        with self.sessions.begin() as session:
            # A retried run forked past the plan step starts here: mark it running and attach its store.
            jobs_repo.start_job(session, job_id, store_id=plan.store_id)

        def record(session: Session, summary: SyncSummary) -> None:
            jobs_repo.save_step_result(session, job_id, step, summary.to_dict())
            jobs_repo.set_progress(
                session,
                job_id,
                done_before + len(paths),
                len(plan.upserts),
                chunks_added=summary.chunks_embedded + summary.chunks_reused,
            )

        files = source.files(paths, plan.revision)
        return self.pipeline.process_batch(target, files, should_stop, on_commit=record)

    def delete_removed(self, job_id: str, plan: SyncPlan) -> SyncSummary:
        with self.sessions() as session:
            stored = jobs_repo.step_result(session, job_id, DELETE_STEP)
            if stored is not None:
                return SyncSummary.from_dict(stored)
            store = self._store(session, plan.store_id)
        target = SyncTarget(
            store=store, connection_id=plan.connection_id, source_type=plan.source_type, job_id=job_id
        )

        def record(session: Session, summary: SyncSummary) -> None:
            jobs_repo.save_step_result(session, job_id, DELETE_STEP, summary.to_dict())

        return self.pipeline.delete(target, plan.removals, on_commit=record)

    # -- the end ----------------------------------------------------------------------------------

    def finish(self, job_id: str, summary: SyncSummary) -> JobStatus:
        status = summary.status
        with self.sessions.begin() as session:
            current = jobs_repo.job_status(session, job_id)
            if current in TERMINAL:
                # A cancel acknowledged while the run ended stands; a finish run again after a crash
                # records nothing twice.
                return JobStatus(current)
            job = jobs_repo.finish_job(session, job_id, status=status, output=summary.to_dict())
            workspace_id, source_id = job.workspace_id, job.source_id
            if source_id:
                sources_repo.record_sync(
                    session,
                    source_id,
                    at=utcnow(),
                    ingested=True,
                    commit=job.input.get("revision"),
                    error=failures_summary(summary),
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
            if jobs_repo.job_status(session, job_id) in TERMINAL:
                return  # cancelled meanwhile, or failed by an earlier run of this step
            job = jobs_repo.finish_job(session, job_id, status=JobStatus.FAILED, error_message=message)
            if job.source_id:
                sources_repo.record_sync_error(session, job.source_id, message)
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
        """Run every step in this thread, without the workflow engine (the CLI's inline ingest, tests,
        benchmarks). ``on_progress(done, total, chunks)`` hears of every finished batch."""
        result = run_sync(self.steps(job_id, on_progress))
        return SyncSummary.from_dict(result)

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


def failures_summary(summary: SyncSummary) -> str | None:
    """What a source's ``last_error`` says after a sync that ended with document failures (seed 000:
    a recent ingestion failure summary), or None after a clean one."""
    if not summary.documents_failed:
        return None
    first = summary.failures[0] if summary.failures else None
    example = f"; first: {first.path}: {first.message}" if first else ""
    return f"{summary.documents_failed} document(s) could not be indexed{example}"[:1000]
