"""Ingesting a local directory: register it as a connected source of a workspace and sync it as a
recorded job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.pipeline import Progress, SyncSummary
from lightfast.app.store_settings import store_input, store_request
from lightfast.app.sync import SyncRunner
from lightfast.db import jobs as jobs_repo
from lightfast.db import sources as sources_repo
from lightfast.db import tenancy
from lightfast.db.statuses import JobTrigger
from lightfast.db.transactions import retry_on_conflict
from lightfast.ingest.config import SourceConfig
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


@dataclass(frozen=True)
class RegisteredSource:
    workspace_id: str
    organization_id: str
    connection_id: str
    config: SourceConfig


class IngestService:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], runner: SyncRunner) -> None:
        self.settings = settings
        self.sessions = sessions
        self.runner = runner

    def register_local(self, path: str | Path, workspace_name: str | None = None) -> RegisteredSource:
        """Connect a local directory to a workspace (idempotent); its config is validated first."""
        source = LocalSource.open(path)
        config = source.config()  # raises ConfigError naming every problem

        def register() -> RegisteredSource:
            with self.sessions.begin() as session:
                # "NAME", "ORG/NAME", or None: the default workspace (lightfast.app.workspaces)
                workspace = tenancy.resolve_workspace(
                    session,
                    workspace_name,
                    organization=self.settings.default_organization,
                    default_name=self.settings.default_workspace,
                    create=True,
                )
                connection = sources_repo.ensure_source(
                    session,
                    organization_id=workspace.organization_id,
                    workspace_id=workspace.id,
                    source_type=SOURCE_TYPE,
                    external_key=source.external_key,
                    display_name=source.name,
                    metadata={"type": SOURCE_TYPE, "path": source.external_key, "configPath": config.path},
                )
                return RegisteredSource(workspace.id, workspace.organization_id, connection.id, config)

        return retry_on_conflict(register)

    def _inline_job(self, registered: RegisteredSource, name: str) -> str:
        """A full-sync job run by the caller's thread. It is created already claimed, so no worker picks
        it up too, and it still counts against the source's one-sync-at-a-time rule."""
        with self.sessions.begin() as session:
            job = jobs_repo.create_job(
                session,
                workspace_id=registered.workspace_id,
                organization_id=registered.organization_id,
                source_id=registered.connection_id,
                name=name,
                trigger=JobTrigger.MANUAL,
                input={"mode": "full", **store_input(store_request(self.settings))},
            )
            job.engine_run_id = f"inline:{job.id}"
            return job.id

    def ingest_path(
        self,
        path: str | Path,
        workspace_name: str | None = None,
        progress: Callable[[Progress], None] | None = None,
    ) -> IngestResult:
        """Sync a directory now, in this thread (the CLI and API go through the job queue instead)."""
        registered = self.register_local(path, workspace_name)
        job_id = self._inline_job(registered, f"Ingest {Path(path).resolve().name}")

        def on_progress(done: int, total: int, chunks: int) -> None:
            if progress:
                progress(Progress(done, total, chunks))

        summary = self.runner.run_inline(job_id, on_progress)
        with self.sessions() as session:
            job = jobs_repo.get_job(session, job_id)
            store = tenancy.find_store(session, job.store_id) if job.store_id else None
            workspace = tenancy.find_workspace_by_id(session, registered.workspace_id)
            status = job.status
        return IngestResult(
            job_id,
            workspace.name if workspace else "",
            store.name if store else "",
            registered.config,
            summary,
            status,
        )
