"""Tenant isolation of the /v1 API, route by route, on SQLite and PostgreSQL.

Workspaces A and B each have ingested documents, a completed, a queued and a cancelled job, two stores, a
source and an API key. With A's key, every route is tried against B's resources: B's ids are answered
exactly like ids that do not exist, lists and searches never show B's data, nothing in a request (body
field, query parameter, header) widens the scope: unknown fields and parameters are refused, headers
ignored, and B's data is the same afterwards.

``CHECKS`` must cover every /v1 route of the app: a new route fails ``test_every_route_is_checked`` until
it gets an entry here. Here A and B are workspaces of one organization; ``test_isolation_orgs.py`` runs
the same checks with B in another organization.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from lightfast.db.models import (
    Activity,
    ApiKey,
    ConnectedSource,
    Document,
    Job,
    Metric,
    Store,
    VectorEntry,
    Workspace,
)
from tests.conftest import make_settings, write

# What the test client answers (an httpx or httpx2 Response, depending on the installed Starlette).
Reply = Any
CONFIG = "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n"
# Both workspaces hold near-identical text, so a leak would show up in every search and find-similar.
COMMON = "Deploy the kubernetes cluster with helm charts. Shared words about rollout."
FILES = {
    "a": {
        "docs/deploy.md": f"# Deploy A\n\n{COMMON} Aardvark.\n",
        "docs/notes.md": f"# Notes A\n\n{COMMON} More aardvark notes.\n",
    },
    "b": {
        "docs/deploy.md": f"# Deploy B\n\n{COMMON} Platypus.\n",
        "docs/notes.md": f"# Notes B\n\n{COMMON} More platypus notes.\n",
        "docs/secret.md": "# Secret B\n\nThe platypus launch codes.\n",
    },
}
# Anything a client might try to name another workspace with.
SCOPE_HEADERS = ("X-Workspace-Id", "X-Workspace", "X-Lightfast-Workspace", "X-Organization-Id")
SCOPE_FIELDS = ("workspace", "workspaceId", "workspace_id", "organizationId")


@dataclass
class Tenant:
    name: str
    workspace: str
    key: str
    key_id: str
    store: str  # "docs"
    extra_store: str  # "only-a" / "only-b"
    source: str
    job: str  # completed (the ingest)
    queued_job: str
    cancelled_job: str
    documents: list[str]
    repo: Path

    def ids(self) -> dict[str, str]:
        """Every id of the tenant by kind (documents numbered)."""
        named = {
            "workspace": self.workspace,
            "key": self.key_id,
            "store": self.store,
            "extra_store": self.extra_store,
            "source": self.source,
            "job": self.job,
            "queued_job": self.queued_job,
            "cancelled_job": self.cancelled_job,
        }
        return {**named, **{f"document{i}": d for i, d in enumerate(self.documents)}}


@dataclass
class World:
    services: Services
    client: TestClient
    a: Tenant
    b: Tenant
    roots: Path

    def call(
        self,
        tenant: Tenant,
        method: str,
        url: str,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Reply:
        sent = {"Authorization": f"Bearer {tenant.key}", **(headers or {})}
        response = self.client.request(method, url, headers=sent, **kwargs)
        if status is not None:
            assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text}"
        return response

    def b_ids(self) -> list[str]:
        return list(self.b.ids().values())


def make_tenant(services: Services, roots: Path, name: str) -> Tenant:
    """Tenant ``name``: workspace ``name`` of the default organization, its directory ingested."""
    repo = tenant_repo(roots, name)
    result = services.ingest.ingest_path(repo, name)
    return finish_tenant(services, name, services.workspaces.workspace_id(name), result.job_id, repo)


def tenant_repo(roots: Path, name: str) -> Path:
    return write(roots / f"repo-{name}", {"lightfast.yml": CONFIG, **FILES[name]})


def finish_tenant(services: Services, name: str, workspace: str, job: str, repo: Path) -> Tenant:
    """The rest of a tenant whose ``repo`` was indexed by the completed ``job``: a second store, a
    cancelled and a queued sync, an API key."""
    extra = services.workspaces.create_store(workspace, f"only-{name}").store.id
    with services.sessions() as session:
        store = session.scalar(select(Store.id).where(Store.workspace_id == workspace, Store.name == "docs"))
        source = session.scalar(select(ConnectedSource.id).where(ConnectedSource.workspace_id == workspace))
        documents = list(
            session.scalars(select(Document.id).where(Document.store_id == store).order_by(Document.path))
        )
    assert store
    assert source
    assert len(documents) == len(FILES[name])
    cancelled = services.jobs.enqueue_sync(workspace, source).job_id
    services.jobs.cancel(workspace, cancelled)
    queued = services.jobs.enqueue_sync(workspace, source).job_id
    key = services.api_keys.create(workspace, f"key-{name}")
    return Tenant(
        name=name,
        workspace=workspace,
        key=key.secret,
        key_id=key.key.id,
        store=store,
        extra_store=extra,
        source=source,
        job=job,
        queued_job=queued,
        cancelled_job=cancelled,
        documents=documents,
        repo=repo,
    )


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    roots = tmp_path / "roots"
    settings = make_settings(tmp_path, database_url, allow_anonymous=False, local_source_roots=[roots])
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    a, b = make_tenant(services, roots, "a"), make_tenant(services, roots, "b")
    client = TestClient(create_app(services), raise_server_exceptions=False)
    yield World(services, client, a, b, roots)
    client.close()
    services.close()


def snapshot(services: Services, workspace_id: str) -> dict[str, Any]:
    """Everything of a workspace an attack could change (usage records aside: see ``no_usage_by``)."""
    with services.sessions() as session:
        workspace = session.get(Workspace, workspace_id)
        assert workspace is not None
        stores = list(session.scalars(select(Store).where(Store.workspace_id == workspace_id)))
        store_ids = [s.id for s in stores]
        return {
            "workspace": (workspace.name, workspace.slug, workspace.is_default),
            "stores": sorted((s.id, s.name, s.index_generation) for s in stores),
            "sources": sorted(
                (s.id, s.display_name, s.is_active, s.config_status, s.config_message, s.document_count)
                for s in session.scalars(
                    select(ConnectedSource).where(ConnectedSource.workspace_id == workspace_id)
                )
            ),
            "jobs": sorted(
                (j.id, j.status, j.retry_of, j.error_message, j.triggered_by)
                for j in session.scalars(select(Job).where(Job.workspace_id == workspace_id))
            ),
            "documents": sorted(
                (d.id, d.content_hash, d.title)
                for d in session.scalars(select(Document).where(Document.store_id.in_(store_ids)))
            ),
            "vectors": session.scalar(
                select(func.count()).select_from(VectorEntry).where(VectorEntry.store_id.in_(store_ids))
            ),
            "keys": sorted(
                (k.id, k.name, k.revoked_at, k.expires_at, k.key_hash)
                for k in session.scalars(select(ApiKey).where(ApiKey.workspace_id == workspace_id))
            ),
        }


def no_usage_by(services: Services, key_id: str, workspace_id: str) -> None:
    """Requests with one workspace's key are never recorded as usage of another workspace."""
    with services.sessions() as session:
        metrics = list(session.scalars(select(Metric).where(Metric.workspace_id == workspace_id)))
        activities = list(session.scalars(select(Activity).where(Activity.workspace_id == workspace_id)))
    assert [m.id for m in metrics if (m.tags or {}).get("key") == key_id] == []
    assert [a.id for a in activities if a.actor_id == key_id] == []


