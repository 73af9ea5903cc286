"""Organizations, workspaces and stores (what an organization was granted is in ``grants``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, Select, delete, func, select, update
from sqlalchemy.orm import Session

from lightfast.db.models import (
    ApiKey,
    ConnectedSource,
    Document,
    IngestionEvent,
    Organization,
    Store,
    Workspace,
)
from lightfast.errors import Conflict, InvalidInput, NotFound

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# "ORG/WORKSPACE" names a workspace of another organization than the default one; a workspace name
# cannot hold "/", so the reference is never ambiguous.
REF_SEPARATOR = "/"


def slugify_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "workspace"


def validate_workspace_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            "workspace names are 1-64 characters: letters, digits, space, '_', '.', '-'", field="name"
        )


def validate_organization_slug(slug: str) -> None:
    if not _SLUG.fullmatch(slug):
        raise InvalidInput(
            "organization slugs are 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit",
            field="organization",
        )


def ensure_organization(session: Session, slug: str) -> Organization:
    org = find_organization(session, slug)
    if org is None:
        org = Organization(slug=slug, name=slug)
        session.add(org)
        session.flush()
    return org


def find_organization(session: Session, slug: str) -> Organization | None:
    return session.scalar(select(Organization).where(Organization.slug == slug))


def find_organization_by_id(session: Session, organization_id: str) -> Organization | None:
    return session.get(Organization, organization_id)


def get_organization(session: Session, slug: str) -> Organization:
    org = find_organization(session, slug)
    if org is None:
        raise NotFound(f"organization {slug!r} does not exist", field="organization")
    return org


def create_organization(session: Session, slug: str, name: str | None = None) -> Organization:
    """Insert a new organization; a duplicate slug fails on the unique constraint (IntegrityError)."""
    validate_organization_slug(slug)
    org = Organization(slug=slug, name=name or slug)
    session.add(org)
    session.flush()
    return org


def list_organizations(session: Session) -> list[Organization]:
    return list(session.scalars(select(Organization).order_by(Organization.slug)))


def count_organizations(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Organization)) or 0)


def organization_of(session: Session, workspace_id: str) -> Organization:
    workspace = find_workspace_by_id(session, workspace_id)
    org = find_organization_by_id(session, workspace.organization_id) if workspace else None
    if org is None:
        raise NotFound(f"workspace {workspace_id!r} does not exist")
    return org


def split_workspace_ref(ref: str, default_organization: str) -> tuple[str, str]:
    """(organization slug, workspace name) of "NAME" (in the default organization) or "ORG/NAME"."""
    org, separator, name = ref.rpartition(REF_SEPARATOR)
    return (org, name) if separator else (default_organization, ref)


def resolve_workspace(
    session: Session,
    ref: str | None,
    *,
    organization: str,
    default_name: str,
    create: bool,
    deleting: bool = False,
) -> Workspace:
    """The workspace "NAME" of the default organization (slug ``organization``), "ORG/NAME" of another,
    or, for ``None``, the default organization's default workspace (:func:`default_workspace`).

    With ``create`` a missing workspace is made: the named one, or for ``None`` the one named
    ``default_name`` (LIGHTFAST_DEFAULT_WORKSPACE), which becomes the default. Without it nothing is
    written. The default organization is made on first use; another one never is here (``lightfast orgs
    create``): a typo must not start a new tenant. A workspace being deleted is refused (Conflict) unless
    ``deleting`` (to delete it again)."""
    if ref is None:
        org = (
            ensure_organization(session, organization) if create else find_organization(session, organization)
        )
        found = default_workspace(session, org.id) if org is not None else None
        if found is None and org is not None and create:
            found = ensure_workspace(session, org.id, default_name)
            refuse_deleting(found)
            set_default_workspace(session, found)
        if found is None:
            raise NotFound(
                f"organization {organization!r} has no workspace yet: ingest something "
                "(lightfast ingest PATH) or create one (lightfast workspaces create NAME)",
                field="workspace",
            )
        return found
    slug, name = split_workspace_ref(ref, organization)
    if slug != organization:
        org = get_organization(session, slug)
    elif create:
        org = ensure_organization(session, slug)
    elif (found_org := find_organization(session, slug)) is not None:
        org = found_org
    else:  # a fresh install: the default organization is not made yet, and holds nothing
        raise NotFound(f"workspace {name!r} does not exist", field="workspace")
    workspace = ensure_workspace(session, org.id, name) if create else get_workspace(session, org.id, name)
    if not deleting:
        refuse_deleting(workspace, ref)
    return workspace


def refuse_deleting(workspace: Workspace, ref: str | None = None) -> None:
    if workspace.deleted_at is not None:
        raise Conflict(f"workspace {ref or workspace.name!r} is being deleted", field="workspace")


def workspace_ref(session: Session, workspace: Workspace, default_organization: str) -> str:
    """How the CLI names a workspace: "NAME" in the default organization, "ORG/NAME" in another."""
    org = find_organization_by_id(session, workspace.organization_id)
    if org is None or org.slug == default_organization:
        return workspace.name
    return f"{org.slug}{REF_SEPARATOR}{workspace.name}"


def default_workspace(session: Session, organization_id: str) -> Workspace | None:
    """The organization's default workspace: the one marked ``is_default`` (the first one made, unless an
    operator chose another). Should two be marked (two first workspaces made at once), the older one is
    the default, every time."""
    return session.scalar(
        select(Workspace)
        .where(
            Workspace.organization_id == organization_id,
            Workspace.is_default.is_(True),
            Workspace.deleted_at.is_(None),
        )
        .order_by(Workspace.created_at, Workspace.id)
        .limit(1)
    )


def set_default_workspace(session: Session, workspace: Workspace) -> None:
    """Make ``workspace`` its organization's only default workspace."""
    lock_organization(session, workspace.organization_id)
    session.execute(
        update(Workspace)
        .where(
            Workspace.organization_id == workspace.organization_id,
            Workspace.id != workspace.id,
            Workspace.is_default.is_(True),
        )
        .values(is_default=False)
        .execution_options(synchronize_session="fetch")
    )
    workspace.is_default = True
    session.flush()


