"""The HTTP API through FastAPI's test client, on SQLite and PostgreSQL, with the fake embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lightfast import __version__
from lightfast.api.app import create_app
from lightfast.services import Services
from tests.conftest import write

ITEM_KEYS = {"id", "documentId", "title", "path", "sourceType", "url", "snippet", "score"}
CONFIG = "version: 1\nstore: {store}\ninclude:\n  - '**/*.md'\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write(
        tmp_path / "repo",
        {
            "lightfast.yml": CONFIG.format(store="docs"),
            "docs/deploy.md": "# Deploying\n\nDeploy the kubernetes cluster with helm charts. Shared words.",
            "docs/billing.md": "# Billing\n\nInvoices and refunds <b>monthly</b>. Shared words.\n",
            "guides/onboarding.md": "# Onboarding\n\nWelcome new engineers. Shared words.\n",
        },
    )


@pytest.fixture
def client(services: Services, repo: Path) -> Iterator[TestClient]:
    services.ingest.ingest_path(repo)
    with TestClient(create_app(services)) as test_client:
        yield test_client


def search(client: TestClient, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = client.post("/v1/search", json=body)
    assert response.status_code == status, response.text
    payload: dict[str, Any] = response.json()
    return payload


def result_paths(payload: dict[str, Any]) -> list[str]:
    return [item["path"] for item in payload["data"]]


def test_search_response_shape(client: TestClient, repo: Path) -> None:
    payload = search(client, {"query": "kubernetes helm"})
    assert set(payload) == {"data", "meta", "latency", "requestId"}
    assert payload["meta"] == {
        "total": 3,
        "limit": 10,
        "offset": 0,
        "took": payload["latency"]["total"],
        "mode": "hybrid",
    }
    assert set(payload["latency"]) == {"embedding", "retrieval", "fusion", "total"}
    assert all(value >= 0 for value in payload["latency"].values())
    assert payload["requestId"].startswith("req_")
    top = payload["data"][0]
    assert set(top) >= ITEM_KEYS
    assert top["path"] == "docs/deploy.md"
    assert top["title"] == "Deploying"
    assert top["sourceType"] == "local"
    assert top["url"] == (repo / "docs/deploy.md").resolve().as_uri()
    assert top["snippet"] == (
        "# Deploying Deploy the <mark>kubernetes</mark> cluster with <mark>helm</mark> charts. Shared words."
    )
    assert top["score"] > 0
    assert top["id"].startswith(top["documentId"])
    assert len({item["documentId"] for item in payload["data"]}) == len(payload["data"])


def test_request_ids_differ_per_request(client: TestClient) -> None:
    ids = {search(client, {"query": "shared"})["requestId"] for _ in range(3)}
    assert len(ids) == 3


def test_snippet_html_is_escaped(client: TestClient) -> None:
    payload = search(client, {"query": "invoices", "mode": "bm25"})
    assert result_paths(payload) == ["docs/billing.md"]
    snippet = payload["data"][0]["snippet"]
    assert "&lt;b&gt;monthly&lt;/b&gt;" in snippet
    assert "<b>" not in snippet
    assert "<mark>Invoices</mark>" in snippet


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_modes_and_pagination(client: TestClient, mode: str) -> None:
    whole = search(client, {"query": "shared words", "mode": mode, "limit": 3})
    assert whole["meta"]["mode"] == mode
    assert len(whole["data"]) == 3
    first = search(client, {"query": "shared words", "mode": mode, "limit": 2})
    rest = search(client, {"query": "shared words", "mode": mode, "limit": 2, "offset": 2})
    assert rest["meta"]["offset"] == 2
    assert [i["id"] for i in first["data"] + rest["data"]] == [i["id"] for i in whole["data"]]
    if mode == "bm25":
        assert whole["latency"]["embedding"] == 0


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_camel_case_filters(client: TestClient, mode: str) -> None:
    def paths(filters: dict[str, Any]) -> list[str]:
        body = {"query": "shared words", "mode": mode, "filters": filters}
        return sorted(result_paths(search(client, body)))

    everything = ["docs/billing.md", "docs/deploy.md", "guides/onboarding.md"]
    assert paths({}) == everything
    assert paths({"pathPrefix": "guides/"}) == ["guides/onboarding.md"]
    assert paths({"pathPrefix": "docs/"}) == ["docs/billing.md", "docs/deploy.md"]
    assert paths({"pathPrefix": "doc_"}) == []
    assert paths({"sourceTypes": ["local"]}) == everything
    assert paths({"sourceTypes": ["github"]}) == []
    assert paths({"stores": ["docs"]}) == everything


def test_store_filter_across_two_stores(services: Services, client: TestClient, tmp_path: Path) -> None:
    other = write(
        tmp_path / "other", {"lightfast.yml": CONFIG.format(store="notes"), "n.md": "# N\n\nshared words\n"}
    )
    services.ingest.ingest_path(other)
    assert "n.md" in result_paths(search(client, {"query": "shared words"}))
    notes = search(client, {"query": "shared words", "filters": {"stores": ["notes"]}})
    assert result_paths(notes) == ["n.md"]
    assert notes["data"][0]["store"] == "notes"
    docs = search(client, {"query": "shared words", "filters": {"stores": ["docs"]}})
    assert "n.md" not in result_paths(docs)
    assert len(docs["data"]) == 3


def test_snake_case_filters_are_accepted_too(client: TestClient) -> None:
    body = {"query": "shared words", "filters": {"path_prefix": "guides/"}}
    assert result_paths(search(client, body)) == ["guides/onboarding.md"]


INVALID: list[tuple[dict[str, Any], str]] = [
    ({}, "query"),
    ({"query": ""}, "query"),
    ({"query": "x" * 1001}, "query"),
    ({"query": "x", "limit": 0}, "limit"),
    ({"query": "x", "limit": 101}, "limit"),
    ({"query": "x", "offset": -1}, "offset"),
    ({"query": "x", "mode": "fuzzy"}, "mode"),
    ({"query": "x", "bogus": 1}, "bogus"),
    ({"query": "x", "filters": {"sourcetypes": ["local"]}}, "filters.sourcetypes"),
    ({"query": "x", "filters": {"pathPrefix": 3}}, "filters.pathPrefix"),
]


def test_invalid_bodies_are_400(client: TestClient) -> None:
    seen: set[str] = set()
    for body, field in INVALID:
        payload = search(client, body, status=400)
        assert set(payload) == {"error", "message", "requestId"}
        assert payload["error"] == "invalid_input"
        assert payload["message"].startswith(f"{field}: "), (body, payload["message"])
        assert payload["requestId"].startswith("req_")
        seen.add(payload["requestId"])
    assert len(seen) == len(INVALID)


def test_whitespace_query_is_rejected_by_the_service(client: TestClient) -> None:
    payload = search(client, {"query": "   "}, status=400)
    assert payload == {
        "error": "invalid_input",
        "message": "query must not be empty",
        "requestId": payload["requestId"],
    }


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post("/v1/search", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_input"


def test_unknown_workspace_is_404(client: TestClient) -> None:
    payload = search(client, {"query": "x", "workspace": "nope"}, status=404)
    assert payload["error"] == "not_found"
    assert payload["message"] == "workspace 'nope' does not exist"
    assert payload["requestId"].startswith("req_")


def test_unknown_store_is_404(client: TestClient) -> None:
    payload = search(client, {"query": "x", "filters": {"stores": ["nope"]}}, status=404)
    assert payload["error"] == "not_found"
    assert "'nope'" in payload["message"]


def test_named_workspace(services: Services, client: TestClient, tmp_path: Path) -> None:
    team = write(
        tmp_path / "team", {"lightfast.yml": CONFIG.format(store="docs"), "t.md": "# T\n\nplatypus\n"}
    )
    services.ingest.ingest_path(team, "team")
    assert result_paths(search(client, {"query": "platypus", "workspace": "team"})) == ["t.md"]
    assert result_paths(search(client, {"query": "platypus", "mode": "bm25"})) == []


def test_search_page(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Lightfast search</title>" in response.text
    assert "/v1/search" in response.text


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_openapi_lists_search(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert "post" in spec["paths"]["/v1/search"]
    assert "/" not in spec["paths"]