def missing_id(kind: str) -> str:
    prefix = {"workspace": "ws", "key": "key", "source": "src", "job": "job", "store": "store"}
    for name, value in prefix.items():
        if kind.endswith(name):
            return f"{value}_{uuid.uuid4().hex}"
    return f"doc_{uuid.uuid4().hex}"


def assert_like_missing(
    world: World, method: str, template: str, victim: str, kind: str, body: Any = None
) -> None:
    """``template`` with B's id answers A exactly like with an id that does not exist."""
    absent = missing_id(kind)
    kwargs = {} if body is None else {"json": body}
    hidden = world.call(world.a, method, template.replace("{id}", victim), **kwargs)
    missing = world.call(world.a, method, template.replace("{id}", absent), **kwargs)
    assert hidden.status_code == missing.status_code == 404, (template, kind, hidden.text)
    hidden_body, missing_body = hidden.json(), missing.json()
    assert set(hidden_body) == set(missing_body) == {"error", "message", "requestId"}
    assert hidden_body["error"] == missing_body["error"] == "not_found"
    assert hidden_body["message"].replace(victim, "<id>") == missing_body["message"].replace(absent, "<id>")
    assert sorted(hidden.headers) == sorted(missing.headers)
    for value in world.b_ids():
        if value != victim:
            assert value not in hidden.text


def by_id(method: str, template: str, body: Any = None) -> Callable[[World], None]:
    """A route on one resource: every id of B (of any kind) is answered as missing."""

    def check(world: World) -> None:
        for kind, victim in world.b.ids().items():
            assert_like_missing(world, method, template, victim, kind, body)

    return check


def assert_no_b(world: World, response: Reply) -> None:
    for kind, value in world.b.ids().items():
        assert value not in response.text, f"B's {kind} {value} leaked into {response.request.url}"
    assert world.b.key not in response.text
    assert "platypus" not in response.text.lower()


