"""The /v1 HTTP API contract through FastAPI's test client, on SQLite and PostgreSQL, with the fake embedder.

Anonymous access is off: every request carries an API key of workspace "a" unless a test says otherwise.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lightfast import __version__
from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.db import documents as docs_repo
from lightfast.db.engine import make_engine
from lightfast.db.models import Activity, Document, IdempotencyRecord, Job, Metric, Store, VectorEntry
from tests.conftest import make_settings, write

# What the test client answers (an httpx or httpx2 Response, depending on the installed Starlette).
Reply = Any
CONFIG = "version: 1\nstore: {store}\ninclude:\n  - '**/*.md'\n"
ONBOARDING_BODY = "# Onboarding\n\nWelcome new engineers to the laptop setup. Shared words.\n"
DOCS: dict[str, str] = {
    "docs/deploy.md": (
        "# Deploying\n\nDeploy the kubernetes cluster with helm charts and rollout. Shared words.\n"
    ),
    # A near-duplicate of deploy.md: find-similar must rank it first.
    "docs/deploy-again.md": (
        "# Deploying again\n\n"
        "Deploy the kubernetes cluster with helm charts and rollout today. Shared words.\n"
    ),
    "docs/billing.md": "# Billing\n\nInvoices and refunds <b>monthly</b> by accounting. Shared words.\n",
    "guides/onboarding.md": "---\ntitle: Welcome aboard\nowner: people-team\n---\n" + ONBOARDING_BODY,
}
PATHS = sorted(DOCS)
HIT_KEYS = {"id", "documentId", "title", "url", "snippet", "score", "source", "highlights"}
ERROR_KEYS = {"error", "message", "requestId"}
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@dataclass
class Api:
    services: Services
    client: TestClient
    key: str
    key_id: str
    workspace_id: str
    repo: Path
    roots: Path
    tmp_path: Path
    extra_clients: list[TestClient] = field(default_factory=list)

    def call(
        self,
        method: str,
        path: str,
        status: int | None = None,
        *,
        key: str | None = "own",
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Reply:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {self.key if key == 'own' else key}"
        response = self.client.request(method, path, headers=sent, **kwargs)
        if status is not None:
            assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        return response

    def get(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        return self.call("GET", path, status, **kwargs).json()

    def post(self, path: str, body: Any = None, status: int = 200, **kwargs: Any) -> Any:
        if body is not None:
            kwargs["json"] = body
        return self.call("POST", path, status, **kwargs).json()

    def search(self, body: dict[str, Any], status: int = 200) -> Any:
        return self.post("/v1/search", body, status)

    def paths(self, body: dict[str, Any]) -> list[str]:
        return sorted(hit["source"]["path"] for hit in self.search({"limit": 100, **body})["data"])

    def doc_id(self, path: str) -> str:
        with self.services.sessions() as session:
            return str(session.scalar(select(Document.id).where(Document.path == path)))

    def source_id(self) -> str:
        items = self.get("/v1/sources")["items"]
        assert len(items) == 1
        return str(items[0]["id"])


@pytest.fixture
def make_api(tmp_path: Path, database_url: str) -> Iterator[Callable[..., Api]]:
    made: list[Api] = []

    def make(**overrides: Any) -> Api:
        roots = tmp_path / "roots"
        repo = write(roots / "repo", {"lightfast.yml": CONFIG.format(store="docs"), **DOCS})
        overrides.setdefault("allow_anonymous", False)
        overrides.setdefault("local_source_roots", [roots])
        settings = make_settings(tmp_path, database_url, **overrides)
        services = build_services(settings, engine=make_engine(settings.resolved_database_url))
        result = services.ingest.ingest_path(repo, "a")
        assert result.summary.documents_added == len(DOCS)
        workspace_id = services.workspaces.workspace_id("a")
        created = services.api_keys.create(workspace_id, "test")
        client = TestClient(create_app(services), raise_server_exceptions=False)
        api = Api(services, client, created.secret, created.key.id, workspace_id, repo, roots, tmp_path)
        made.append(api)
        return api

    yield make
    for api in made:
        api.client.close()
        for extra in api.extra_clients:
            extra.close()
        api.services.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


def assert_error(response: Reply, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["error"] == code, body
    assert body["requestId"].startswith("req_")
    assert response.headers["X-Request-Id"] == body["requestId"]
    assert "Traceback" not in response.text
    return body


# -- search ----------------------------------------------------------------------------------------


def test_search_response_shape(api: Api) -> None:
    payload = api.search({"query": "kubernetes helm"})
    assert set(payload) == {"data", "meta", "latency", "requestId"}
    assert payload["meta"] == {
        "total": payload["meta"]["total"],
        "limit": 10,
        "offset": 0,
        "took": payload["latency"]["total"],
        "mode": "balanced",
    }
    assert payload["meta"]["total"] >= 2
    assert set(payload["latency"]) == {"embedding", "retrieval", "fusion", "total"}
    assert all(value >= 0 for value in payload["latency"].values())
    assert payload["latency"]["embedding"] > 0  # balanced embeds the query
    assert payload["requestId"].startswith("req_")
    top = payload["data"][0]
    assert set(top) == HIT_KEYS
    assert top["source"] == {"type": "local", "path": top["source"]["path"], "store": "docs"}
    assert top["source"]["path"] in ("docs/deploy.md", "docs/deploy-again.md")
    assert top["title"] in ("Deploying", "Deploying again")
    assert top["url"] == (api.repo / top["source"]["path"]).resolve().as_uri()
    assert "<mark>kubernetes</mark>" in top["snippet"]
    assert top["highlights"] == []
    assert top["score"] > 0
    assert top["id"].startswith(top["documentId"])
    assert len({hit["documentId"] for hit in payload["data"]}) == len(payload["data"])


def test_request_ids(api: Api) -> None:
    ids = {api.search({"query": "shared"})["requestId"] for _ in range(3)}
    assert len(ids) == 3
    response = api.call("POST", "/v1/search", 200, json={"query": "shared"}, headers={"X-Request-Id": "r-1"})
    assert response.json()["requestId"] == "r-1"
    assert response.headers["X-Request-Id"] == "r-1"


def test_fast_and_balanced_modes(api: Api) -> None:
    fast = api.search({"query": "invoices refunds", "mode": "fast"})
    assert fast["meta"]["mode"] == "fast"
    assert fast["latency"]["embedding"] == 0  # lexical only: no query embedding
    assert [hit["source"]["path"] for hit in fast["data"]] == ["docs/billing.md"]
    balanced = api.search({"query": "invoices refunds", "mode": "balanced"})
    assert balanced["meta"]["mode"] == "balanced"
    assert balanced["data"][0]["source"]["path"] == "docs/billing.md"
    assert len(balanced["data"]) == len(DOCS)  # the dense half ranks every document


@pytest.mark.parametrize("mode", ["fast", "balanced"])
def test_pagination(api: Api, mode: str) -> None:
    whole = api.search({"query": "shared words", "mode": mode, "limit": 4})
    assert len(whole["data"]) == 4
    first = api.search({"query": "shared words", "mode": mode, "limit": 2})
    rest = api.search({"query": "shared words", "mode": mode, "limit": 2, "offset": 2})
    assert (rest["meta"]["limit"], rest["meta"]["offset"]) == (2, 2)
    assert [h["id"] for h in first["data"] + rest["data"]] == [h["id"] for h in whole["data"]]
    assert api.search({"query": "shared words", "mode": mode, "offset": 4})["data"] == []


def test_snippets_escape_html(api: Api) -> None:
    snippet = api.search({"query": "invoices", "mode": "fast"})["data"][0]["snippet"]
    assert "&lt;b&gt;monthly&lt;/b&gt;" in snippet
    assert "<b>" not in snippet
    assert "<mark>Invoices</mark>" in snippet


def test_include_highlights(api: Api) -> None:
    with_highlights = api.search({"query": "invoices", "mode": "fast", "includeHighlights": True})
    hit = with_highlights["data"][0]
    assert hit["highlights"] == [hit["snippet"]]
    assert "<mark>" in hit["highlights"][0]
    without = api.search({"query": "invoices", "mode": "fast", "includeHighlights": False})
    assert without["data"][0]["highlights"] == []


@pytest.mark.parametrize("mode", ["fast", "balanced"])
def test_filters(api: Api, mode: str) -> None:
    def paths(filters: dict[str, Any]) -> list[str]:
        return api.paths({"query": "shared words", "mode": mode, "filters": filters})

    assert paths({}) == PATHS
    assert paths({"pathPrefix": "guides/"}) == ["guides/onboarding.md"]
    assert paths({"pathPrefix": "docs/deploy"}) == ["docs/deploy-again.md", "docs/deploy.md"]
    assert paths({"pathPrefix": "doc_"}) == []
    assert paths({"sourceTypes": ["local"]}) == PATHS
    assert paths({"sourceTypes": ["github"]}) == []
    assert paths({"stores": ["docs"]}) == PATHS
    now = datetime.now(UTC)
    day = timedelta(days=1)
    around = {"from": (now - day).isoformat(), "to": (now + day).isoformat()}
    assert paths({"dateRange": around}) == PATHS
    assert paths({"dateRange": {"from": (now + day).isoformat()}}) == []
    assert paths({"dateRange": {"to": (now - day).isoformat()}}) == []
    assert paths({"stores": ["docs"], "pathPrefix": "docs/", "dateRange": around}) == PATHS[:3]


def test_store_filter_across_two_stores(api: Api) -> None:
    other = write(
        api.tmp_path / "other",
        {"lightfast.yml": CONFIG.format(store="notes"), "n.md": "# N\n\nshared words in notes\n"},
    )
    api.services.ingest.ingest_path(other, "a")
    assert "n.md" in api.paths({"query": "shared words"})
    notes = api.search({"query": "shared words", "filters": {"stores": ["notes"]}})
    assert [(h["source"]["store"], h["source"]["path"]) for h in notes["data"]] == [("notes", "n.md")]
    assert api.paths({"query": "shared words", "filters": {"stores": ["docs"]}}) == PATHS
    both = api.paths({"query": "shared words", "filters": {"stores": ["docs", "notes"]}})
    assert both == sorted([*PATHS, "n.md"])


def test_unknown_store_filter_is_404(api: Api) -> None:
    response = api.call("POST", "/v1/search", json={"query": "x", "filters": {"stores": ["nope"]}})
    assert "'nope'" in assert_error(response, 404, "not_found")["message"]


# -- contents and find-similar ----------------------------------------------------------------------


def test_contents(api: Api) -> None:
    onboarding, billing = api.doc_id("guides/onboarding.md"), api.doc_id("docs/billing.md")
    payload = api.post("/v1/contents", {"ids": [onboarding, "doc_missing", billing, onboarding]})
    assert set(payload) == {"items", "missing", "requestId"}
    assert payload["missing"] == ["doc_missing"]
    assert [item["id"] for item in payload["items"]] == [onboarding, billing]
    item = payload["items"][0]
    assert set(item) == {"id", "title", "path", "sourceType", "url", "content", "metadata", "updatedAt"}
    assert item["content"] == ONBOARDING_BODY  # the text without its front matter
    assert item["title"] == "Welcome aboard"
    assert (item["path"], item["sourceType"]) == ("guides/onboarding.md", "local")
    assert item["url"] == (api.repo / "guides/onboarding.md").resolve().as_uri()
    assert item["metadata"]["frontmatter"] == {"title": "Welcome aboard", "owner": "people-team"}
    assert item["metadata"]["chunkCount"] >= 1
    assert datetime.fromisoformat(item["updatedAt"]) <= datetime.now(UTC)
    assert payload["items"][1]["content"] == DOCS["docs/billing.md"]


def test_contents_limits(api: Api) -> None:
    assert api.post("/v1/contents", {"ids": [f"doc_{i}" for i in range(50)]})["missing"] == [
        f"doc_{i}" for i in range(50)
    ]
    too_many = api.call("POST", "/v1/contents", json={"ids": [f"doc_{i}" for i in range(51)]})
    assert assert_error(too_many, 400, "invalid_input")["message"].startswith("ids: ")
    empty = api.call("POST", "/v1/contents", json={"ids": []})
    assert assert_error(empty, 400, "invalid_input")["message"].startswith("ids: ")


def test_find_similar(api: Api) -> None:
    deploy = api.doc_id("docs/deploy.md")
    payload = api.post("/v1/findsimilar", {"id": deploy})
    assert set(payload) == {"data", "requestId"}
    items = payload["data"]
    assert items[0]["path"] == "docs/deploy-again.md"  # the near-duplicate first
    assert items[0]["documentId"] == items[0]["id"] == api.doc_id("docs/deploy-again.md")
    assert set(items[0]) == {"id", "documentId", "title", "path", "url", "sourceType", "score"}
    assert deploy not in [item["id"] for item in items]  # never the document itself
    assert sorted(item["path"] for item in items) == sorted(p for p in PATHS if p != "docs/deploy.md")
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1]

    limited = api.post("/v1/findsimilar", {"id": deploy, "limit": 1})["data"]
    assert [item["path"] for item in limited] == ["docs/deploy-again.md"]
    threshold = (scores[0] + scores[1]) / 2
    above = api.post("/v1/findsimilar", {"id": deploy, "threshold": threshold})["data"]
    assert [item["path"] for item in above] == ["docs/deploy-again.md"]
    assert all(item["score"] >= threshold for item in above)
    assert api.post("/v1/findsimilar", {"id": deploy, "threshold": 1.0})["data"] == []


def test_find_similar_unknown_and_invalid(api: Api) -> None:
    assert_error(api.call("POST", "/v1/findsimilar", json={"id": "doc_nope"}), 404, "not_found")
    bad = api.call("POST", "/v1/findsimilar", json={"id": api.doc_id("docs/deploy.md"), "threshold": 2})
    assert assert_error(bad, 400, "invalid_input")["message"].startswith("threshold: ")


# -- jobs ------------------------------------------------------------------------------------------


def make_jobs(api: Api, count: int) -> list[str]:
    """``count`` more completed inline jobs; returns every job id, newest first."""
    for _ in range(count):
        api.services.ingest.ingest_path(api.repo, "a")
    with api.services.sessions() as session:
        jobs = session.scalars(
            select(Job).where(Job.workspace_id == api.workspace_id).order_by(Job.created_at.desc())
        )
        return [job.id for job in jobs]


def test_list_jobs_pages_with_a_cursor(api: Api) -> None:
    everything = make_jobs(api, 4)
    assert len(everything) == 5
    first = api.get("/v1/jobs")
    assert set(first) == {"items", "nextCursor", "hasMore"}
    assert [job["id"] for job in first["items"]] == everything
    assert (first["nextCursor"], first["hasMore"]) == (None, False)

    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/jobs", params=query)
        pages += 1
        assert len(page["items"]) <= 2
        seen += [job["id"] for job in page["items"]]
        assert page["hasMore"] == (page["nextCursor"] is not None)
        if not page["hasMore"]:
            break
        cursor = page["nextCursor"]
    assert pages == 3
    assert seen == everything


def test_list_jobs_filters(api: Api) -> None:
    make_jobs(api, 1)
    source = api.source_id()
    queued = api.post(f"/v1/sources/{source}/sync", status=202)
    only_queued = api.get("/v1/jobs", params={"status": "queued"})["items"]
    assert [job["id"] for job in only_queued] == [queued["id"]]
    completed = api.get("/v1/jobs", params={"status": "completed"})["items"]
    assert len(completed) == 2
    assert {job["status"] for job in completed} == {"completed"}
    assert api.get("/v1/jobs", params={"status": "failed"})["items"] == []
    by_source = api.get("/v1/jobs", params={"source": source})["items"]
    assert len(by_source) == 3
    assert api.get("/v1/jobs", params={"source": "src_nope"})["items"] == []

    bad_status = api.call("GET", "/v1/jobs", params={"status": "exploded"})
    assert assert_error(bad_status, 400, "invalid_input")["message"].startswith("status")
    bad_cursor = api.call("GET", "/v1/jobs", params={"cursor": "!!not-a-cursor"})
    assert assert_error(bad_cursor, 400, "invalid_input")["message"].startswith("cursor")
    bad_limit = api.call("GET", "/v1/jobs", params={"limit": 0})
    assert assert_error(bad_limit, 400, "invalid_input")["message"].startswith("limit")


def test_cursor_with_a_naive_timestamp_is_400(api: Api) -> None:
    cursor = base64.urlsafe_b64encode(b"2020-01-01T00:00:00|job_x").decode()
    assert_error(api.call("GET", "/v1/jobs", params={"cursor": cursor}), 400, "invalid_input")


def test_recent_jobs(api: Api) -> None:
    everything = make_jobs(api, 2)
    recent = api.get("/v1/jobs/recent")
    assert set(recent) == {"items"}
    assert [job["id"] for job in recent["items"]] == everything
    assert [job["id"] for job in api.get("/v1/jobs/recent", params={"limit": 2})["items"]] == everything[:2]


def test_job_detail_of_a_queued_job(api: Api) -> None:
    job = api.post(f"/v1/sources/{api.source_id()}/sync", status=202)
    with api.services.sessions.begin() as session:
        store_id = session.scalar(select(Store.id).where(Store.workspace_id == api.workspace_id))
        assert store_id is not None
        docs_repo.record_failure(
            session,
            store_id=store_id,
            job_id=job["id"],
            source_type="local",
            source_id="x",
            path="b/bin.md",
            reason="binary",
            message="not text",
        )
        docs_repo.record_failure(
            session,
            store_id=store_id,
            job_id=job["id"],
            source_type="local",
            source_id="y",
            path="a/huge.md",
            reason="too_large",
            message="over the limit",
        )
    detail = api.get(f"/v1/jobs/{job['id']}")
    assert {k: v for k, v in detail.items() if k not in ("steps", "failures")} == job
    assert detail["steps"] == []  # no worker ran it yet
    assert detail["failures"] == [
        {"path": "a/huge.md", "reason": "too_large", "message": "over the limit"},
        {"path": "b/bin.md", "reason": "binary", "message": "not text"},
    ]


def test_job_shape(api: Api) -> None:
    job = api.get("/v1/jobs")["items"][0]
    assert set(job) == {
        "id",
        "name",
        "status",
        "trigger",
        "sourceId",
        "storeId",
        "retryOf",
        "progress",
        "createdAt",
        "startedAt",
        "completedAt",
        "durationMs",
        "etaSeconds",
        "workerId",
        "error",
        "output",
    }
    assert job["status"] == "completed"
    assert job["etaSeconds"] is None  # only a running job has one
    assert job["sourceId"] == api.source_id()
    assert job["storeId"] == api.get("/v1/stores")["items"][0]["id"]
    assert job["progress"] == {"processed": len(DOCS), "total": len(DOCS)}
    assert job["durationMs"] >= 0
    assert datetime.fromisoformat(job["completedAt"]) >= datetime.fromisoformat(job["startedAt"])


def test_job_detail_of_an_inline_job(api: Api) -> None:
    job_id = api.get("/v1/jobs")["items"][0]["id"]
    detail = api.get(f"/v1/jobs/{job_id}")
    assert (detail["id"], detail["status"], detail["steps"], detail["failures"]) == (
        job_id,
        "completed",
        [],
        [],
    )


def test_job_statistics(api: Api) -> None:
    make_jobs(api, 2)
    queued = api.post(f"/v1/sources/{api.source_id()}/sync", status=202)
    api.post(f"/v1/jobs/{queued['id']}/cancel")
    stats = api.get("/v1/jobs/statistics")
    assert {"hours", "total", "byStatus", "averageDurationMs", "successRate"} <= set(stats)
    assert stats["hours"] == 24
    assert stats["total"] == 4
    assert stats["byStatus"] == {"completed": 3, "cancelled": 1}
    assert stats["successRate"] == 1.0  # cancelled jobs are neither successes nor failures
    assert stats["averageDurationMs"] >= 0
    assert api.get("/v1/jobs/statistics", params={"hours": 1})["total"] == 4
    too_long = api.call("GET", "/v1/jobs/statistics", params={"hours": 5000})
    assert assert_error(too_long, 400, "invalid_input")["message"].startswith("hours")


def test_cancel_and_retry(api: Api) -> None:
    finished = api.get("/v1/jobs")["items"][0]
    assert finished["status"] == "completed"
    assert_error(api.call("POST", f"/v1/jobs/{finished['id']}/cancel"), 409, "conflict")
    assert_error(api.call("POST", f"/v1/jobs/{finished['id']}/retry"), 409, "conflict")

    queued = api.post(f"/v1/sources/{api.source_id()}/sync", status=202)
    assert queued["status"] == "queued"
    cancelled = api.post(f"/v1/jobs/{queued['id']}/cancel")
    assert (cancelled["id"], cancelled["status"]) == (queued["id"], "cancelled")
    assert_error(api.call("POST", f"/v1/jobs/{queued['id']}/cancel"), 409, "conflict")
    retried = api.post(f"/v1/jobs/{queued['id']}/retry", status=201)
    assert retried["id"] != queued["id"]
    assert (retried["retryOf"], retried["status"], retried["sourceId"]) == (
        queued["id"],
        "queued",
        queued["sourceId"],
    )
    assert api.get(f"/v1/jobs/{retried['id']}")["retryOf"] == queued["id"]


def test_unknown_job_is_404(api: Api) -> None:
    for method, path in [
        ("GET", "/v1/jobs/job_nope"),
        ("POST", "/v1/jobs/job_nope/cancel"),
        ("POST", "/v1/jobs/job_nope/retry"),
    ]:
        body = assert_error(api.call(method, path), 404, "not_found")
        assert "job_nope" in body["message"]


# -- workspaces and stores -------------------------------------------------------------------------


def test_workspaces(api: Api) -> None:
    listed = api.get("/v1/workspaces")["items"]
    assert [w["id"] for w in listed] == [api.workspace_id]
    own = listed[0]
    assert set(own) == {"id", "name", "slug", "isDefault", "createdAt"}
    assert (own["name"], own["slug"]) == ("a", "a")
    assert api.get(f"/v1/workspaces/{api.workspace_id}") == own

    api.services.ingest.register_local(api.repo, "b")  # another workspace of the same organization
    other = api.services.workspaces.workspace_id("b")
    for response in (
        api.call("GET", f"/v1/workspaces/{other}"),
        api.call("PATCH", f"/v1/workspaces/{other}", json={"name": "stolen"}),
    ):
        body = assert_error(response, 404, "not_found")
        missing = assert_error(api.call("GET", "/v1/workspaces/ws_nope"), 404, "not_found")
        assert body["message"] == missing["message"].replace("ws_nope", other)
    assert [w["id"] for w in api.get("/v1/workspaces")["items"]] == [api.workspace_id]

    renamed = api.call("PATCH", f"/v1/workspaces/{api.workspace_id}", 200, json={"name": "Team A"}).json()
    assert (renamed["id"], renamed["name"], renamed["slug"]) == (api.workspace_id, "Team A", "team-a")
    assert api.get(f"/v1/workspaces/{api.workspace_id}")["name"] == "Team A"
    clash = api.call("PATCH", f"/v1/workspaces/{api.workspace_id}", json={"name": "b"})
    assert_error(clash, 409, "conflict")
    bad = api.call("PATCH", f"/v1/workspaces/{api.workspace_id}", json={"name": "!bad"})
    assert assert_error(bad, 400, "invalid_input")["message"].startswith("name")

    created = api.post("/v1/workspaces", {"name": "New one"}, status=201)
    assert (created["name"], created["slug"], created["isDefault"]) == ("New one", "new-one", False)
    assert_error(api.call("POST", "/v1/workspaces", json={"name": "New one"}), 409, "conflict")
    bad_create = api.call("POST", "/v1/workspaces", json={"name": ""})
    assert assert_error(bad_create, 400, "invalid_input")["message"].startswith("name")
    # The key stays bound to its own workspace.
    assert [w["id"] for w in api.get("/v1/workspaces")["items"]] == [api.workspace_id]


def test_stores(api: Api) -> None:
    listed = api.get("/v1/stores")["items"]
    assert len(listed) == 1
    docs = listed[0]
    assert set(docs) == {
        "id",
        "name",
        "embeddingModel",
        "embeddingDim",
        "chunkMaxTokens",
        "chunkOverlap",
        "documentCount",
        "chunkCount",
        "createdAt",
    }
    with api.services.sessions() as session:
        chunks = session.scalar(select(func.count()).select_from(VectorEntry))
    assert (docs["name"], docs["documentCount"], docs["chunkCount"]) == ("docs", len(DOCS), chunks)
    assert docs["embeddingDim"] == api.services.embedder.spec.dimension
    assert api.get(f"/v1/stores/{docs['id']}") == docs

    created = api.post("/v1/stores", {"name": "notes"}, status=201)
    assert (created["name"], created["documentCount"], created["chunkCount"]) == ("notes", 0, 0)
    assert sorted(s["name"] for s in api.get("/v1/stores")["items"]) == ["docs", "notes"]
    assert_error(api.call("POST", "/v1/stores", json={"name": "notes"}), 409, "conflict")
    for bad in ("Bad Name", "x" * 21, ""):
        response = api.call("POST", "/v1/stores", json={"name": bad})
        assert assert_error(response, 400, "invalid_input")["message"].startswith("name"), bad

    renamed = api.call("PATCH", f"/v1/stores/{created['id']}", 200, json={"name": "journal"}).json()
    assert (renamed["id"], renamed["name"]) == (created["id"], "journal")
    assert api.get(f"/v1/stores/{created['id']}")["name"] == "journal"
    assert_error(api.call("PATCH", f"/v1/stores/{created['id']}", json={"name": "docs"}), 409, "conflict")
    upper = api.call("PATCH", f"/v1/stores/{created['id']}", json={"name": "NO"})
    assert assert_error(upper, 400, "invalid_input")["message"].startswith("name")
    assert_error(api.call("GET", "/v1/stores/store_nope"), 404, "not_found")
    assert_error(api.call("PATCH", "/v1/stores/store_nope", json={"name": "x"}), 404, "not_found")
    # The renamed store is searchable by its new name, the old name is gone.
    assert api.search({"query": "x", "filters": {"stores": ["journal"]}})["data"] == []
    assert_error(
        api.call("POST", "/v1/search", json={"query": "x", "filters": {"stores": ["notes"]}}),
        404,
        "not_found",
    )


# -- sources ---------------------------------------------------------------------------------------


def test_list_sources(api: Api) -> None:
    items = api.get("/v1/sources")["items"]
    assert len(items) == 1
    source = items[0]
    assert set(source) == {
        "id",
        "type",
        "name",
        "isActive",
        "configStatus",
        "documentCount",
        "configMessage",
        "lastCommit",
        "externalKey",
        "lastError",
        "lastSyncedAt",
        "createdAt",
    }
    assert (source["type"], source["name"], source["isActive"], source["documentCount"]) == (
        "local",
        "repo",
        True,
        len(DOCS),
    )


def test_connect_source(api: Api) -> None:
    outside = write(api.tmp_path / "elsewhere", {"lightfast.yml": CONFIG.format(store="x"), "a.md": "# A\n"})
    response = api.call("POST", "/v1/sources", json={"type": "local", "path": str(outside)})
    assert assert_error(response, 400, "invalid_input")["message"].startswith("path: ")
    sneaky = str(api.roots / ".." / "elsewhere")
    assert_error(
        api.call("POST", "/v1/sources", json={"type": "local", "path": sneaky}), 400, "invalid_input"
    )
    for bad in (str(api.roots / "missing"), "~nosuchuser-lightfast/x", "/tmp/a\x00b"):
        response = api.call("POST", "/v1/sources", json={"type": "local", "path": bad})
        assert assert_error(response, 400, "invalid_input")["message"].startswith("path"), bad
    wrong_type = api.call("POST", "/v1/sources", json={"type": "svn", "path": "o/r"})
    assert assert_error(wrong_type, 400, "invalid_input")["message"] == (
        "type: must be one of 'local', 'git', 'github', 'linear', 'notion', 'zendesk', 'sentry', 'vercel'"
    )
    no_type = api.call("POST", "/v1/sources", json={"path": "o/r"})
    assert assert_error(no_type, 400, "invalid_input")["message"] == "type: is required"
    github_without_repo = api.call("POST", "/v1/sources", json={"type": "github", "installationId": 3})
    assert assert_error(github_without_repo, 400, "invalid_input")["message"].startswith("repository: ")
    github_unconfigured = api.call(
        "POST", "/v1/sources", json={"type": "github", "repository": "acme/docs", "installationId": 3}
    )
    assert "LIGHTFAST_GITHUB_APP_ID" in assert_error(github_unconfigured, 503, "invalid_settings")["message"]

    inside = write(api.roots / "fresh", {"lightfast.yml": CONFIG.format(store="fresh"), "f.md": "# F\n"})
    connected = api.post("/v1/sources", {"type": "local", "path": str(inside)}, status=201)
    assert (connected["type"], connected["name"]) == ("local", "fresh")
    assert connected["jobId"].startswith("job_")
    job = api.get(f"/v1/jobs/{connected['jobId']}")
    assert (job["status"], job["sourceId"]) == ("queued", connected["id"])
    assert sorted(s["id"] for s in api.get("/v1/sources")["items"]) == sorted(
        [api.get("/v1/sources")["items"][0]["id"], connected["id"]]
    )
    assert len(api.get("/v1/sources")["items"]) == 2


def test_connect_source_with_a_broken_config_is_400(api: Api) -> None:
    broken = write(api.roots / "broken", {"lightfast.yml": "version: 9\nstore: NOPE!\n", "a.md": "# A\n"})
    response = api.call("POST", "/v1/sources", json={"type": "local", "path": str(broken)})
    assert response.status_code == 400, response.text
    assert set(response.json()) == ERROR_KEYS


def test_sync_source(api: Api) -> None:
    source = api.source_id()
    job = api.post(f"/v1/sources/{source}/sync", status=202)
    assert (job["status"], job["sourceId"], job["trigger"]) == ("queued", source, "manual")
    assert api.get("/v1/jobs/recent")["items"][0]["id"] == job["id"]
    with_body = api.post(f"/v1/sources/{source}/sync", {"full": True}, status=202)
    assert with_body["status"] == "queued"
    assert_error(api.call("POST", "/v1/sources/src_nope/sync"), 404, "not_found")
    extra = api.call("POST", f"/v1/sources/{source}/sync", json={"mode": "everything"})
    assert assert_error(extra, 400, "invalid_input")["message"].startswith("mode")


def test_detect_config(api: Api) -> None:
    source = api.source_id()
    configured = api.post(f"/v1/sources/{source}/detect-config")
    assert configured == {
        "sourceId": source,
        "status": "configured",
        "path": "lightfast.yml",
        "config": {"version": 1, "store": "docs", "include": ["**/*.md"], "exclude": []},
        "problems": [],
    }
    (api.repo / "lightfast.yml").write_text("version: 7\nstore: Not Valid!\n", encoding="utf-8")
    broken = api.post(f"/v1/sources/{source}/detect-config")
    assert (broken["status"], broken["config"]) == ("error", None)
    assert broken["problems"]
    assert api.get("/v1/sources")["items"][0]["configStatus"] == "error"

    (api.repo / "lightfast.yml").unlink()
    unconfigured = api.post(f"/v1/sources/{source}/detect-config")
    assert (unconfigured["status"], unconfigured["path"], unconfigured["problems"]) == (
        "unconfigured",
        None,
        [],
    )
    assert api.get("/v1/sources")["items"][0]["configStatus"] == "unconfigured"
    assert_error(api.call("POST", "/v1/sources/src_nope/detect-config"), 404, "not_found")


def test_remove_source_removes_its_documents_and_vectors(api: Api) -> None:
    source = api.source_id()
    ids = [api.doc_id(path) for path in PATHS]
    assert api.paths({"query": "kubernetes", "mode": "fast"}) == ["docs/deploy-again.md", "docs/deploy.md"]
    job = api.call("DELETE", f"/v1/sources/{source}", 202).json()
    assert (job["status"], job["sourceId"]) == ("queued", source)
    assert job["name"].startswith("Disconnect ")
    assert api.get("/v1/sources")["items"][0]["isActive"] is False  # stops syncing at once
    assert_error(api.call("POST", f"/v1/sources/{source}/sync"), 409, "conflict")
    again = api.call("DELETE", f"/v1/sources/{source}", 202).json()
    assert again["id"] == job["id"]  # one disconnect job, however often asked
    documents, chunks = api.services.disconnects.run_inline(job["id"])
    assert documents == len(DOCS)
    assert chunks > 0

    for mode in ("fast", "balanced"):
        assert api.search({"query": "kubernetes helm", "mode": mode})["data"] == []
    assert api.post("/v1/contents", {"ids": ids})["missing"] == ids
    assert_error(api.call("POST", "/v1/findsimilar", json={"id": ids[0]}), 404, "not_found")
    with api.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(VectorEntry)) == 0
        assert session.scalar(select(func.count()).select_from(Document)) == 0
    store = api.get("/v1/stores")["items"][0]
    assert (store["documentCount"], store["chunkCount"]) == (0, 0)
    assert api.get("/v1/sources")["items"] == []
    assert_error(api.call("DELETE", f"/v1/sources/{source}"), 404, "not_found")


# -- API keys --------------------------------------------------------------------------------------


def test_api_keys(api: Api) -> None:
    created = api.post("/v1/api-keys", {"name": "ci"}, status=201)
    secret = created["key"]
    assert secret.startswith("sk-lf-")
    assert len(secret) >= 46
    assert set(created) == {
        "id",
        "name",
        "preview",
        "createdAt",
        "expiresAt",
        "lastUsedAt",
        "revokedAt",
        "key",
    }
    assert (created["name"], created["expiresAt"], created["revokedAt"]) == ("ci", None, None)
    assert created["preview"] == f"{secret[:10]}…{secret[-4:]}"

    listed = api.get("/v1/api-keys")["items"]
    assert {k["id"] for k in listed} == {api.key_id, created["id"]}
    assert all("key" not in k for k in listed)
    assert secret not in api.call("GET", "/v1/api-keys").text
    assert api.key not in api.call("GET", "/v1/api-keys").text
    assert next(k for k in listed if k["id"] == created["id"])["preview"] == created["preview"]

    assert api.get("/v1/stores", key=secret)["items"]  # the new key works
    used = next(k for k in api.get("/v1/api-keys")["items"] if k["id"] == created["id"])
    assert used["lastUsedAt"] is not None

    revoked = api.call("DELETE", f"/v1/api-keys/{created['id']}", 200).json()
    assert revoked["id"] == created["id"]
    assert revoked["revokedAt"] is not None
    assert_error(api.call("GET", "/v1/stores", key=secret), 401, "unauthorized")
    assert_error(api.call("DELETE", "/v1/api-keys/key_nope"), 404, "not_found")


def test_api_key_expiry(api: Api) -> None:
    created = api.post("/v1/api-keys", {"name": "short", "expiresInDays": 2}, status=201)
    expires = datetime.fromisoformat(created["expiresAt"])
    assert timedelta(days=2) - timedelta(minutes=5) < expires - datetime.now(UTC) <= timedelta(days=2)
    bad = api.call("POST", "/v1/api-keys", json={"name": "x", "expiresInDays": 0})
    assert assert_error(bad, 400, "invalid_input")["message"].startswith("expiresInDays")


def test_rotate_api_key(api: Api) -> None:
    created = api.post("/v1/api-keys", {"name": "rotating"}, status=201)
    rotated = api.post(f"/v1/api-keys/{created['id']}/rotate", status=201)
    assert rotated["id"] != created["id"]
    assert rotated["name"] == "rotating"
    assert rotated["key"].startswith("sk-lf-")
    assert rotated["key"] != created["key"]
    assert_error(api.call("GET", "/v1/stores", key=created["key"]), 401, "unauthorized")
    assert api.get("/v1/stores", key=rotated["key"])["items"]
    assert_error(api.call("POST", "/v1/api-keys/key_nope/rotate"), 404, "not_found")
    # A revoked key stays revoked: rotating it (again) is refused, not a way back in.
    again = api.call("POST", f"/v1/api-keys/{created['id']}/rotate")
    assert created["id"] in assert_error(again, 409, "conflict")["message"]
    revoked = api.post("/v1/api-keys", {"name": "gone"}, status=201)
    api.call("DELETE", f"/v1/api-keys/{revoked['id']}", 200)
    assert_error(api.call("POST", f"/v1/api-keys/{revoked['id']}/rotate"), 409, "conflict")
    names = [k["name"] for k in api.get("/v1/api-keys")["items"]]
    assert sorted(names) == ["gone", "rotating", "rotating", "test"]


# -- errors ----------------------------------------------------------------------------------------


def test_authentication_is_required(api: Api) -> None:
    bad_keys: list[str | None] = [
        None,
        "sk-lf-" + "x" * 43,  # well formed, unknown
        "sk-lf-short",
        "not-a-key",
        "",
    ]
    for key in bad_keys:
        response = api.call("GET", "/v1/stores", key=key)
        body = assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert api.key not in body["message"]
    basic = api.call("GET", "/v1/stores", key=None, headers={"Authorization": f"Basic {api.key}"})
    assert_error(basic, 401, "unauthorized")
    # Every /v1 route is behind the key, reads and writes alike.
    assert_error(api.call("POST", "/v1/search", key=None, json={"query": "x"}), 401, "unauthorized")
    assert_error(api.call("POST", "/v1/stores", key=None, json={"name": "x"}), 401, "unauthorized")
    with api.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Store)) == 1
    # Health and the API's description are public; the console asks a stranger to log in.
    assert api.call("GET", "/healthz", 200, key=None).json() == {"status": "ok", "version": __version__}
    assert api.call("GET", "/openapi.json", 200, key=None).json()["paths"]
    page = api.client.get("/", headers={"Authorization": ""}, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")


def test_anonymous_access_when_allowed(make_api: Callable[..., Api]) -> None:
    api = make_api(allow_anonymous=True, default_workspace="a")
    assert [w["id"] for w in api.get("/v1/workspaces", key=None)["items"]] == [api.workspace_id]
    # A bad key is still refused: anonymous access is for requests without one.
    assert_error(api.call("GET", "/v1/stores", key="sk-lf-" + "y" * 43), 401, "unauthorized")


def test_body_over_the_limit_is_413(make_api: Callable[..., Api]) -> None:
    api = make_api(max_request_bytes=2048)
    assert api.search({"query": "x" * 900, "mode": "fast"})["data"] == []  # under the limit
    big = {"query": "kubernetes", "filters": {"pathPrefix": "x" * 1000, "stores": ["y" * 30] * 40}}
    body = assert_error(api.call("POST", "/v1/search", json=big), 413, "payload_too_large")
    assert "2048" in body["message"]
    # Without a Content-Length (a chunked upload) the limit holds too.
    chunks = iter([b'{"query": "', b"z" * 3000, b'"}'])
    streamed = api.call("POST", "/v1/search", content=chunks, headers={"content-type": "application/json"})
    assert_error(streamed, 413, "payload_too_large")
    assert_error(api.call("POST", "/v1/stores", content=b"{" * 5000), 413, "payload_too_large")


def test_malformed_json_is_400(api: Api) -> None:
    json_type = {"content-type": "application/json"}
    for path in ("/v1/search", "/v1/stores", "/v1/contents"):
        for raw in (b"{not json", b"\xff\xfe\x00", b'{"query": "\xe9t\xe9"}', b""):
            assert_error(api.call("POST", path, content=raw, headers=json_type), 400, "invalid_input")


def test_framework_errors_have_the_same_shape(api: Api) -> None:
    """Errors raised by FastAPI itself (unknown path, wrong method) are not {"detail": ...}."""
    assert_error(api.call("GET", "/v1/nowhere"), 404, "not_found")
    assert_error(api.call("DELETE", "/v1/stores"), 405, "method_not_allowed")
    assert_error(api.call("GET", "/v1/nowhere", key=None), 401, "unauthorized")  # auth first


INVALID: list[tuple[str, str, Any, str]] = [
    ("POST", "/v1/search", {}, "query"),
    ("POST", "/v1/search", {"query": ""}, "query"),
    ("POST", "/v1/search", {"query": "   "}, "query"),
    ("POST", "/v1/search", {"query": "x" * 1001}, "query"),
    ("POST", "/v1/search", {"query": "x", "limit": 0}, "limit"),
    ("POST", "/v1/search", {"query": "x", "limit": 101}, "limit"),
    ("POST", "/v1/search", {"query": "x", "offset": -1}, "offset"),
    ("POST", "/v1/search", {"query": "x", "mode": "fuzzy"}, "mode"),
    ("POST", "/v1/search", {"query": "x", "bogus": 1}, "bogus"),
    ("POST", "/v1/search", {"query": "x", "workspace": "b"}, "workspace"),
    ("POST", "/v1/search", {"query": "x", "filters": {"sourcetypes": ["local"]}}, "filters.sourcetypes"),
    ("POST", "/v1/search", {"query": "x", "filters": {"pathPrefix": 3}}, "filters.pathPrefix"),
    ("POST", "/v1/search", {"query": "x", "filters": {"dateRange": {"from": "soon"}}}, "filters.dateRange"),
    (
        "POST",
        "/v1/search",
        {
            "query": "x",
            "filters": {"dateRange": {"from": "2030-01-01T00:00:00Z", "to": "2020-01-01T00:00:00Z"}},
        },
        "filters.dateRange",
    ),
    ("POST", "/v1/search", ["query"], "body"),
    ("POST", "/v1/contents", {"ids": "doc_1"}, "ids"),
    ("POST", "/v1/findsimilar", {}, "id"),
    ("POST", "/v1/findsimilar", {"id": "x", "limit": 51}, "limit"),
    ("POST", "/v1/stores", {"name": "ok", "workspaceId": "ws_1"}, "workspaceId"),
    ("POST", "/v1/workspaces", {}, "name"),
    ("POST", "/v1/api-keys", {}, "name"),
    ("POST", "/v1/api-keys", {"name": "x", "expiresInDays": "soon"}, "expiresInDays"),
    ("POST", "/v1/sources", {"path": "/x"}, "type"),
    ("GET", "/v1/jobs?limit=abc", None, "limit"),
    ("GET", "/v1/jobs/recent?limit=1000", None, "limit"),
    ("GET", "/v1/jobs/statistics?hours=0", None, "hours"),
    ("GET", "/v1/jobs?stauts=failed", None, "stauts"),  # unknown query parameters are refused
    ("GET", "/v1/stores?workspace=b", None, "workspace"),
    ("POST", "/v1/search?workspaceId=ws_1", {"query": "x"}, "workspaceId"),
]


def test_invalid_requests_are_400_naming_the_field(api: Api) -> None:
    seen: set[str] = set()
    for method, path, body, name in INVALID:
        response = api.call(method, path, **({} if body is None else {"json": body}))
        payload = assert_error(response, 400, "invalid_input")
        assert payload["message"].startswith(name), (path, body, payload["message"])
        seen.add(payload["requestId"])
    assert len(seen) == len(INVALID)


def test_no_422_anywhere(api: Api) -> None:
    spec = api.call("GET", "/openapi.json", 200, key=None).json()
    assert "422" not in str(
        sorted(code for item in spec["paths"].values() for op in item.values() for code in op["responses"])
    )
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for method, path, body, _ in INVALID:
        assert api.call(method, path, **({} if body is None else {"json": body})).status_code != 422


def test_unexpected_errors_are_500_without_details(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "postgres://admin:hunter2-secret@db"

    def explode(*_: Any, **__: Any) -> Any:
        raise RuntimeError(f"connection to {secret} lost")

    monkeypatch.setattr(api.services.workspaces, "stores", explode)
    monkeypatch.setattr(api.services.workspaces, "create_store", explode)
    monkeypatch.setattr(api.services.search, "search", explode)
    calls: list[tuple[str, str, Any]] = [
        ("GET", "/v1/stores", None),
        ("POST", "/v1/search", {"query": "x"}),
        ("POST", "/v1/stores", {"name": "boom"}),
    ]
    for method, path, body in calls:
        response = api.call(method, path, json=body)
        payload = assert_error(response, 500, "internal_error")
        assert payload["message"] == "internal error"
        assert secret not in response.text
        assert "hunter2" not in response.text
        assert "RuntimeError" not in response.text
        assert all(name in response.headers for name in RATE_HEADERS)

    # A failed call does not use up its Idempotency-Key: the retry runs and succeeds.
    key = {"Idempotency-Key": "retry-after-500"}
    assert_error(api.call("POST", "/v1/stores", json={"name": "boom"}, headers=key), 500, "internal_error")
    monkeypatch.undo()
    created = api.call("POST", "/v1/stores", 201, json={"name": "boom"}, headers=key)
    assert "Idempotent-Replayed" not in created.headers
    assert created.json()["name"] == "boom"


# -- rate limit, idempotency, usage ----------------------------------------------------------------


def test_rate_limit(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit_per_minute=3)
    remaining = []
    for _ in range(3):
        response = api.call("GET", "/v1/stores", 200)
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert int(response.headers["X-RateLimit-Reset"]) >= 0
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    limited = api.call("GET", "/v1/stores")
    body = assert_error(limited, 429, "rate_limited")
    assert "retry" in body["message"]
    assert 1 <= int(limited.headers["Retry-After"]) <= 20
    assert limited.headers["X-RateLimit-Limit"] == "3"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(limited.headers["X-RateLimit-Reset"]) <= 60
    # Limits are per key: another key of the workspace still gets through.
    other = api.services.api_keys.create(api.workspace_id, "other").secret
    assert api.call("GET", "/v1/stores", 200, key=other).headers["X-RateLimit-Remaining"] == "2"


def test_every_authed_response_has_rate_limit_headers(api: Api) -> None:
    responses = [
        api.call("GET", "/v1/stores"),
        api.call("POST", "/v1/search", json={"query": "shared"}),
        api.call("GET", "/v1/jobs/job_nope"),
        api.call("POST", "/v1/search", json={"query": ""}),
        api.call("POST", "/v1/stores", json={"name": "docs"}),
        api.call("POST", "/v1/stores", json={"name": "fresh"}, headers={"Idempotency-Key": "k"}),
        api.call("POST", "/v1/stores", json={"name": "fresh"}, headers={"Idempotency-Key": "k"}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 404, 400, 409, 201, 201]
    for response in responses:
        assert all(name in response.headers for name in RATE_HEADERS), response.request.url
        assert response.headers["X-RateLimit-Limit"] == str(api.services.settings.rate_limit_per_minute)
        assert response.headers["X-Request-Id"].startswith("req_")


def test_idempotency_key_replays_the_first_answer(api: Api) -> None:
    headers = {"Idempotency-Key": "create-notes-1"}
    first = api.call("POST", "/v1/stores", 201, json={"name": "notes"}, headers=headers)
    assert "Idempotent-Replayed" not in first.headers
    again = api.call("POST", "/v1/stores", 201, json={"name": "notes"}, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert [s["name"] for s in api.get("/v1/stores")["items"]].count("notes") == 1

    reused = api.call("POST", "/v1/stores", json={"name": "other"}, headers=headers)
    assert_error(reused, 409, "idempotency_key_reused")
    elsewhere = api.call("POST", "/v1/workspaces", json={"name": "notes"}, headers=headers)
    assert_error(elsewhere, 409, "idempotency_key_reused")
    assert "other" not in [s["name"] for s in api.get("/v1/stores")["items"]]

    # Keys are per API key: another key's identical request is a new request.
    other = api.services.api_keys.create(api.workspace_id, "other").secret
    assert_error(
        api.call("POST", "/v1/stores", json={"name": "notes"}, headers=headers, key=other), 409, "conflict"
    )
    # A replayed error is an answer too.
    conflict = {"Idempotency-Key": "dup"}
    assert_error(api.call("POST", "/v1/stores", json={"name": "docs"}, headers=conflict), 409, "conflict")
    replay = api.call("POST", "/v1/stores", json={"name": "docs"}, headers=conflict)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["error"] == "conflict"
    too_long = api.call("POST", "/v1/stores", json={"name": "x"}, headers={"Idempotency-Key": "k" * 256})
    assert_error(too_long, 400, "invalid_input")
    with api.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 3


def test_reads_ignore_idempotency_keys(api: Api) -> None:
    headers = {"Idempotency-Key": "search-1"}
    one = api.call("POST", "/v1/search", 200, json={"query": "kubernetes"}, headers=headers)
    two = api.call("POST", "/v1/search", 200, json={"query": "invoices"}, headers=headers)
    assert one.json()["data"] != two.json()["data"]
    assert "Idempotent-Replayed" not in two.headers


def test_usage_metrics_and_activities(api: Api) -> None:
    api.search({"query": "kubernetes", "mode": "fast"})
    with api.services.sessions() as session:
        metrics = list(session.scalars(select(Metric).where(Metric.workspace_id == api.workspace_id)))
    types = {m.type for m in metrics}
    assert {"api_calls", "query_latency", "queries_count"} <= types
    call = next(m for m in metrics if m.type == "api_calls")
    assert (call.tags["endpoint"], call.tags["method"], call.tags["status"], call.tags["key"]) == (
        "/v1/search",
        "POST",
        200,
        api.key_id,
    )
    assert next(m for m in metrics if m.type == "queries_count").value == 1
    assert next(m for m in metrics if m.type == "query_latency").value >= 0

    store = api.post("/v1/stores", {"name": "notes"}, status=201)
    api.call("PATCH", f"/v1/stores/{store['id']}", 200, json={"name": "journal"})
    api.call("POST", "/v1/stores", 409, json={"name": "docs"})  # a failed change is no activity
    with api.services.sessions() as session:
        activities = list(
            session.scalars(
                # The API's changes, recorded by the services that made them, with what changed.
                select(Activity)
                .where(Activity.workspace_id == api.workspace_id, Activity.category == "store")
                .order_by(Activity.timestamp)
            )
        )
        calls = session.scalar(select(func.count()).select_from(Metric).where(Metric.type == "api_calls"))
    mine = [a for a in activities if a.entity_id == store["id"]]
    assert [(a.actor_type, a.actor_id, a.action, a.entity_id) for a in mine] == [
        ("api_key", api.key_id, "store.created", store["id"]),
        ("api_key", api.key_id, "store.renamed", store["id"]),
    ]
    assert mine[-1].details == {"from": "notes", "to": "journal"}
    assert mine[-1].summary == "Store renamed: notes → journal"
    assert calls == 4


def test_last_used_is_recorded(api: Api) -> None:
    before = time.time()
    api.get("/v1/stores")
    key = next(k for k in api.get("/v1/api-keys")["items"] if k["id"] == api.key_id)
    assert datetime.fromisoformat(key["lastUsedAt"]).timestamp() >= before - 1
