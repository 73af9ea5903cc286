"""Organizations, workspaces and stores."""

from __future__ import annotations

import re

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lightfast.db.models import Organization, Store, Workspace
from lightfast.errors import InvalidInput, NotFound

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}")


def slugify_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "workspace"


def validate_workspace_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            "workspace names are 1-64 characters: letters, digits, space, '_', '.', '-'", field="name"
        )


def ensure_organization(session: Session, slug: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.slug == slug))
    if org is None:
        org = Organization(slug=slug, name=slug)
        session.add(org)
        session.flush()
    return org


def find_workspace(session: Session, organization_id: str, name: str) -> Workspace | None:
    return session.scalar(
        select(Workspace).where(Workspace.organization_id == organization_id, Workspace.name == name)
    )


def find_workspace_by_id(session: Session, workspace_id: str) -> Workspace | None:
    return session.get(Workspace, workspace_id)


def get_workspace(session: Session, organization_id: str, name: str) -> Workspace:
    workspace = find_workspace(session, organization_id, name)
    if workspace is None:
        raise NotFound(f"workspace {name!r} does not exist", field="workspace")
    return workspace


def create_workspace(
    session: Session, organization_id: str, name: str, *, is_default: bool = False
) -> Workspace:
    """Insert a new workspace; a duplicate name fails on the unique constraint (IntegrityError)."""
    validate_workspace_name(name)
    has_default = session.scalar(
        select(Workspace.id).where(Workspace.organization_id == organization_id, Workspace.is_default)
    )
    workspace = Workspace(
        organization_id=organization_id,
        name=name,
        slug=slugify_name(name),
        is_default=is_default or has_default is None,
        settings={},
    )
    session.add(workspace)
    session.flush()
    return workspace


def ensure_workspace(
    session: Session, organization_id: str, name: str, *, is_default: bool = False
) -> Workspace:
    validate_workspace_name(name)
    workspace = find_workspace(session, organization_id, name)
    return workspace or create_workspace(session, organization_id, name, is_default=is_default)


def find_store(session: Session, store_id: str) -> Store | None:
    return session.get(Store, store_id)


def find_store_by_name(session: Session, workspace_id: str, name: str) -> Store | None:
    return session.scalar(select(Store).where(Store.workspace_id == workspace_id, Store.name == name))


def list_stores(session: Session, workspace_id: str, names: list[str] | None = None) -> list[Store]:
    query = select(Store).where(Store.workspace_id == workspace_id).order_by(Store.name)
    if names:
        query = query.where(Store.name.in_(names))
    return list(session.scalars(query))


def create_store(
    session: Session,
    workspace_id: str,
    name: str,
    *,
    provider: str,
    model: str,
    dimension: int,
    chunk_tokens: int,
    chunk_overlap: int,
) -> Store:
    """Insert a new store; a duplicate name fails on the unique constraint (IntegrityError)."""
    store = Store(
        workspace_id=workspace_id,
        name=name,
        embedding_provider=provider,
        embedding_model=model,
        embedding_dim=dimension,
        chunk_max_tokens=chunk_tokens,
        chunk_overlap=chunk_overlap,
        index_generation=0,
    )
    session.add(store)
    session.flush()
    return store


def ensure_store(
    session: Session,
    workspace_id: str,
    name: str,
    *,
    provider: str,
    model: str,
    dimension: int,
    chunk_tokens: int,
    chunk_overlap: int,
) -> Store:
    """The store named ``name``, created or brought to the given embedding and chunking settings.

    Changing them changes every document's config hash, so the next sync re-embeds the store."""
    store = find_store_by_name(session, workspace_id, name)
    if store is None:
        return create_store(
            session,
            workspace_id,
            name,
            provider=provider,
            model=model,
            dimension=dimension,
            chunk_tokens=chunk_tokens,
            chunk_overlap=chunk_overlap,
        )
    wanted = (provider, model, dimension, chunk_tokens, chunk_overlap)
    current = (
        store.embedding_provider,
        store.embedding_model,
        store.embedding_dim,
        store.chunk_max_tokens,
        store.chunk_overlap,
    )
    if wanted != current:
        (
            store.embedding_provider,
            store.embedding_model,
            store.embedding_dim,
            store.chunk_max_tokens,
            store.chunk_overlap,
        ) = wanted
        session.flush()
    return store


def bump_generation(session: Session, store_id: str) -> None:
    session.execute(
        update(Store).where(Store.id == store_id).values(index_generation=Store.index_generation + 1)
    )


def store_generations(session: Session, store_ids: list[str]) -> dict[str, int]:
    rows = session.execute(select(Store.id, Store.index_generation).where(Store.id.in_(store_ids)))
    return {row.id: row.index_generation for row in rows}