def listing(url: str) -> Callable[[World], None]:
    """A read of A's own collection: none of B's ids, and scope headers or parameters change nothing."""

    def check(world: World) -> None:
        plain = world.call(world.a, "GET", url, 200)
        assert_no_b(world, plain)
        widened = world.call(
            world.a, "GET", url, 200, headers={name: world.b.workspace for name in SCOPE_HEADERS}
        )
        assert_no_b(world, widened)
        assert ids_in(widened.json()) == ids_in(plain.json())
        for name in SCOPE_FIELDS:  # a query parameter naming a workspace is refused, never obeyed
            refused = world.call(world.a, "GET", url, 400, params={name: world.b.workspace})
            assert refused.json()["message"].startswith(f"{name}: ")
            assert_no_b(world, refused)
        # B's own key sees B's things: the ids are real.
        own = world.call(world.b, "GET", url, 200)
        if url != "/v1/jobs/statistics":
            assert world.b.workspace in own.text or any(v in own.text for v in world.b_ids())

    return check


def ids_in(payload: Any) -> list[str]:
    if isinstance(payload, dict):
        found = [str(payload["id"])] if "id" in payload else []
        return found + [i for v in payload.values() for i in ids_in(v)]
    if isinstance(payload, list):
        return [i for v in payload for i in ids_in(v)]
    return []


def rejects_scope_fields(method: str, url: str, body: dict[str, Any]) -> Callable[[World], None]:
    """A body that names a workspace is refused (400 naming the field): request bodies have no scope."""

    def check(world: World) -> None:
        for name in SCOPE_FIELDS:
            target = world.b.workspace if name != "workspace" else "b"
            response = world.call(world.a, method, url, json={**body, name: target})
            assert response.status_code == 400, (url, name, response.text)
            assert response.json()["error"] == "invalid_input"
            assert response.json()["message"].startswith(name)

    return check


def all_of(*checks: Callable[[World], None]) -> Callable[[World], None]:
    def check(world: World) -> None:
        for one in checks:
            one(world)

    return check


# -- per-route checks beyond the generic ones ---------------------------------------------------------


def search_check(world: World) -> None:
    a_docs, b_docs = set(world.a.documents), set(world.b.documents)
    for mode in ("fast", "balanced", "hybrid", "dense", "bm25"):
        for filters in ({}, {"stores": ["docs"]}, {"pathPrefix": "docs/"}, {"sourceTypes": ["local"]}):
            body = {"query": "kubernetes helm platypus", "mode": mode, "limit": 100, "filters": filters}
            response = world.call(world.a, "POST", "/v1/search", 200, json=body)
            found = {hit["documentId"] for hit in response.json()["data"]}
            assert found, (mode, filters)
            assert found <= a_docs, (mode, filters)
            assert not found & b_docs
            assert_no_b(world, response)
    assert (
        world.call(world.a, "POST", "/v1/search", 200, json={"query": "platypus", "mode": "fast"}).json()[
            "data"
        ]
        == []
    )
    # B's store name is as unknown as a name that does not exist.
    hidden = world.call(world.a, "POST", "/v1/search", json={"query": "x", "filters": {"stores": ["only-b"]}})
    missing = world.call(
        world.a, "POST", "/v1/search", json={"query": "x", "filters": {"stores": ["only-z"]}}
    )
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["message"].replace("only-b", "?") == missing.json()["message"].replace("only-z", "?")
    # Headers naming B change nothing; query parameters naming B are refused.
    widened = world.call(
        world.a,
        "POST",
        "/v1/search",
        200,
        json={"query": "platypus", "mode": "fast"},
        headers={name: world.b.workspace for name in SCOPE_HEADERS},
    )
    assert widened.json()["data"] == []
    world.call(
        world.a,
        "POST",
        "/v1/search",
        400,
        json={"query": "platypus"},
        params={"workspace": world.b.workspace},
    )
    # B's key does find B's documents: the data is there.
    b_found = world.call(world.b, "POST", "/v1/search", 200, json={"query": "platypus", "mode": "fast"})
    assert {hit["documentId"] for hit in b_found.json()["data"]} == b_docs


def contents_check(world: World) -> None:
    ids = [*world.b.documents, world.a.documents[0], *world.b_ids()]
    response = world.call(world.a, "POST", "/v1/contents", 200, json={"ids": ids})
    payload = response.json()
    assert [item["id"] for item in payload["items"]] == [world.a.documents[0]]
    assert payload["missing"] == [i for i in dict.fromkeys(ids) if i != world.a.documents[0]]
    assert "platypus" not in json.dumps(payload["items"]).lower()
    own = world.call(world.b, "POST", "/v1/contents", 200, json={"ids": world.b.documents}).json()
    assert [item["id"] for item in own["items"]] == world.b.documents


