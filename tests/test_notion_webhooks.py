"""Notion deliveries (issue 13), on SQLite and PostgreSQL: the published test vector, the subscription
handshake, signed events from ../shared/fixtures/webhooks/notion, and what a connection without a token
can and cannot do (events carry ids, not content)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from lightfast.db.models import Activity, Document, IngestionEvent, Job
from lightfast.db.vendor_models import SourceCredential
from lightfast.errors import InvalidInput
from lightfast.sources.notion.webhooks import handshake_token, parse_event, sign, verify_signature
from lightfast.testing.notion import NotionStandIn
from lightfast.testing.notion.server import block
from tests.conftest import make_settings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "webhooks" / "notion"
TOKEN = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"
PUBLISHED_BODY = b'{"verification_token":"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"}'
PUBLISHED = "sha256=461e8cbcba8a75c3edd866f0e71280f5a85cbf21eff040ebd10fe266df38a735"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_the_published_vector_verifies() -> None:
    assert sign(TOKEN, PUBLISHED_BODY) == PUBLISHED
    assert verify_signature(TOKEN, PUBLISHED_BODY, PUBLISHED)
    assert not verify_signature(TOKEN, PUBLISHED_BODY + b"\n", PUBLISHED)
    assert not verify_signature(TOKEN, PUBLISHED_BODY, PUBLISHED.removeprefix("sha256="))  # prefix required
    assert not verify_signature("", PUBLISHED_BODY, PUBLISHED)


@given(st.binary(max_size=200), st.text(max_size=80), st.one_of(st.none(), st.text(max_size=90)))
def test_verification_never_raises(body: bytes, token: str, header: str | None) -> None:
    assert verify_signature(token, body, header) in (True, False)


def test_handshake_and_events_parse() -> None:
    assert handshake_token(json.loads(raw("verification.json"))) == TOKEN
    assert handshake_token(json.loads(raw("page.created.json"))) is None
    with pytest.raises(InvalidInput):
        handshake_token({"verification_token": "x y"})
    created = parse_event(json.loads(raw("page.created.json")))
    assert (created.type, created.entity_type, created.page_id) == ("page.created", "page", created.entity_id)
    comment = parse_event(json.loads(raw("comment.created.page-comment.json")))
    assert comment.entity_type == "comment"
    assert comment.page_id == "0ef104cd-477e-80e1-8571-cfd10e92339a"


@dataclass
class World:
    services: Services
    client: TestClient
    source_id: str

    def post(self, body: bytes, signature: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Notion-Signature"] = signature
        return self.client.post(f"/webhooks/notion/{self.source_id}", content=body, headers=headers)

    def count(self, model: Any) -> int:
        with self.services.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    settings = make_settings(tmp_path, database_url)
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    try:
        workspace_id = services.workspaces.ensure_workspace_id()
        connected = services.vendors.connections.connect(workspace_id, "notion", name="quantify")
        with TestClient(create_app(services)) as client:
            yield World(services, client, connected.source.id)
    finally:
        services.close()


def test_the_handshake_is_accepted_once_and_its_token_sealed(world: World) -> None:
    first = world.post(raw("verification.json"))
    assert first.status_code == 200
    assert first.json()["result"] == "verified"
    assert world.services.vendors.credentials.read(world.source_id, "verification_token") == TOKEN
    with world.services.sessions() as session:
        assert all(TOKEN not in row.sealed for row in session.scalars(select(SourceCredential)))
    # A second unsigned "handshake" would let anyone replace the token: refused.
    forged = json.dumps({"verification_token": "secret_attackerchosenvalue123"}).encode()
    assert world.post(forged).status_code == 401
    assert world.services.vendors.credentials.read(world.source_id, "verification_token") == TOKEN


def test_without_a_token_events_are_recorded_and_the_answer_says_why_nothing_is_indexed(world: World) -> None:
    world.post(raw("verification.json"))
    body = raw("page.created.json")
    answer = world.post(body, sign(TOKEN, body))
    assert answer.status_code == 200
    assert answer.json()["result"] == "no_token"
    assert "ids, not content" in answer.json()["notice"]
    again = world.post(body, sign(TOKEN, body))
    assert again.json()["duplicate"] is True
    assert (world.count(IngestionEvent), world.count(Job), world.count(Document)) == (1, 0, 0)
    with world.services.sessions() as session:
        event = session.scalars(select(IngestionEvent)).one()
    assert event.source_type == "notion"
    assert event.status == "ignored"
    assert event.event_metadata["pageId"] == "153104cd-477e-809d-8dc4-ff2d96ae3090"
    assert event.event_metadata["lastEditedTime"] == "2024-12-05T23:55:34.285000Z"


def test_unsigned_forged_and_early_events_are_refused(world: World) -> None:
    body = raw("page.content_updated.json")
    assert world.post(body).status_code == 401  # before the handshake: nothing to verify against
    world.post(raw("verification.json"))
    assert world.post(body).status_code == 401  # unsigned
    assert world.post(body, sign("secret_not_the_token_at_all", body)).status_code == 401
    assert world.post(body.replace(b"Quantify", b"Qu4ntify"), sign(TOKEN, body)).status_code == 401
    assert world.count(IngestionEvent) == 0
    with world.services.sessions() as session:
        reasons = [
            a.details["reason"] for a in session.scalars(select(Activity)) if a.action == "webhook.refused"
        ]
    assert reasons == ["bad_signature"] * 4


# -- with a token: the stand-in's pages, blocks and comments ------------------------------------------

NOTION_KEY = "secret_standin_integration_token"


@pytest.fixture
def api_world(tmp_path: Path, database_url: str) -> Iterator[tuple[World, NotionStandIn, str]]:
    standin = NotionStandIn(NOTION_KEY)
    settings = make_settings(tmp_path, database_url)
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    services.vendors.notion.transport = standin.transport()
    services.vendors.notion.sleep = lambda _seconds: None
    services.vendors.notion.page_size = 3
    try:
        workspace_id = services.workspaces.ensure_workspace_id()
        connected = services.vendors.connections.connect(workspace_id, "notion", name="q", token=NOTION_KEY)
        assert connected.job_id is not None
        with TestClient(create_app(services)) as client:
            yield World(services, client, connected.source.id), standin, connected.job_id
    finally:
        services.close()


def notion_documents(world: World) -> dict[str, Document]:
    with world.services.sessions() as session:
        # Keyed by the page id: the source id also names the connection ("<connection>:<page id>").
        rows = session.scalars(select(Document).where(Document.source_type == "notion"))
        return {d.source_id.removeprefix(f"{world.source_id}:"): d for d in rows}


def test_with_a_token_pages_are_fetched_rendered_and_reconciled(
    api_world: tuple[World, NotionStandIn, str],
) -> None:
    world, standin, job_id = api_world
    runbook = standin.add_page(
        "Deploy runbook",
        [
            block("heading_1", "Rollout"),
            block("paragraph", "Use the blue-green rollout."),
            block("toggle", "Rollback", [block("code", "kubectl rollout undo", language="bash")]),
            block("child_page", title="Postmortems"),
        ],
    )
    row = standin.add_page(
        "Search latency",
        [block("paragraph", "p95 under 100 ms.")],
        database_id="0ef104cd-477e-80e1-8571-cfd10e920000",
        properties={"Status": {"type": "select", "select": {"name": "In Progress"}}},
    )
    for n in range(5):
        standin.add_page(f"Note {n}", [block("bulleted_list_item", f"point {n}")])
    standin.add_comment(runbook["id"], "Checked during the last incident")
    standin.rate_limit_next(1)
    world.services.runner.run_inline(job_id)
    documents = notion_documents(world)
    assert len(documents) == 7 + 1  # the comment is a document of its own
    page = documents[runbook["id"]]
    assert page.title == "Deploy runbook"
    assert page.url == runbook["url"]
    assert "```bash\nkubectl rollout undo\n```" in (page.content or "")
    assert "<summary>Rollback</summary>" in (page.content or "")
    assert "last incident" not in (page.content or "")  # in its child document instead
    (comment,) = [d for d in documents.values() if d.source_metadata["kind"] == "comment"]
    assert comment.parent_doc_id == page.id
    assert comment.title == "Comment: Checked during the last incident"
    assert comment.source_metadata["pageId"] == runbook["id"]
    assert page.source_metadata["kind"] == "doc-page"
    database_row = documents[row["id"]]
    assert database_row.source_metadata["kind"] == "database-page"
    assert database_row.source_metadata["properties"] == {"Status": "In Progress"}
    # A page deleted upstream while no webhook came: the next full sync (the reconciliation) removes it.
    standin.delete_page(row["id"])
    standin.comments[runbook["id"]].clear()  # and a comment resolved (deleted) upstream
    again = world.services.jobs.enqueue_sync(world.services.workspaces.ensure_workspace_id(), world.source_id)
    world.services.runner.run_inline(again.job_id)
    left = notion_documents(world)
    assert row["id"] not in left
    assert [d.source_metadata["kind"] for d in left.values()].count("comment") == 0
    assert runbook["id"] in left


def test_with_a_token_an_event_reindexes_its_page(api_world: tuple[World, NotionStandIn, str]) -> None:
    world, standin, job_id = api_world
    world.services.runner.run_inline(job_id)  # an empty workspace
    world.post(raw("verification.json"))
    page = standin.add_page("Incident review", [block("paragraph", "The first draft.")])
    event = json.loads(raw("page.content_updated.json"))
    event["entity"]["id"] = page["id"]
    event["timestamp"] = "2026-02-01T00:00:00.000Z"
    body = json.dumps(event).encode()
    answer = world.post(body, sign(TOKEN, body))
    assert answer.status_code == 202, answer.text
    world.services.runner.run_inline(answer.json()["jobs"][0])
    assert "first draft" in (notion_documents(world)[page["id"]].content or "")
    older = dict(event, id=str(uuid.uuid4()), timestamp="2026-01-01T00:00:00.000Z")
    late = json.dumps(older).encode()
    assert world.post(late, sign(TOKEN, late)).json()["result"] == "stale"


def test_a_comment_event_indexes_the_comment_as_a_child_of_its_page(
    api_world: tuple[World, NotionStandIn, str],
) -> None:
    """The published comment.created delivery, with a token: the comment is read among its page's comments
    (GET /v1/comments?block_id=) and indexed as a child document of the page."""
    world, standin, job_id = api_world
    event = json.loads(raw("comment.created.page-comment.json"))
    page_id, comment_id = event["data"]["page_id"], event["entity"]["id"]
    page = standin.add_page("Launch checklist", [block("paragraph", "Ship it on Tuesday.")])
    standin.pages[page_id] = {**standin.pages.pop(page["id"]), "id": page_id}  # the delivery's page id
    standin.blocks[page_id] = standin.blocks.pop(page["id"], [])
    world.services.runner.run_inline(job_id)  # the backfill: the page, no comment yet
    world.post(raw("verification.json"))
    standin.add_comment(page_id, "Is Tuesday still the date?")
    standin.comments[page_id][-1]["id"] = comment_id
    event["timestamp"] = "2026-02-01T00:00:00.000Z"
    body = json.dumps(event).encode()
    answer = world.post(body, sign(TOKEN, body))
    assert answer.status_code == 202, answer.text
    world.services.runner.run_inline(answer.json()["jobs"][0])
    documents = notion_documents(world)
    comment, parent = documents[comment_id], documents[page_id]
    assert comment.parent_doc_id == parent.id
    assert "Is Tuesday still the date?" in (comment.content or "")
    children = world.client.get(f"/v1/documents/{parent.id}/children")
    if children.status_code == 200:  # the API answers with the key's workspace (anonymous in dev)
        assert [c["id"] for c in children.json()["items"]] == [comment.id]
    deleted = dict(event, id=str(uuid.uuid4()), type="comment.deleted", timestamp="2026-02-02T00:00:00.000Z")
    body = json.dumps(deleted).encode()
    answer = world.post(body, sign(TOKEN, body))
    world.services.runner.run_inline(answer.json()["jobs"][0])
    assert comment_id not in notion_documents(world)
    assert page_id in notion_documents(world)