def lock_organization(session: Session, organization_id: str) -> None:
    """On PostgreSQL, make the organization's workspace changes (which one is the default) one at a
    time. SQLite has one writer at a time anyway."""
    session.execute(select(Organization.id).where(Organization.id == organization_id).with_for_update())


def find_workspace(session: Session, organization_id: str, name: str) -> Workspace | None:
    return session.scalar(
        select(Workspace).where(Workspace.organization_id == organization_id, Workspace.name == name)
    )


def list_workspaces(session: Session, organization_id: str) -> list[Workspace]:
    """The organization's workspaces by name, those being deleted included."""
    return list(
        session.scalars(
            select(Workspace).where(Workspace.organization_id == organization_id).order_by(Workspace.name)
        )
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
    """Insert a new workspace; a duplicate name fails on the unique constraint (IntegrityError). The
    first workspace of an organization becomes its default, and so does one made ``is_default``."""
    validate_workspace_name(name)
    lock_organization(session, organization_id)
    first = default_workspace(session, organization_id) is None
    workspace = Workspace(
        organization_id=organization_id,
        name=name,
        slug=slugify_name(name),
        is_default=False,
        settings={},
    )
    session.add(workspace)
    session.flush()
    if is_default or first:
        set_default_workspace(session, workspace)
    return workspace


def ensure_workspace(
    session: Session, organization_id: str, name: str, *, is_default: bool = False
) -> Workspace:
    validate_workspace_name(name)
    workspace = find_workspace(session, organization_id, name)
    return workspace or create_workspace(session, organization_id, name, is_default=is_default)


@dataclass(frozen=True)
class WorkspaceContents:
    """What deleting a workspace removes, counted."""

    stores: int
    sources: int
    documents: int
    keys: int


def workspace_contents(session: Session, workspace_id: str) -> WorkspaceContents:
    def count(query: Select[Any]) -> int:
        return int(session.scalar(query) or 0)

    return WorkspaceContents(
        stores=count(select(func.count()).select_from(Store).where(Store.workspace_id == workspace_id)),
        sources=count(
            select(func.count())
            .select_from(ConnectedSource)
            .where(ConnectedSource.workspace_id == workspace_id)
        ),
        documents=count_workspace_documents(session, workspace_id),
        keys=count(select(func.count()).select_from(ApiKey).where(ApiKey.workspace_id == workspace_id)),
    )


def _stores_of(workspace_id: str) -> ScalarSelect[str]:
    return select(Store.id).where(Store.workspace_id == workspace_id).scalar_subquery()


def count_workspace_documents(session: Session, workspace_id: str) -> int:
    query = select(func.count()).select_from(Document).where(Document.store_id.in_(_stores_of(workspace_id)))
    return int(session.scalar(query) or 0)


def workspace_documents(
    session: Session, workspace_id: str, limit: int | None = None
) -> list[tuple[str, str]]:
    """(document id, store id) of documents in the workspace's stores, at most ``limit``."""
    query = select(Document.id, Document.store_id).where(Document.store_id.in_(_stores_of(workspace_id)))
    if limit is not None:
        query = query.order_by(Document.id).limit(limit)
    return [(row.id, row.store_id) for row in session.execute(query)]


def mark_workspace_deleting(session: Session, workspace: Workspace, *, at: datetime) -> None:
    """From now on the workspace takes nothing new: it cannot be resolved by name, and its keys are
    revoked (the API stops answering them at once)."""
    workspace.deleted_at = workspace.deleted_at or at
    session.execute(
        update(ApiKey)
        .where(ApiKey.workspace_id == workspace.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    session.flush()


def delete_workspace(session: Session, workspace_id: str) -> None:
    """Remove the workspace and everything of it: its sources, the ingestion events of its stores, and,
    by the database's cascades, its stores with their documents and chunks, its jobs, keys (with their
    idempotency records), metrics and activities."""
    stores = _stores_of(workspace_id)
    session.execute(delete(IngestionEvent).where(IngestionEvent.store_id.in_(stores)))
    session.execute(delete(ConnectedSource).where(ConnectedSource.workspace_id == workspace_id))
    session.execute(delete(Workspace).where(Workspace.id == workspace_id))


def find_store(session: Session, store_id: str) -> Store | None:
    return session.get(Store, store_id)


def find_store_by_name(session: Session, workspace_id: str, name: str) -> Store | None:
    return session.scalar(select(Store).where(Store.workspace_id == workspace_id, Store.name == name))


def list_stores(session: Session, workspace_id: str, names: list[str] | None = None) -> list[Store]:
    query = select(Store).where(Store.workspace_id == workspace_id).order_by(Store.name)
    if names:
        query = query.where(Store.name.in_(names))
    return list(session.scalars(query))


def every_store(session: Session) -> list[Store]:
    """Every store of every workspace (a search worker loads their indexes before it takes searches)."""
    return list(session.scalars(select(Store).order_by(Store.workspace_id, Store.name)))


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


# -- grants ----------------------------------------------------------------------------------------