def document_lookup_check(world: World) -> None:
    """A's key looking B's documents up by their source ids finds nothing; B's key finds each."""
    with world.services.sessions() as session:
        rows = [(d.id, d.source_type, d.source_id) for d in session.scalars(select(Document))]
    theirs = [row for row in rows if row[0] in world.b.documents]
    assert theirs
    for doc_id, source_type, source_id in theirs:
        params = {"sourceType": source_type, "sourceId": source_id}
        found = world.call(world.a, "GET", "/v1/documents", 200, params=params).json()["items"]
        assert doc_id not in [item["id"] for item in found]
        own = world.call(world.b, "GET", "/v1/documents", 200, params=params).json()["items"]
        assert doc_id in [item["id"] for item in own]


def document_children_check(world: World) -> None:
    """B's document is as absent to A's key as a document that does not exist."""
    for victim in world.b.documents:
        hidden = world.call(world.a, "GET", f"/v1/documents/{victim}/children", 404).json()
        missing = world.call(world.a, "GET", "/v1/documents/doc_nope/children", 404).json()
        assert hidden["message"].replace(victim, "doc_nope") == missing["message"]
    world.call(world.b, "GET", f"/v1/documents/{world.b.documents[0]}/children", 200)


def document_related_check(world: World) -> None:
    """B's document is as absent to A's key as a missing one; A's graph never reaches B's documents."""
    for victim in world.b.documents:
        hidden = world.call(world.a, "GET", f"/v1/documents/{victim}/related", 404).json()
        missing = world.call(world.a, "GET", "/v1/documents/doc_nope/related", 404).json()
        assert hidden["message"].replace(victim, "doc_nope") == missing["message"]
    for document in world.a.documents:
        response = world.call(world.a, "GET", f"/v1/documents/{document}/related?limit=100", 200)
        assert {i["document"]["id"] for i in response.json()["items"]} <= set(world.a.documents)
        assert_no_b(world, response)
    world.call(world.b, "GET", f"/v1/documents/{world.b.documents[0]}/related", 200)


def findsimilar_check(world: World) -> None:
    for kind, victim in world.b.ids().items():
        absent = missing_id(kind)
        hidden = world.call(world.a, "POST", "/v1/findsimilar", json={"id": victim})
        missing = world.call(world.a, "POST", "/v1/findsimilar", json={"id": absent})
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["error"] == missing.json()["error"] == "not_found"
        assert hidden.json()["message"].replace(victim, "?") == missing.json()["message"].replace(absent, "?")
    for document in world.a.documents:
        response = world.call(world.a, "POST", "/v1/findsimilar", 200, json={"id": document, "limit": 50})
        found = {item["documentId"] for item in response.json()["data"]}
        assert found == set(world.a.documents) - {document}
        assert_no_b(world, response)
    own = world.call(world.b, "POST", "/v1/findsimilar", 200, json={"id": world.b.documents[0]}).json()
    found = {item["id"] for item in own["data"]}
    assert world.b.documents[1] in found  # B's near-duplicate: the data is there for B
    assert found <= set(world.b.documents[1:])


def jobs_list_check(world: World) -> None:
    listing("/v1/jobs")(world)
    for status in ("queued", "cancelled", "completed"):
        assert_no_b(world, world.call(world.a, "GET", "/v1/jobs", 200, params={"status": status}))
    by_b_source = world.call(world.a, "GET", "/v1/jobs", 200, params={"source": world.b.source})
    assert by_b_source.json()["items"] == []
    page = world.call(world.a, "GET", "/v1/jobs", 200, params={"limit": 1}).json()
    seen = [item["id"] for item in page["items"]]
    while page["hasMore"]:
        page = world.call(world.a, "GET", "/v1/jobs", 200, params={"limit": 1, "cursor": page["nextCursor"]})
        page = page.json()
        seen += [item["id"] for item in page["items"]]
    assert set(seen) == {world.a.job, world.a.queued_job, world.a.cancelled_job}


def statistics_check(world: World) -> None:
    listing("/v1/jobs/statistics")(world)
    stats = world.call(world.a, "GET", "/v1/jobs/statistics", 200).json()
    assert stats["total"] == 3
    assert stats["byStatus"] == {"completed": 1, "queued": 1, "cancelled": 1}


def own_reads(template: str, kinds: tuple[str, ...]) -> Callable[[World], None]:
    """Control: A reads its own resources and B reads B's through the same route."""

    def check(world: World) -> None:
        for tenant in (world.a, world.b):
            for kind in kinds:
                value = tenant.ids()[kind]
                response = world.call(tenant, "GET", template.replace("{id}", value), 200)
                assert response.json()["id"] == value
                if tenant is world.a:
                    assert_no_b(world, response)

    return check


