"""Workspaces and stores."""

from __future__ import annotations

from typing import Self

from pydantic import Field

from lightfast.app.schemas.common import Body, Out, Timestamp
from lightfast.app.workspaces import Deletion, StoreView


# The services check these names with their own messages; the patterns only document the rules.
class WorkspaceNameBody(Body):
    name: str = Field(
        min_length=1, max_length=64, json_schema_extra={"pattern": r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$"}
    )


class StoreNameBody(Body):
    name: str = Field(
        min_length=1, max_length=64, json_schema_extra={"pattern": r"^[a-z0-9-]{1,20}$", "maxLength": 20}
    )


class WorkspaceOut(Out):  # built from a ``Workspace`` row by attribute name
    id: str
    name: str
    slug: str
    is_default: bool
    created_at: Timestamp | None


class WorkspaceListOut(Out):
    items: list[WorkspaceOut]


class StoreOut(Out):
    id: str
    name: str
    embedding_model: str
    embedding_dim: int
    chunk_max_tokens: int
    chunk_overlap: int
    document_count: int
    chunk_count: int
    created_at: Timestamp | None

    @classmethod
    def from_view(cls, view: StoreView) -> Self:
        store = view.store
        return cls(
            id=store.id,
            name=store.name,
            embedding_model=store.embedding_model,
            embedding_dim=store.embedding_dim,
            chunk_max_tokens=store.chunk_max_tokens,
            chunk_overlap=store.chunk_overlap,
            document_count=view.documents,
            chunk_count=view.chunks,
            created_at=store.created_at,
        )


class StoreListOut(Out):
    items: list[StoreOut]


class WorkspaceDeletionOut(Out):
    """``lightfast workspaces delete --json``: the delete job, what it removes, and how it ended
    (``queued`` with ``--detach``; the job's record goes with the workspace once it completes)."""

    workspace: str
    job_id: str
    status: str
    stores: int
    sources: int
    documents: int
    keys: int
    error: str | None = None

    @classmethod
    def from_deletion(cls, deletion: Deletion, status: str, error: str | None = None) -> Self:
        found = deletion.contents
        return cls(
            workspace=deletion.ref,
            job_id=deletion.job_id,
            status=status,
            stores=found.stores,
            sources=found.sources,
            documents=found.documents,
            keys=found.keys,
            error=error,
        )
