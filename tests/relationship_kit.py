"""Documents of any source put through the real pipeline with the metadata a source would give them
(seed 004's shapes), for the relationship graph's tests: the Sentry and Vercel sources are written in
parallel, and the graph must work whatever source wrote a document."""

from __future__ import annotations

from typing import Any

from lightfast.app.container import Services
from lightfast.app.pipeline import SyncTarget
from lightfast.db import sources as sources_repo
from lightfast.db import tenancy
from lightfast.db.models import Store
from lightfast.ingest.hashing import document_id
from lightfast.sources.base import SourceFile


def store_of(services: Services, workspace: str | None = None, name: str = "graph") -> Store:
    workspace_id = services.workspaces.ensure_workspace_id(workspace)
    with services.sessions.begin() as session:
        found = tenancy.find_store_by_name(session, workspace_id, name)
        if found is None:
            view = services.workspaces.create_store(workspace_id, name)
            found = tenancy.find_store(session, view.store.id)
        assert found is not None
        session.expunge(found)
        return found


def connection(services: Services, store: Store, source_type: str) -> str:
    with services.sessions.begin() as session:
        organization = tenancy.organization_of(session, store.workspace_id)
        source = sources_repo.ensure_source(
            session,
            organization_id=organization.id,
            workspace_id=store.workspace_id,
            source_type=source_type,
            external_key=f"graph-test-{source_type}",
            display_name=f"{source_type} (graph test)",
            metadata={},
        )
        return source.id


def ingest(
    services: Services,
    store: Store,
    source_type: str,
    source_id: str,
    text: str,
    metadata: dict[str, Any] | None = None,
    *,
    path: str | None = None,
    title: str | None = None,
) -> str:
    """Index one document through ``Pipeline.process_batch`` and return its id."""
    body = f"# {title or source_id}\n\n{text}\n"
    file = SourceFile(
        source_id=source_id,
        path=path or f"{source_type}/{source_id}.md",
        read=lambda: body.encode(),
        metadata={"type": source_type, **(metadata or {})},
    )
    target = SyncTarget(store, connection(services, store, source_type), source_type)
    summary = services.pipeline.process_batch(target, [file])
    assert summary.documents_failed == 0, summary.failures
    return document_id(store.id, source_type, source_id)


def remove(services: Services, store: Store, source_type: str, *document_ids: str) -> None:
    target = SyncTarget(store, connection(services, store, source_type), source_type)
    services.pipeline.delete(target, list(document_ids))


SHA = "abc1234" + "5f" * 16 + "e"  # 40 hex, abbreviated "abc1234"
assert len(SHA) == 40


def push_payload(repository: str, sha: str, paths: list[str], message: str) -> dict[str, Any]:
    """A push delivery's body as GitHub sends it (the fields the graph reads)."""
    return {
        "ref": "refs/heads/main",
        "repository": {"full_name": repository, "id": 1},
        "commits": [{"id": sha, "message": message, "added": [], "modified": paths, "removed": []}],
    }