def cancel_check(world: World) -> None:
    by_id("POST", "/v1/jobs/{id}/cancel")(world)
    mine = world.call(world.a, "POST", f"/v1/jobs/{world.a.queued_job}/cancel", 200).json()
    assert mine["status"] == "cancelled"


def retry_check(world: World) -> None:
    by_id("POST", "/v1/jobs/{id}/retry")(world)
    mine = world.call(world.a, "POST", f"/v1/jobs/{world.a.cancelled_job}/retry", 201).json()
    assert mine["retryOf"] == world.a.cancelled_job


def workspaces_list_check(world: World) -> None:
    listing("/v1/workspaces")(world)
    items = world.call(world.a, "GET", "/v1/workspaces", 200).json()["items"]
    assert [w["id"] for w in items] == [world.a.workspace]


def create_workspace_check(world: World) -> None:
    rejects_scope_fields("POST", "/v1/workspaces", {"name": "fresh"})(world)
    headers = {name: world.b.workspace for name in SCOPE_HEADERS}
    world.call(world.a, "POST", "/v1/workspaces", 201, json={"name": "fresh"}, headers=headers)
    for tenant in (world.a, world.b):
        items = world.call(tenant, "GET", "/v1/workspaces", 200).json()["items"]
        assert [w["id"] for w in items] == [tenant.workspace]


def rename_workspace_check(world: World) -> None:
    by_id("PATCH", "/v1/workspaces/{id}", {"name": "pwned"})(world)
    rejects_scope_fields("PATCH", f"/v1/workspaces/{world.a.workspace}", {"name": "a2"})(world)
    mine = world.call(world.a, "PATCH", f"/v1/workspaces/{world.a.workspace}", 200, json={"name": "a2"})
    assert mine.json()["name"] == "a2"


def create_store_check(world: World) -> None:
    rejects_scope_fields("POST", "/v1/stores", {"name": "fresh"})(world)
    headers = {name: world.b.workspace for name in SCOPE_HEADERS}
    created = world.call(world.a, "POST", "/v1/stores", 201, json={"name": "fresh"}, headers=headers).json()
    with world.services.sessions() as session:
        store = session.get(Store, created["id"])
        assert store is not None
        assert store.workspace_id == world.a.workspace
    b_stores = world.call(world.b, "GET", "/v1/stores", 200).json()["items"]
    assert "fresh" not in [s["name"] for s in b_stores]


def rename_store_check(world: World) -> None:
    by_id("PATCH", "/v1/stores/{id}", {"name": "pwned"})(world)
    rejects_scope_fields("PATCH", f"/v1/stores/{world.a.extra_store}", {"name": "a2"})(world)
    # B's store names do not clash with A's.
    world.call(world.a, "PATCH", f"/v1/stores/{world.a.extra_store}", 200, json={"name": "only-b"})


def connect_source_check(world: World) -> None:
    body = {"type": "local", "path": str(world.a.repo)}
    rejects_scope_fields("POST", "/v1/sources", body)(world)
    # Connecting the directory B indexes makes a source of A's own; B's source is untouched.
    headers = {name: world.b.workspace for name in SCOPE_HEADERS}
    created = world.call(
        world.a,
        "POST",
        "/v1/sources",
        201,
        json={"type": "local", "path": str(world.b.repo)},
        headers=headers,
    ).json()
    assert created["id"] != world.b.source
    with world.services.sessions() as session:
        source = session.get(ConnectedSource, created["id"])
        job = session.get(Job, created["jobId"])
        assert source is not None
        assert source.workspace_id == world.a.workspace
        assert job is not None
        assert job.workspace_id == world.a.workspace


def sync_check(world: World) -> None:
    by_id("POST", "/v1/sources/{id}/sync")(world)
    rejects_scope_fields("POST", f"/v1/sources/{world.a.source}/sync", {"full": True})(world)
    mine = world.call(world.a, "POST", f"/v1/sources/{world.a.source}/sync", 202).json()
    assert mine["sourceId"] == world.a.source


def detect_config_check(world: World) -> None:
    by_id("POST", "/v1/sources/{id}/detect-config")(world)
    assert (
        world.call(world.a, "POST", f"/v1/sources/{world.a.source}/detect-config", 200).json()["status"]
        == "configured"
    )


def remove_source_check(world: World) -> None:
    by_id("DELETE", "/v1/sources/{id}")(world)
    job = world.call(world.a, "DELETE", f"/v1/sources/{world.a.source}", 202).json()
    world.services.disconnects.run_inline(job["id"])
    with world.services.sessions() as session:
        done = session.get(Job, job["id"])
        assert done is not None
        assert (done.output or {})["documents_deleted"] == len(world.a.documents)


