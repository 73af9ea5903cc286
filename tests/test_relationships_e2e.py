"""Issue 14's "Done when" for relationships: a Linear issue saying "fixed by acme/api#42", a Vercel
deployment of commit ``abc1234`` and a Sentry issue in release ``abc1234`` are linked to each other and to
the GitHub documents of that commit, through the API, the CLI and MCP.

The push reaches the graph through ``GitHubWebhooks.receive`` (as a verified delivery does), the Linear
issue is rendered by the Linear source's own renderer, and the Vercel and Sentry documents carry the
metadata of seed 004 (Vercel's under Vercel's own ``meta`` names): the graph reads metadata and text,
whichever source wrote them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.cli import app as cli_app
from lightfast.db import sources as sources_repo
from lightfast.db import tenancy
from lightfast.db.engine import make_engine
from lightfast.sources.linear.documents import render
from tests.conftest import make_settings
from tests.relationship_kit import SHA, ingest, store_of
from tests.test_mcp import ServerThread, payload, stdio_session

REPO_ID = 4242


@dataclass(frozen=True)
class Scenario:
    services: Services
    database_url: str
    home: Path
    key: str
    linear: str
    deployment: str
    sentry: str
    files: dict[str, str]  # path -> document id
    unrelated: str


def push_delivery() -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "before": "1" * 40,
        "after": SHA,
        "repository": {"id": REPO_ID, "full_name": "acme/api", "default_branch": "main"},
        "head_commit": {"id": SHA},
        "commits": [
            {
                "id": SHA,
                "message": "Fix session expiry (#42)\n\nSessions now last their full hour.",
                "added": ["docs/sessions.md"],
                "modified": ["src/session.py"],
                "removed": [],
            }
        ],
    }


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    services = build_services(make_settings(tmp_path, url, allow_anonymous=False), engine=make_engine(url))
    try:
        store = store_of(services)
        ws = store.workspace_id
        with services.sessions.begin() as session:
            organization = tenancy.organization_of(session, ws)
            sources_repo.ensure_source(
                session,
                organization_id=organization.id,
                workspace_id=ws,
                source_type="github",
                external_key=str(REPO_ID),
                display_name="acme/api",
                metadata={"repoFullName": "acme/api", "defaultBranch": "main"},
            )
        outcome = services.github_webhooks.receive("push", "delivery-1", push_delivery())
        assert outcome.result == "sync_enqueued"
        files = {
            path: ingest(
                services,
                store,
                "github",
                f"acme/api:{path}",
                text,
                {"repoFullName": "acme/api", "path": path, "commitSha": SHA, "branch": "main"},
                path=path,
            )
            for path, text in (
                ("src/session.py", "def expire(session): return session.age > 3600"),
                ("docs/sessions.md", "Sessions last an hour."),
            )
        }
        unrelated = ingest(
            services,
            store,
            "github",
            "acme/api:README.md",
            "Acme API",
            {"repoFullName": "acme/api"},
            path="README.md",
        )
        issue = render(
            "Issue",
            {
                "id": "5d1c6b1e-0000-4000-8000-000000000007",
                "identifier": "ENG-7",
                "title": "Sessions expire after five minutes",
                "description": "Users are logged out early.\n\nFixed by acme/api#42.",
                "team": {"key": "ENG", "name": "Engineering"},
                "state": {"name": "Done", "type": "completed"},
                "updatedAt": "2026-11-28T09:00:00.000Z",
            },
        )
        assert issue is not None
        linear = ingest(
            services, store, "linear", issue.entity_id, issue.markdown, issue.metadata, path=issue.path
        )
        deployment = ingest(
            services,
            store,
            "vercel",
            "dpl_9fKsE2aXbC",
            "Deployment of acme-api to production: READY.",
            {
                "kind": "deployment",
                "deploymentId": "dpl_9fKsE2aXbC",
                "deploymentUrl": "acme-api-9fkse2axbc.vercel.app",
                "project": "acme-api",
                "environment": "production",
                "status": "READY",
                "commitSha": "abc1234",
                "githubCommitOrg": "acme",
                "githubCommitRepo": "api",
                "commitMessage": "Fix session expiry (#42)",
                "branch": "main",
            },
        )
        sentry = ingest(
            services,
            store,
            "sentry",
            "4509876",
            "TypeError: Cannot read properties of undefined (reading 'age')",
            {
                "kind": "issue",
                "issueId": "4509876",
                "shortId": "API-1A2B",
                "project": "api",
                "level": "error",
                "status": "unresolved",
                "releases": ["abc1234"],
            },
        )
        key = services.api_keys.create(ws, "graph").secret
        yield Scenario(services, url, tmp_path / "home", key, linear, deployment, sentry, files, unrelated)
    finally:
        services.close()


def edges(items: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(i["direction"], i["kind"], i["document"]["id"]) for i in items}


def expected(s: Scenario) -> dict[str, set[tuple[str, str, str]]]:
    source, doc = s.files["src/session.py"], s.files["docs/sessions.md"]
    return {
        s.linear: {("out", "fixed_by", s.deployment), ("out", "fixed_by", source), ("out", "fixed_by", doc)},
        s.deployment: {
            ("in", "fixed_by", s.linear),
            ("in", "in_release", s.sentry),
            ("out", "deploys", source),
            ("out", "deploys", doc),
        },
        s.sentry: {
            ("out", "in_release", s.deployment),
            ("out", "in_release", source),
            ("out", "in_release", doc),
        },
        source: {
            ("in", "fixed_by", s.linear),
            ("in", "deploys", s.deployment),
            ("in", "in_release", s.sentry),
        },
        s.unrelated: set(),
    }


def test_through_the_api(scenario: Scenario) -> None:
    client = TestClient(create_app(scenario.services))
    headers = {"Authorization": f"Bearer {scenario.key}"}
    for document, wanted in expected(scenario).items():
        answer = client.get(f"/v1/documents/{document}/related", headers=headers)
        assert answer.status_code == 200, answer.text
        assert edges(answer.json()["items"]) == wanted, document
    linear = client.get(f"/v1/documents/{scenario.linear}/related", headers=headers).json()
    assert linear["document"]["sourceType"] == "linear"
    fix = next(i for i in linear["items"] if i["document"]["id"] == scenario.deployment)
    assert fix["target"] == {"type": "github", "key": "acme/api#42"}
    assert "Fixed by acme/api#42" in fix["evidence"]
    only_in = client.get(
        f"/v1/documents/{scenario.deployment}/related",
        params={"direction": "in", "sourceType": "sentry"},
        headers=headers,
    ).json()
    assert edges(only_in["items"]) == {("in", "in_release", scenario.sentry)}
    refused = client.get(
        f"/v1/documents/{scenario.linear}/related", params={"kind": "loves"}, headers=headers
    )
    assert refused.status_code == 400
    assert "kind" in refused.json()["message"]
    unknown = client.get(f"/v1/documents/{scenario.linear}/related", params={"limt": 3}, headers=headers)
    assert unknown.status_code == 400


def test_through_the_cli(scenario: Scenario) -> None:
    env = {
        "LIGHTFAST_HOME": str(scenario.home),
        "LIGHTFAST_EMBEDDING_PROVIDER": "fake",
        "LIGHTFAST_DATABASE_URL": scenario.database_url,
        "LIGHTFAST_DEFAULT_WORKSPACE": "default",
        "COLUMNS": "200",
    }
    for document, wanted in expected(scenario).items():
        result = CliRunner().invoke(cli_app, ["related", document, "--json"], env=env)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        assert edges(json.loads(result.stdout)["items"]) == wanted
    text = CliRunner().invoke(cli_app, ["related", scenario.sentry], env=env)
    assert text.exit_code == 0
    assert "in_release" in text.stdout
    assert "dpl_9fKsE2aXbC" in text.stdout
    missing = CliRunner().invoke(cli_app, ["related", "doc_nope"], env=env)
    assert missing.exit_code != 0
    assert "does not exist" in missing.stderr
    relinked = CliRunner().invoke(cli_app, ["relink"], env=env)
    assert relinked.exit_code == 0, relinked.stderr
    assert "Linked 6 documents again." in relinked.stdout
    after = CliRunner().invoke(cli_app, ["related", scenario.linear, "--json"], env=env)
    assert edges(json.loads(after.stdout)["items"]) == expected(scenario)[scenario.linear]


def test_through_mcp(scenario: Scenario, tmp_path: Path) -> None:
    async def run() -> None:
        with anyio.fail_after(60), ServerThread(create_app(scenario.services)) as base_url:
            async with stdio_session(base_url, scenario.key, tmp_path / "mcp.log") as session:
                for document, wanted in expected(scenario).items():
                    found = payload(await session.call_tool("lightfast_related", {"id": document}))
                    got = {(r["direction"], r["kind"], r["documentId"]) for r in found["results"]}
                    assert got == wanted
                out = payload(
                    await session.call_tool("lightfast_related", {"id": scenario.sentry, "direction": "out"})
                )
                assert {r["target"] for r in out["results"]} == {"github_commit:abc1234"}
                missing = await session.call_tool("lightfast_related", {"id": "doc_nope"})
                assert missing.is_error

    anyio.run(run)


def test_search_results_carry_their_related_documents_when_asked(scenario: Scenario) -> None:
    client = TestClient(create_app(scenario.services))
    headers = {"Authorization": f"Bearer {scenario.key}"}
    body = {"query": "sessions expire", "limit": 20, "mode": "fast"}
    plain = client.post("/v1/search", json=body, headers=headers).json()
    assert plain["data"]
    assert all("related" not in hit for hit in plain["data"])  # the shape others rely on, unchanged
    asked = client.post("/v1/search", json={**body, "related": True}, headers=headers).json()
    wanted = expected(scenario)
    for hit in asked["data"]:
        assert len(hit["related"]) <= 5
        assert edges(hit["related"]) <= wanted.get(hit["documentId"], edges(hit["related"]))
    linear_hit = next(hit for hit in asked["data"] if hit["documentId"] == scenario.linear)
    assert edges(linear_hit["related"]) == wanted[scenario.linear]
    refused = client.post("/v1/search", json={**body, "related": "yes"}, headers=headers)
    assert refused.status_code == 400
    assert "related" in refused.json()["message"]


def test_through_the_sdk(scenario: Scenario) -> None:
    from lightfast.sdk import Lightfast, NotFoundError

    http = TestClient(create_app(scenario.services))
    with Lightfast(scenario.key, "http://testserver", http_client=http) as client:
        page = client.related(scenario.sentry)
        assert {(i.direction, i.kind, i.document.id) for i in page.items} == expected(scenario)[
            scenario.sentry
        ]
        assert {i.target.key for i in page.items} == {"abc1234"}
        only = client.related(scenario.deployment, direction="in", source_type="linear")
        assert [(i.kind, i.document.id) for i in only.items] == [("fixed_by", scenario.linear)]
        found = client.search("sessions expire", mode="fast", limit=20, related=True)
        linear = next(hit for hit in found.data if hit.document_id == scenario.linear)
        assert {r.document.id for r in linear.related} == {
            d for _, _, d in expected(scenario)[scenario.linear]
        }
        with pytest.raises(ValueError, match="direction"):
            client.related(scenario.linear, direction="sideways")
        with pytest.raises(NotFoundError):
            client.related("doc_nope")
