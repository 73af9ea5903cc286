"""Workspaces and stores as the API sees them; an API key sees only its own workspace."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.sync import chunk_settings
from lightfast.db import documents as docs_repo
from lightfast.db import tenancy
from lightfast.db.models import Store, Workspace
from lightfast.db.transactions import conflict_on_duplicate
from lightfast.embed.base import ModelSpec
from lightfast.errors import Conflict, InvalidInput, NotFound
from lightfast.ingest.config import STORE_NAME_PATTERN
from lightfast.settings import Settings


@dataclass(frozen=True)
class StoreView:
    store: Store
    documents: int
    chunks: int


class WorkspaceService:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], spec: ModelSpec) -> None:
        self.settings = settings
        self.sessions = sessions
        self.spec = spec

    def get(self, workspace_id: str) -> Workspace:
        with self.sessions() as session:
            workspace = tenancy.find_workspace_by_id(session, workspace_id)
            if workspace is None:
                raise NotFound(f"workspace {workspace_id!r} does not exist")
            return workspace

    def create(self, organization_of: str, name: str) -> Workspace:
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
            return tenancy.create_workspace(session, parent.organization_id, name)

    def rename(self, workspace_id: str, name: str) -> Workspace:
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

    def create_store(self, workspace_id: str, name: str) -> StoreView:
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
            return StoreView(store, 0, 0)

    def rename_store(self, workspace_id: str, store_id: str, name: str) -> StoreView:
        _check_store_name(name)
        with (
            conflict_on_duplicate(f"a store named {name!r} already exists"),
            self.sessions.begin() as session,
        ):
            store = self._store(session, workspace_id, store_id)
            clash = tenancy.find_store_by_name(session, workspace_id, name)
            if clash is not None and clash.id != store_id:
                raise Conflict(f"a store named {name!r} already exists")
            store.name = name
            return StoreView(store, *docs_repo.store_counts(session, store.id))

    def _store(self, session: Session, workspace_id: str, store_id: str) -> Store:
        store = tenancy.find_store(session, store_id)
        if store is None or store.workspace_id != workspace_id:
            raise NotFound(f"store {store_id!r} does not exist")
        return store


def _check_store_name(name: str) -> None:
    if not STORE_NAME_PATTERN.fullmatch(name):
        raise InvalidInput("store names are 1-20 characters of a-z, 0-9 and '-'", field="name")
