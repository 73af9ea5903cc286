"""Connected sources as the CLI and API see them.

A workspace connects only what its organization was granted (``lightfast.app.access``): a GitHub App
installation bound to it, a server directory granted to it. The CLI, run by the operator, may connect
any local directory; the API only a granted one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.access import Access, git_locations, resolve_path
from lightfast.app.disconnect import DISCONNECT
from lightfast.app.jobs import Enqueued, JobService
from lightfast.app.schedule import make_schedule
from lightfast.db import activities, tenancy
from lightfast.db import jobs as jobs_repo
from lightfast.db import sources as sources_repo
from lightfast.db.models import ConnectedSource, Organization
from lightfast.db.statuses import JobTrigger
from lightfast.db.transactions import retry_on_conflict
from lightfast.db.types import utcnow
from lightfast.errors import Conflict, NotFound
from lightfast.ingest.config import ConfigReport
from lightfast.settings import Settings
from lightfast.sources import git, local
from lightfast.sources.github import source as github
from lightfast.sources.registry import SourceOpener

# Checks run in the transaction that connects, against the workspace's organization.
Authorize = Callable[[Session, Organization], None]


@dataclass(frozen=True)
class DisconnectImpact:
    """What a disconnect removes, named on its confirmation before anyone confirms."""

    documents: int
    stores: list[str]  # the stores its documents, chunks and vectors are removed from
    pending_jobs: int  # queued or running jobs of the source, cancelled by the disconnect


@dataclass(frozen=True)
class Connected:
    source: ConnectedSource
    job_id: str  # the initial full sync


class SourceService:
    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], opener: SourceOpener, jobs: JobService
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.opener = opener
        self.jobs = jobs
        self.access = Access(settings)

    def list(self, workspace_id: str) -> list[ConnectedSource]:
        with self.sessions() as session:
            return sources_repo.workspace_sources(session, workspace_id)

    def ingesting(self, source_ids: Collection[str]) -> set[str]:
        """Which of these sources a sync is running for now (their config status reads ``ingesting``)."""
        with self.sessions() as session:
            return jobs_repo.sources_with_running_jobs(session, source_ids)

    def get(self, workspace_id: str, source_id: str) -> ConnectedSource:
        with self.sessions() as session:
            return self._source(session, workspace_id, source_id)

    # -- connect -----------------------------------------------------------------------------------

    def connect_github(
        self, workspace_id: str, full_name: str, installation_id: int, *, triggered_by: str | None = None
    ) -> Connected:
        """Connect a repository the App's installation can read, and start its full sync. Connecting
        again (after an uninstall, say) reactivates the same source.

        The installation must be bound to the workspace's organization (403 otherwise, before GitHub is
        asked anything, so the answer tells nothing about the installation's repositories)."""
        app = self.opener.github_app
        with self.sessions() as session:
            self.access.installation_claim(
                session, tenancy.organization_of(session, workspace_id), installation_id
            )
        repository = app.installation(installation_id).repository(full_name)
        granted = app.installation_permissions(installation_id)
        # The connection metadata of seed 004 (GitHubSourceMetadata); ids are strings there.
        metadata = {
            "type": github.SOURCE_TYPE,
            "githubRepoId": str(repository.id),
            "githubInstallationId": str(installation_id),
            "repoFullName": repository.full_name,
            "owner": repository.owner,
            "name": repository.name,
            "defaultBranch": repository.default_branch,
            "language": repository.language,
            "private": repository.private,
            "htmlUrl": repository.html_url,
            "permissions": {
                "admin": granted.get("administration") == "write",
                "push": granted.get("contents") == "write",
                "pull": granted.get("contents") in ("read", "write"),
            },
            "configPath": None,
        }
        return self._connect(
            workspace_id,
            github.SOURCE_TYPE,
            str(repository.id),
            repository.full_name,
            metadata,
            triggered_by,
            authorize=lambda session, org: self.access.authorize_installation(session, org, installation_id),
        )

    def connect_git(
        self,
        workspace_id: str,
        path: str | Path,
        branch: str | None = None,
        *,
        triggered_by: str | None = None,
    ) -> Connected:
        """Connect a local git repository; each sync indexes its branch's new commits."""
        source = git.GitSource.open(path, branch, max_blob_bytes=self.settings.max_file_bytes)
        metadata = {"branch": source.branch, "configPath": None}
        return self._connect(
            workspace_id, git.SOURCE_TYPE, source.external_key, source.name, metadata, triggered_by
        )

    def connect_local(
        self, workspace_id: str, path: str | Path, *, triggered_by: str | None = None
    ) -> Connected:
        """Connect a local directory (its lightfast.yml validated first) and queue its full sync."""
        return self._connect_directory(workspace_id, local.LocalSource.open(path), triggered_by)

    def connect_server_path(
        self,
        workspace_id: str,
        raw_path: str,
        *,
        git_repository: bool,
        branch: str | None = None,
        triggered_by: str | None = None,
    ) -> Connected:
        """What the API connects: a directory on the server inside LIGHTFAST_LOCAL_SOURCE_ROOTS (else 400)
        and granted to the workspace's organization (else 403, before the directory is looked at). A git
        repository's history must lie there too: its git directory, object stores and their links."""
        path = resolve_path(raw_path)
        with self.sessions() as session:
            self.access.authorize_path(session, tenancy.organization_of(session, workspace_id), path)
        if not git_repository:
            return self._connect_directory(
                workspace_id,
                local.LocalSource.open(path),
                triggered_by,
                authorize=lambda session, org: self.access.authorize_path(session, org, path),
            )
        source = git.GitSource.open(path, branch, max_blob_bytes=self.settings.max_file_bytes)
        locations = git_locations(source.root)

        def authorize(session: Session, org: Organization) -> None:
            self.access.authorize_locations(session, org, locations)

        with self.sessions() as session:
            authorize(session, tenancy.organization_of(session, workspace_id))
        metadata = {"branch": source.branch, "configPath": None}
        return self._connect(
            workspace_id,
            git.SOURCE_TYPE,
            source.external_key,
            source.name,
            metadata,
            triggered_by,
            authorize=authorize,
        )

    def _connect_directory(
        self,
        workspace_id: str,
        source: local.LocalSource,
        triggered_by: str | None,
        *,
        authorize: Authorize | None = None,
    ) -> Connected:
        config = source.config()  # raises ConfigError naming every problem
        metadata = {"type": local.SOURCE_TYPE, "path": source.external_key, "configPath": config.path}
        return self._connect(
            workspace_id,
            local.SOURCE_TYPE,
            source.external_key,
            source.name,
            metadata,
            triggered_by,
            authorize=authorize,
        )

    def _connect(
        self,
        workspace_id: str,
        source_type: str,
        external_key: str,
        display_name: str,
        metadata: dict[str, Any],
        triggered_by: str | None,
        *,
        authorize: Authorize | None = None,
    ) -> Connected:
        def connect() -> str:
            with self.sessions.begin() as session:
                workspace = tenancy.find_workspace_by_id(session, workspace_id)
                if workspace is None:
                    raise NotFound(f"workspace {workspace_id!r} does not exist")
                if authorize is not None:  # again here: a grant may have been revoked meanwhile
                    authorize(session, tenancy.organization_of(session, workspace_id))
                existing = sources_repo.sources_by_external_key(session, source_type, external_key)
                previous = next((s for s in existing if s.workspace_id == workspace_id), None)
                if previous is not None and (
                    previous.disconnected_at is not None
                    or any(
                        j.input.get("kind") == DISCONNECT for j in jobs_repo.active_jobs(session, previous.id)
                    )
                ):
                    raise Conflict(
                        f"{display_name} is being disconnected; connect it again when that job ends "
                        "(if it failed, remove the source again)"
                    )
                source = sources_repo.ensure_source(
                    session,
                    organization_id=workspace.organization_id,
                    workspace_id=workspace_id,
                    source_type=source_type,
                    external_key=external_key,
                    display_name=display_name,
                    metadata={**(previous.source_metadata if previous else {}), **metadata},
                )
                source.display_name, source.is_active = display_name, True
                actor_type, actor_id = activities.actor_of(JobTrigger.MANUAL, triggered_by)
                activities.record_activity(
                    session,
                    workspace_id=workspace_id,
                    actor_type=actor_type,
                    actor_id=actor_id,
                    category="source",
                    action="source.connected",
                    entity_type="source",
                    entity_id=source.id,
                    details={"type": source_type, "name": display_name},
                )
                return source.id

        source_id = retry_on_conflict(connect)
        enqueued = self.jobs.enqueue_sync(
            workspace_id, source_id, triggered_by=triggered_by, name=f"Initial sync {display_name}"
        )
        return Connected(self.get(workspace_id, source_id), enqueued.job_id)

    # -- config, sync, disconnect ------------------------------------------------------------------

    def detect_config(self, workspace_id: str, source_id: str) -> ConfigReport:
        """Read and validate the source's lightfast.yml now (at its head), and record the outcome."""
        with self.sessions() as session:
            source = self._source(session, workspace_id, source_id)
        report = self.opener.open(source).inspect_config(None)
        with self.sessions.begin() as session:
            sources_repo.record_config(
                session, self._source(session, workspace_id, source_id), report, at=utcnow()
            )
        return report

    def disconnect(
        self, workspace_id: str, source_id: str, *, triggered_by: str | None = None, reason: str | None = None
    ) -> Enqueued:
        """Stop syncing a source now and for good, and remove everything it indexed in a job of its own."""
        self.mark_disconnecting(workspace_id, source_id)
        return self.jobs.enqueue_disconnect(workspace_id, source_id, triggered_by=triggered_by, reason=reason)

    def disconnect_impact(self, workspace_id: str, source_id: str) -> DisconnectImpact:
        with self.sessions() as session:
            source = self._source(session, workspace_id, source_id)
            return DisconnectImpact(
                documents=sources_repo.count_connection_documents(session, source.id),
                stores=sources_repo.linked_store_names(session, source.id),
                pending_jobs=len(jobs_repo.active_jobs(session, source.id)),
            )

    def mark_disconnecting(self, workspace_id: str, source_id: str) -> None:
        """Before its disconnect job is queued: from now on nothing (an unsuspend, a push, a schedule)
        makes the source active again; only a new connection after the job makes a new row."""
        with self.sessions.begin() as session:
            sources_repo.mark_disconnecting(
                session, self._source(session, workspace_id, source_id), at=utcnow()
            )

    def set_schedule(
        self,
        workspace_id: str,
        source_id: str,
        *,
        every_seconds: int | None = None,
        cron: str | None = None,
        off: bool = False,
    ) -> ConnectedSource:
        with self.sessions.begin() as session:
            source = self._source(session, workspace_id, source_id)
            metadata = dict(source.source_metadata)
            if off:
                metadata.pop("schedule", None)
            else:
                metadata["schedule"] = make_schedule(every_seconds=every_seconds, cron=cron, since=utcnow())
            source.source_metadata = metadata
            return source

    def _source(self, session: Session, workspace_id: str, source_id: str) -> ConnectedSource:
        source = sources_repo.find_source(session, source_id)
        if source is None or source.workspace_id != workspace_id:
            raise NotFound(f"source {source_id!r} does not exist")
        return source