def api_keys_list_check(world: World) -> None:
    listing("/v1/api-keys")(world)
    with world.services.sessions() as session:
        b_previews = list(
            session.scalars(select(ApiKey.preview).where(ApiKey.workspace_id == world.b.workspace))
        )
    text = world.call(world.a, "GET", "/v1/api-keys", 200).text
    assert b_previews
    assert not any(preview in text for preview in b_previews)


def create_key_check(world: World) -> None:
    rejects_scope_fields("POST", "/v1/api-keys", {"name": "fresh"})(world)
    headers = {name: world.b.workspace for name in SCOPE_HEADERS}
    created = world.call(world.a, "POST", "/v1/api-keys", 201, json={"name": "fresh"}, headers=headers).json()
    with world.services.sessions() as session:
        key = session.get(ApiKey, created["id"])
        assert key is not None
        assert key.workspace_id == world.a.workspace
    response = world.client.get("/v1/workspaces", headers={"Authorization": f"Bearer {created['key']}"})
    assert [w["id"] for w in response.json()["items"]] == [world.a.workspace]


def revoke_key_check(world: World) -> None:
    by_id("DELETE", "/v1/api-keys/{id}")(world)
    world.call(world.b, "GET", "/v1/stores", 200)  # B's key still works


def rotate_key_check(world: World) -> None:
    by_id("POST", "/v1/api-keys/{id}/rotate")(world)
    world.call(world.b, "GET", "/v1/stores", 200)


def dashboard_figures(url: str, same_as_service: Callable[[World, str], Any]) -> Callable[[World], None]:
    """A dashboard read (/v1/workspace/...): no B id in A's answer, scope headers change nothing, a
    parameter naming a workspace is refused, and each key gets its own workspace's figures, equal to what
    the service computes for that workspace alone."""

    def check(world: World) -> None:
        plain = world.call(world.a, "GET", url, 200)
        assert_no_b(world, plain)
        widened = world.call(
            world.a, "GET", url, 200, headers={name: world.b.workspace for name in SCOPE_HEADERS}
        )
        assert_no_b(world, widened)
        for name in SCOPE_FIELDS:
            refused = world.call(world.a, "GET", url, 400, params={name: world.b.workspace})
            assert refused.json()["message"].startswith(f"{name}: ")
        for tenant in (world.a, world.b):
            answer = world.call(tenant, "GET", url, 200).json()
            assert same_as_service(world, tenant.workspace) == same_as_service_of(answer, url)

    return check


def same_as_service_of(answer: dict[str, Any], url: str) -> Any:
    """The part of an answer the isolation check compares with the service's own figures."""
    if url.endswith("/statistics"):
        return (
            answer["documents"]["current"],
            answer["jobs"]["current"],
            [s["id"] for s in answer["stores"]],
        )
    if url.endswith("/percentiles"):
        return (answer["count"], answer["maxMs"])
    if url.endswith("/timeseries"):
        return sum(p["jobs"] for p in answer["points"])
    return sorted(ids_in(answer))


def _statistics_of(world: World, workspace: str) -> Any:
    stats = world.services.insights.statistics(workspace)
    return (stats.documents.current, stats.jobs.current, [s.id for s in stats.stores])


def _percentiles_of(world: World, workspace: str) -> Any:
    found = world.services.insights.percentiles(workspace)
    return (found.count, found.max_ms)


def _timeseries_of(world: World, workspace: str) -> Any:
    return sum(p.jobs for p in world.services.insights.timeseries(workspace).points)


def _health_of(world: World, workspace: str) -> Any:
    tenant = world.a if workspace == world.a.workspace else world.b
    answer = world.call(tenant, "GET", "/v1/workspace/health", 200).json()
    found = sorted(ids_in(answer))
    assert workspace in found
    mine = set(tenant.ids().values())
    assert set(found) <= mine, "the health tree names only the workspace's own ids"
    return found


def events_check(world: World) -> None:
    """GET /v1/events resumed from the start of time (Last-Event-ID) replays the key's workspace: A's jobs,
    none of B's ids or words, whatever scope headers say; a parameter naming a workspace is refused."""

    def replay(tenant: Tenant, headers: dict[str, str] | None = None) -> str:
        sent = {"Authorization": f"Bearer {tenant.key}", "Last-Event-ID": "1", **(headers or {})}
        with world.client.stream("GET", "/v1/events", params={"timeout": 1}, headers=sent) as response:
            assert response.status_code == 200
            return "".join(response.iter_text())

    mine = replay(world.a, {name: world.b.workspace for name in SCOPE_HEADERS})
    assert world.a.job in mine
    assert world.a.queued_job in mine
    for kind, value in world.b.ids().items():
        assert value not in mine, f"B's {kind} {value} leaked into /v1/events"
    assert "platypus" not in mine.lower()
    assert world.b.job in replay(world.b)  # B's key sees B's jobs: the ids are real
    for name in SCOPE_FIELDS:
        refused = world.call(world.a, "GET", "/v1/events", 400, params={name: world.b.workspace})
        assert refused.json()["message"].startswith(f"{name}: ")


