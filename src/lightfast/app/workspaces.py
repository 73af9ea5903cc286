"""Workspaces and stores: which workspace a command or a request means, what an operator does with
workspaces (create, list, rename, make default, delete), and stores as the API sees them; an API key sees
only its own workspace.

The default workspace is one notion: each organization has one, marked in the database (the first
workspace made in it, until an operator makes another the default). Commands without ``--workspace``,
API requests without a key and the search page act on the default organization's default workspace.
LIGHTFAST_DEFAULT_WORKSPACE only names the workspace made, as the default, when something must be put into
an organization that has none yet.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.disconnect import DISCONNECT, WORKSPACE
from lightfast.app.jobs import JobService
from lightfast.app.sync import chunk_settings
from lightfast.db import activities, tenancy
from lightfast.db import api_keys as keys_repo
from lightfast.db import documents as docs_repo
from lightfast.db import jobs as jobs_repo
from lightfast.db import sources as sources_repo
from lightfast.db.models import Job, Store, Workspace, new_id
from lightfast.db.statuses import ACTIVE, JobTrigger
from lightfast.db.tenancy import WorkspaceContents
from lightfast.db.transactions import conflict_on_duplicate, retry_on_conflict
from lightfast.db.types import utcnow
from lightfast.embed.base import ModelSpec
from lightfast.errors import Conflict, InvalidInput, NotFound
from lightfast.ingest.config import STORE_NAME_PATTERN
from lightfast.settings import Settings

# More active jobs than a workspace can have: every one of them is superseded or cancelled by a delete.
_ACTIVE_JOBS_LIMIT = 100_000


@dataclass(frozen=True)
class StoreView:
    store: Store
    documents: int
    chunks: int


@dataclass(frozen=True)
class WorkspaceEntry:
    """A workspace as ``lightfast workspaces list`` shows it."""

    workspace: Workspace
    ref: str  # "NAME" in the default organization, "ORG/NAME" in another
    is_default: bool
    deleting: bool


@dataclass(frozen=True)
class Deletion:
    """The delete job of a workspace, and what it removes."""

    workspace_id: str
    ref: str
    job_id: str
    created: bool  # False when a delete of the workspace was already pending
    contents: WorkspaceContents


class WorkspaceService:
    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], spec: ModelSpec, jobs: JobService
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.spec = spec
        self.jobs = jobs

    # -- which workspace: by name, the default, or the one an id belongs to -------------------------

    def workspace_id(self, ref: str | None = None, *, deleting: bool = False) -> str:
        """The id of workspace "NAME" (default organization) or "ORG/NAME"; without one, of the default
        workspace. Nothing is created: a read must not make the workspace that then becomes the default.
        One being deleted is refused, unless ``deleting``."""
        with self.sessions() as session:
            return self._resolve(session, ref, create=False, deleting=deleting).id

    def ensure_workspace_id(self, ref: str | None = None) -> str:
        """Like :meth:`workspace_id`, creating the workspace (and the default organization) on first use:
        connecting a source on a fresh install needs no set-up step. Without a name, the default
        workspace; an organization without one gets LIGHTFAST_DEFAULT_WORKSPACE as its default."""

        def ensure() -> str:
            with self.sessions.begin() as session:
                return self._resolve(session, ref, create=True).id

        return retry_on_conflict(ensure)

    def ref(self, workspace_id: str) -> str:
        """How the CLI names the workspace: "NAME", or "ORG/NAME" outside the default organization."""
        with self.sessions() as session:
            return tenancy.workspace_ref(
                session, self._workspace(session, workspace_id), self.settings.default_organization
            )

    def of_job(self, job_id: str, ref: str | None = None) -> str:
        """The workspace of a job: an id names its own workspace. ``ref``, when given, must be it."""
        with self.sessions() as session:
            job = jobs_repo.find_job(session, job_id)
            if job is None:
                raise NotFound(f"job {job_id!r} does not exist")
            return self._owner(session, job.workspace_id, ref, f"job {job_id}")

    def of_source(self, source_id: str, ref: str | None = None) -> str:
        """The workspace of a connected source. ``ref``, when given, must be it."""
        with self.sessions() as session:
            source = sources_repo.find_source(session, source_id)
            if source is None or source.workspace_id is None:
                raise NotFound(f"source {source_id!r} does not exist")
            return self._owner(session, source.workspace_id, ref, f"source {source_id}")

    def of_key(self, key_id: str, ref: str | None = None) -> str:
        """The workspace of an API key. ``ref``, when given, must be it."""
        with self.sessions() as session:
            key = keys_repo.find_key(session, key_id)
            if key is None:
                raise NotFound(f"API key {key_id!r} does not exist")
            return self._owner(session, key.workspace_id, ref, f"API key {key_id}")

    def store_name(self, store_id: str | None) -> str | None:
        with self.sessions() as session:
            store = tenancy.find_store(session, store_id) if store_id else None
            return store.name if store else None

    # -- the operator's workspaces ---------------------------------------------------------------

    def add(self, ref: str, created_by: str | None = None) -> Workspace:
        """A new, empty workspace "NAME" of the default organization (made on first use) or "ORG/NAME"
        of another; the first of its organization becomes the default."""
        slug, name = tenancy.split_workspace_ref(ref, self.settings.default_organization)
        tenancy.validate_workspace_name(name)
        with (
            conflict_on_duplicate(f"workspace {ref!r} already exists"),
            self.sessions.begin() as session,
        ):
            if slug == self.settings.default_organization:
                org = tenancy.ensure_organization(session, slug)
            else:
                org = tenancy.get_organization(session, slug)
            if tenancy.find_workspace(session, org.id, name) is not None:
                raise Conflict(f"workspace {ref!r} already exists", field="workspace")
            return self._created(session, tenancy.create_workspace(session, org.id, name), created_by)

    def list_entries(self, organization: str | None = None) -> list[WorkspaceEntry]:
        """The workspaces of an organization (default: the default one), by name."""
        slug = organization or self.settings.default_organization
        with self.sessions() as session:
            org = tenancy.find_organization(session, slug)
            if org is None:
                if organization is None:
                    return []  # a fresh install
                raise NotFound(f"organization {slug!r} does not exist", field="organization")
            default = tenancy.default_workspace(session, org.id)
            return [
                WorkspaceEntry(
                    w,
                    tenancy.workspace_ref(session, w, self.settings.default_organization),
                    default is not None and w.id == default.id,
                    w.deleted_at is not None,
                )
                for w in tenancy.list_workspaces(session, org.id)
            ]

    def set_default(self, ref: str) -> Workspace:
        """Make a workspace its organization's default."""
        with self.sessions.begin() as session:
            workspace = self._resolve(session, ref, create=False)
            tenancy.set_default_workspace(session, workspace)
            return workspace

    def contents(self, workspace_id: str) -> WorkspaceContents:
        with self.sessions() as session:
            return tenancy.workspace_contents(session, workspace_id)

    def delete(self, workspace_id: str, *, triggered_by: str | None = None) -> Deletion:
        """Queue the job that removes the workspace and everything of it (stores, documents, chunks and
        vectors, sources, keys, events, jobs, metrics, activity). From now on it takes nothing new: its
        keys are revoked, its sources stop syncing, its queued jobs are superseded and running ones
        cancelled. Asking again while the job is pending returns it. The default workspace goes last:
        while its organization has others, one of them must be made the default first."""
        job_id = new_id("job")
        with self.sessions.begin() as session:
            workspace = self._workspace(session, workspace_id)
            ref = tenancy.workspace_ref(session, workspace, self.settings.default_organization)
            active = self._active_jobs(session, workspace_id)
            pending = next((j for j in active if j.input.get("scope") == WORKSPACE), None)
            if pending is not None:
                contents = tenancy.workspace_contents(session, workspace_id)
                return Deletion(workspace_id, ref, pending.id, False, contents)
            default = tenancy.default_workspace(session, workspace.organization_id)
            others = [
                w
                for w in tenancy.list_workspaces(session, workspace.organization_id)
                if w.id != workspace_id and w.deleted_at is None
            ]
            if default is not None and default.id == workspace_id and others:
                raise Conflict(
                    f"workspace {ref!r} is the default of its organization; make another one the default "
                    f"first (lightfast workspaces default {others[0].name})",
                    field="workspace",
                )
            contents = tenancy.workspace_contents(session, workspace_id)
            now = utcnow()
            tenancy.mark_workspace_deleting(session, workspace, at=now)
            for source in sources_repo.workspace_sources(session, workspace_id):
                sources_repo.mark_disconnecting(session, source, at=now)
            running = [j.id for j in active if not jobs_repo.supersede(session, j, job_id)]
            jobs_repo.create_job(
                session,
                workspace_id=workspace_id,
                organization_id=workspace.organization_id,
                name=f"Delete workspace {ref}",
                trigger=JobTrigger.MANUAL,
                triggered_by=triggered_by,
                input={"kind": DISCONNECT, "scope": WORKSPACE, "workspace": ref},
                job_id=job_id,
            )
        for running_id in running:
            with contextlib.suppress(Conflict, NotFound):  # it may have finished meanwhile
                self.jobs.cancel(workspace_id, running_id, triggered_by)
        return Deletion(workspace_id, ref, job_id, True, contents)

    def deletion(self, job_id: str) -> Job | None:
        """A delete job as it runs; ``None`` once it is gone, with its workspace: the delete is done."""
        with self.sessions() as session:
            return jobs_repo.find_job(session, job_id)

    # -- as the API sees them ----------------------------------------------------------------------

    def get(self, workspace_id: str) -> Workspace:
        with self.sessions() as session:
            return self._workspace(session, workspace_id)

    def create(self, organization_of: str, name: str, created_by: str | None = None) -> Workspace:
        """A new workspace in the organization of ``organization_of`` (a workspace id)."""
        with (
            conflict_on_duplicate(f"a workspace named {name!r} already exists"),
            self.sessions.begin() as session,
        ):
            parent = tenancy.find_workspace_by_id(session, organization_of)
            if parent is None:
                raise NotFound("workspace does not exist")
            if tenancy.find_workspace(session, parent.organization_id, name) is not None:
                raise Conflict(f"a workspace named {name!r} already exists")
            workspace = tenancy.create_workspace(session, parent.organization_id, name)
            return self._created(session, workspace, created_by)

    def rename(self, workspace_id: str, name: str, renamed_by: str | None = None) -> Workspace:
        with (
            conflict_on_duplicate(f"a workspace named {name!r} already exists"),
            self.sessions.begin() as session,
        ):
            workspace = tenancy.find_workspace_by_id(session, workspace_id)
            if workspace is None:
                raise NotFound(f"workspace {workspace_id!r} does not exist")
            other = tenancy.find_workspace(session, workspace.organization_id, name)
            if other is not None and other.id != workspace_id:
                raise Conflict(f"a workspace named {name!r} already exists")
            tenancy.validate_workspace_name(name)
            if workspace.name != name:
                activities.record_change(
                    session,
                    workspace_id,
                    renamed_by,
                    action="workspace.renamed",
                    entity_type="workspace",
                    entity_id=workspace_id,
                    details={"from": workspace.name, "to": name},
                )
            workspace.name, workspace.slug = name, tenancy.slugify_name(name)
            return workspace

    def stores(self, workspace_id: str) -> list[StoreView]:
        with self.sessions() as session:
            return [
                StoreView(s, *docs_repo.store_counts(session, s.id))
                for s in tenancy.list_stores(session, workspace_id)
            ]

    def store(self, workspace_id: str, store_id: str) -> StoreView:
        with self.sessions() as session:
            store = self._store(session, workspace_id, store_id)
            return StoreView(store, *docs_repo.store_counts(session, store.id))

    def create_store(self, workspace_id: str, name: str, created_by: str | None = None) -> StoreView:
        _check_store_name(name)
        tokens, overlap = chunk_settings(self.settings, self.spec)
        with (
            conflict_on_duplicate(f"a store named {name!r} already exists"),
            self.sessions.begin() as session,
        ):
            if tenancy.find_store_by_name(session, workspace_id, name) is not None:
                raise Conflict(f"a store named {name!r} already exists")
            store = tenancy.create_store(
                session,
                workspace_id,
                name,
                provider=self.spec.provider,
                model=self.spec.name,
                dimension=self.spec.dimension,
                chunk_tokens=tokens,
                chunk_overlap=overlap,
            )
            activities.record_change(
                session,
                workspace_id,
                created_by,
                action="store.created",
                entity_type="store",
                entity_id=store.id,
                details={"name": name, "model": store.embedding_model},
            )
            return StoreView(store, 0, 0)

    def rename_store(
        self, workspace_id: str, store_id: str, name: str, renamed_by: str | None = None
    ) -> StoreView:
        _check_store_name(name)
        with (
            conflict_on_duplicate(f"a store named {name!r} already exists"),
            self.sessions.begin() as session,
        ):
            store = self._store(session, workspace_id, store_id)
            clash = tenancy.find_store_by_name(session, workspace_id, name)
            if clash is not None and clash.id != store_id:
                raise Conflict(f"a store named {name!r} already exists")
            if store.name != name:
                activities.record_change(
                    session,
                    workspace_id,
                    renamed_by,
                    action="store.renamed",
                    entity_type="store",
                    entity_id=store_id,
                    details={"from": store.name, "to": name},
                )
            store.name = name
            return StoreView(store, *docs_repo.store_counts(session, store.id))

    def _created(self, session: Session, workspace: Workspace, by: str | None) -> Workspace:
        """A new workspace's first activity: who made it (on its own timeline, where it is seen)."""
        session.flush()
        activities.record_change(
            session,
            workspace.id,
            by,
            action="workspace.created",
            entity_type="workspace",
            entity_id=workspace.id,
            details={"name": workspace.name},
        )
        return workspace

    def _resolve(
        self, session: Session, ref: str | None, *, create: bool, deleting: bool = False
    ) -> Workspace:
        return tenancy.resolve_workspace(
            session,
            ref,
            organization=self.settings.default_organization,
            default_name=self.settings.default_workspace,
            create=create,
            deleting=deleting,
        )

    def _workspace(self, session: Session, workspace_id: str) -> Workspace:
        workspace = tenancy.find_workspace_by_id(session, workspace_id)
        if workspace is None:
            raise NotFound(f"workspace {workspace_id!r} does not exist")
        return workspace

    def _owner(self, session: Session, owner_id: str, ref: str | None, what: str) -> str:
        if ref is None:
            return owner_id
        named = self._resolve(session, ref, create=False)
        if named.id != owner_id:
            owner = tenancy.workspace_ref(
                session, self._workspace(session, owner_id), self.settings.default_organization
            )
            raise InvalidInput(f"{what} is in workspace {owner!r}, not {ref!r}", field="workspace")
        return owner_id

    def _active_jobs(self, session: Session, workspace_id: str) -> list[Job]:
        return [
            job
            for status in ACTIVE
            for job in jobs_repo.query_jobs(session, workspace_id, status=status, limit=_ACTIVE_JOBS_LIMIT)
        ]

    def _store(self, session: Session, workspace_id: str, store_id: str) -> Store:
        store = tenancy.find_store(session, store_id)
        if store is None or store.workspace_id != workspace_id:
            raise NotFound(f"store {store_id!r} does not exist")
        return store


def _check_store_name(name: str) -> None:
    if not STORE_NAME_PATTERN.fullmatch(name):
        raise InvalidInput("store names are 1-20 characters of a-z, 0-9 and '-'", field="name")
