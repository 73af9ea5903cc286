"""Ingesting a local directory: resolve workspace, store and source, run the pipeline as a recorded
job, and write its metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from lightfast.db import jobs as jobs_repo
from lightfast.db import sources as sources_repo
from lightfast.db import tenancy
from lightfast.db.types import utcnow
from lightfast.embed.base import ModelSpec
from lightfast.ingest.config import SourceConfig
from lightfast.ingest.pipeline import Pipeline, Progress, ProgressCallback, SyncSummary, SyncTarget
from lightfast.settings import Settings
from lightfast.sources.local import SOURCE_TYPE, LocalSource


@dataclass(frozen=True)
class IngestResult:
    job_id: str
    workspace: str
    store: str
    config: SourceConfig
    summary: SyncSummary
    status: str


class IngestService:
    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], pipeline: Pipeline, spec: ModelSpec
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.pipeline = pipeline
        self.spec = spec

    def chunk_settings(self) -> tuple[int, int]:
        """The store's chunk size: the settings' override, else the model's measured default, never
        more than the model can read (its window less the two special tokens)."""
        limit = self.spec.max_input_tokens - 2
        tokens = min(self.settings.chunk_size or self.spec.default_chunk_tokens, limit)
        overlap = self.settings.chunk_overlap
        if overlap is None:
            overlap = self.spec.default_chunk_overlap
        return tokens, min(overlap, tokens // 2)

    def ingest_path(
        self,
        path: str | Path,
        workspace_name: str | None = None,
        progress: ProgressCallback | None = None,
        trigger: str = "manual",
        triggered_by: str | None = None,
    ) -> IngestResult:
        source = LocalSource.open(path)
        config = source.config()  # raises ConfigError naming every problem
        workspace_name = workspace_name or self.settings.default_workspace
        chunk_tokens, overlap = self.chunk_settings()
        with self.sessions.begin() as session:
            org = tenancy.ensure_organization(session, self.settings.default_organization)
            workspace = tenancy.ensure_workspace(session, org.id, workspace_name)
            store = tenancy.ensure_store(
                session,
                workspace.id,
                config.store,
                provider=self.spec.provider,
                model=self.spec.name,
                dimension=self.spec.dimension,
                chunk_tokens=chunk_tokens,
                chunk_overlap=overlap,
            )
            connection = sources_repo.ensure_source(
                session,
                organization_id=org.id,
                workspace_id=workspace.id,
                source_type=SOURCE_TYPE,
                external_key=source.external_key,
                display_name=source.name,
                metadata={"type": SOURCE_TYPE, "path": source.external_key, "configPath": config.path},
            )
            sources_repo.link_store(session, store.id, connection.id)
            job = jobs_repo.create_job(
                session,
                workspace_id=workspace.id,
                organization_id=org.id,
                store_id=store.id,
                source_id=connection.id,
                name=f"Ingest {source.name}",
                trigger=trigger,
                triggered_by=triggered_by,
                input={"path": source.external_key, "store": config.store},
            )
            job_id, workspace_id, connection_id = job.id, workspace.id, connection.id

        target = SyncTarget(store=store, connection_id=connection_id, source_type=SOURCE_TYPE, job_id=job_id)
        try:
            files = source.files(config)
            with self.sessions.begin() as session:
                jobs_repo.start_job(session, job_id, total=len(files))

            def on_progress(event: Progress) -> None:
                with self.sessions.begin() as session:
                    jobs_repo.set_progress(session, job_id, event.documents_done, event.documents_total)
                if progress:
                    progress(event)

            summary = self.pipeline.full_sync(target, files, on_progress)
        except BaseException as exc:
            with self.sessions.begin() as session:
                jobs_repo.finish_job(session, job_id, status="failed", error_message=str(exc) or repr(exc))
                jobs_repo.record_metric(
                    session,
                    workspace_id=workspace_id,
                    type="errors",
                    value=1,
                    source_id=connection_id,
                    tags={"job": job_id, "stage": "sync"},
                )
            raise
        with self.sessions.begin() as session:
            finished = jobs_repo.finish_job(session, job_id, status=summary.status, output=summary.to_dict())
            sources_repo.record_sync(
                session,
                connection_id,
                config_status="configured" if not config.is_default else "unconfigured",
                config_message=None,
                at=utcnow(),
                ingested=True,
            )
            jobs_repo.record_metric(
                session,
                workspace_id=workspace_id,
                type="job_duration",
                value=finished.duration_ms or 0,
                unit="ms",
                source_id=connection_id,
                tags={"job": job_id, "status": summary.status},
            )
            jobs_repo.record_metric(
                session,
                workspace_id=workspace_id,
                type="documents_indexed",
                value=summary.documents_added + summary.documents_updated,
                source_id=connection_id,
                tags={"job": job_id},
            )
            if summary.documents_failed:
                jobs_repo.record_metric(
                    session,
                    workspace_id=workspace_id,
                    type="errors",
                    value=summary.documents_failed,
                    source_id=connection_id,
                    tags={"job": job_id, "stage": "document"},
                )
        return IngestResult(job_id, workspace_name, config.store, config, summary, summary.status)