def _b_target(world: World) -> str:
    """A notification target of B's, made through the service (a URL with B's word in it)."""
    created = world.services.notifications.create_target(
        world.b.workspace, kind="generic", url="http://127.0.0.1:9/platypus-hook"
    )
    return created.target.id


def notification_targets_list_check(world: World) -> None:
    b_target = _b_target(world)
    mine = world.services.notifications.create_target(
        world.a.workspace, kind="generic", url="http://127.0.0.1:9/a"
    )
    url = "/v1/notifications/targets"
    for headers in ({}, {name: world.b.workspace for name in SCOPE_HEADERS}):
        answer = world.call(world.a, "GET", url, 200, headers=headers)
        assert_no_b(world, answer)  # B's target URL holds "platypus"
        assert b_target not in answer.text
        assert [t["id"] for t in answer.json()["items"]] == [mine.target.id]
    for name in SCOPE_FIELDS:
        refused = world.call(world.a, "GET", url, 400, params={name: world.b.workspace})
        assert refused.json()["message"].startswith(f"{name}: ")
    assert b_target in world.call(world.b, "GET", "/v1/notifications/targets", 200).text


def create_notification_target_check(world: World) -> None:
    body = {"kind": "generic", "url": "http://127.0.0.1:9/new"}
    rejects_scope_fields("POST", "/v1/notifications/targets", body)(world)
    created = world.call(
        world.a,
        "POST",
        "/v1/notifications/targets",
        201,
        json=body,
        headers={name: world.b.workspace for name in SCOPE_HEADERS},
    ).json()
    assert [t.id for t in world.services.notifications.list_targets(world.a.workspace)] == [created["id"]]
    assert world.services.notifications.list_targets(world.b.workspace) == []


def delete_notification_target_check(world: World) -> None:
    b_target = _b_target(world)
    missing = world.call(world.a, "DELETE", "/v1/notifications/targets/ntg_nope", 404).json()
    answer = world.call(world.a, "DELETE", f"/v1/notifications/targets/{b_target}", 404).json()
    assert answer["message"].replace(b_target, "ntg_nope") == missing["message"]
    by_id("DELETE", "/v1/notifications/targets/{id}")(world)
    assert [t.id for t in world.services.notifications.list_targets(world.b.workspace)] == [b_target]


def activity_log(world: World) -> None:
    """GET /v1/activity (a page, and the CSV and JSON exports): only A's activities, and a filter naming
    B's source, key or job finds nothing rather than B's rows."""
    mine = world.call(world.a, "GET", "/v1/activity", 200, params={"limit": 200})
    assert_no_b(world, mine)
    assert mine.json()["items"], "A's own jobs are in its log"
    for export in ("csv", "json"):
        assert_no_b(world, world.call(world.a, "GET", "/v1/activity", 200, params={"format": export}))
    for name, value in (("source", world.b.source), ("actor", world.b.key_id), ("q", world.b.job)):
        narrowed = world.call(world.a, "GET", "/v1/activity", 200, params={name: value}).json()
        assert narrowed["items"] == [], f"{name}={value} showed B's activity"
    for name in SCOPE_FIELDS:
        refused = world.call(world.a, "GET", "/v1/activity", 400, params={name: world.b.workspace})
        assert refused.json()["message"].startswith(f"{name}: ")


CHECKS: dict[tuple[str, str], Callable[[World], None]] = {
    ("POST", "/v1/search"): all_of(
        search_check, rejects_scope_fields("POST", "/v1/search", {"query": "kubernetes"})
    ),
    ("POST", "/v1/contents"): all_of(
        contents_check, rejects_scope_fields("POST", "/v1/contents", {"ids": ["doc_x"]})
    ),
    ("POST", "/v1/findsimilar"): all_of(
        findsimilar_check, rejects_scope_fields("POST", "/v1/findsimilar", {"id": "doc_x"})
    ),
    ("GET", "/v1/documents"): document_lookup_check,
    ("GET", "/v1/documents/{id}/children"): document_children_check,
    ("GET", "/v1/documents/{id}/related"): document_related_check,
    ("GET", "/v1/jobs"): jobs_list_check,
    ("GET", "/v1/jobs/recent"): listing("/v1/jobs/recent"),
    ("GET", "/v1/jobs/statistics"): statistics_check,
    ("GET", "/v1/jobs/{id}"): all_of(
        by_id("GET", "/v1/jobs/{id}"), own_reads("/v1/jobs/{id}", ("job", "queued_job", "cancelled_job"))
    ),
    ("POST", "/v1/jobs/{id}/cancel"): cancel_check,
    ("POST", "/v1/jobs/{id}/retry"): retry_check,
    ("GET", "/v1/events"): events_check,
    ("GET", "/v1/workspaces"): workspaces_list_check,
    ("POST", "/v1/workspaces"): create_workspace_check,
    ("GET", "/v1/workspaces/{id}"): all_of(
        by_id("GET", "/v1/workspaces/{id}"), own_reads("/v1/workspaces/{id}", ("workspace",))
    ),
    ("PATCH", "/v1/workspaces/{id}"): rename_workspace_check,
    ("GET", "/v1/stores"): listing("/v1/stores"),
    ("POST", "/v1/stores"): create_store_check,
    ("GET", "/v1/stores/{id}"): all_of(
        by_id("GET", "/v1/stores/{id}"), own_reads("/v1/stores/{id}", ("store", "extra_store"))
    ),
    ("PATCH", "/v1/stores/{id}"): rename_store_check,
    ("PUT", "/v1/stores/{id}/embedding"): by_id(
        "PUT", "/v1/stores/{id}/embedding", {"provider": "fake", "model": "fake-hash-256", "dryRun": True}
    ),
    ("GET", "/v1/sources"): listing("/v1/sources"),
    ("POST", "/v1/sources"): connect_source_check,
    ("POST", "/v1/sources/{id}/sync"): sync_check,
    ("POST", "/v1/sources/{id}/detect-config"): detect_config_check,
    ("DELETE", "/v1/sources/{id}"): remove_source_check,
    ("GET", "/v1/api-keys"): api_keys_list_check,
    ("POST", "/v1/api-keys"): create_key_check,
    ("DELETE", "/v1/api-keys/{id}"): revoke_key_check,
    ("POST", "/v1/api-keys/{id}/rotate"): rotate_key_check,
    ("GET", "/v1/workspace/statistics"): dashboard_figures("/v1/workspace/statistics", _statistics_of),
    ("GET", "/v1/workspace/jobs/percentiles"): dashboard_figures(
        "/v1/workspace/jobs/percentiles", _percentiles_of
    ),
    ("GET", "/v1/workspace/timeseries"): dashboard_figures("/v1/workspace/timeseries", _timeseries_of),
    ("GET", "/v1/workspace/health"): dashboard_figures("/v1/workspace/health", _health_of),
    ("GET", "/v1/activity"): activity_log,
    ("GET", "/v1/notifications/targets"): notification_targets_list_check,
    ("POST", "/v1/notifications/targets"): create_notification_target_check,
    ("DELETE", "/v1/notifications/targets/{id}"): delete_notification_target_check,
}


def v1_routes(services: Services) -> set[tuple[str, str]]:
    """Every (method, path) the app serves under /v1, included routers flattened."""
    app = create_app(services)
    try:  # FastAPI >= 0.16x keeps included routers as one lazy entry of app.routes
        from fastapi.routing import iter_route_contexts

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:  # older FastAPI copies every route into app.routes
        routes = list(app.routes)
    found: set[tuple[str, str]] = set()
    for route in routes:
        path = getattr(route, "path", None) or ""
        if path.startswith("/v1"):
            methods = getattr(route, "methods", None)
            assert methods, f"{path} has no methods (a mount or websocket?): add it to the isolation checks"
            found |= {(method, path) for method in methods if method != "HEAD"}
    return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_route_is_checked(world: World) -> None:
    routes = v1_routes(world.services)
    assert len(routes) >= 26
    assert sorted(routes - set(CHECKS)) == [], "routes without an isolation check: add them to CHECKS"
    assert sorted(set(CHECKS) - routes) == [], "checks for routes that no longer exist"


@pytest.mark.parametrize("route", sorted(CHECKS), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_is_isolated(world: World, route: tuple[str, str]) -> None:
    before = snapshot(world.services, world.b.workspace)
    CHECKS[route](world)
    assert snapshot(world.services, world.b.workspace) == before, f"{route} changed B's data"
    no_usage_by(world.services, world.a.key_id, world.b.workspace)
    # B's key still works and still sees exactly B.
    items = world.call(world.b, "GET", "/v1/workspaces", 200).json()["items"]
    assert [w["id"] for w in items] == [world.b.workspace]
