"""Zendesk backfill and reconciliation (issue 14) against the REST stand-in, on SQLite and PostgreSQL:
the incremental ticket export followed by its cursor, each ticket's comments, every help-center article;
rate limits waited out; a crash resumed from the checkpoint with an identical index; deletions upstream
repaired by the next full sync; with a token, a webhook fetches the whole ticket."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.app.search import SearchMode, SearchRequest
from lightfast.app.zendesk_backfill import base_url
from lightfast.db.engine import make_engine
from lightfast.db.models import ConnectedSource, Document, Job
from lightfast.errors import UpstreamError
from lightfast.sources.zendesk.client import ZendeskClient, authorization
from lightfast.sources.zendesk.webhooks import sign
from lightfast.testing import FakeClock
from lightfast.testing.zendesk import ZendeskStandIn
from tests.conftest import make_settings

TOKEN = "zd_standin_token_0123456789"
EMAIL = "agent@acme.example"
SECRET = "zd_signing_secret_0123456789abcdef"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass
class World:
    services: Services
    standin: ZendeskStandIn
    workspace_id: str
    source_id: str
    job_id: str | None
    waits: list[float] = field(default_factory=list)

    def use(self, transport: httpx.BaseTransport, page_size: int = 4) -> None:
        zendesk = self.services.vendors.zendesk
        assert zendesk is not None
        zendesk.transport, zendesk.sleep, zendesk.page_size = transport, self.waits.append, page_size

    def full_sync(self) -> Job:
        job_id = self.services.jobs.enqueue_sync(self.workspace_id, self.source_id, mode="full").job_id
        return self.run(job_id)

    def run(self, job_id: str) -> Job:
        with contextlib.suppress(Exception):  # a failed run: the job row says how
            self.services.runner.run_inline(job_id)
        with self.services.sessions() as session:
            job = session.get(Job, job_id)
            assert job is not None
            return job

    def documents(self) -> dict[str, tuple[str, str, str | None]]:
        with self.services.sessions() as session:
            rows = session.scalars(select(Document).where(Document.source_type == "zendesk"))
            return {row.source_id: (row.content_hash, row.title, row.parent_doc_id) for row in rows}

    def metadata(self) -> dict[str, Any]:
        with self.services.sessions() as session:
            source = session.get(ConnectedSource, self.source_id)
            assert source is not None
            return dict(source.source_metadata)


def populate(standin: ZendeskStandIn, tickets: int = 12) -> None:
    category = standin.add_category("Getting started")
    section = standin.add_section("Accounts", category)
    standin.add_article(
        "How to reset your password",
        "<h2>Steps</h2><ol><li>Open <a href='https://acme.example/settings'>Settings</a></li>"
        "<li>Choose <strong>Reset password</strong></li></ol>",
        section,
        labels=["password", "login"],
    )
    for n in range(tickets):
        ticket = standin.add_ticket(f"Problem number {n} with widget{n}", f"The widget{n} does not spin.")
        if n % 3 == 0:
            standin.add_comment(ticket["id"], f"Agent reply about widget{n}: try turning it off and on.")
            standin.add_comment(ticket["id"], f"Internal: widget{n} is a known defect", public=False)


def connect(services: Services, standin: ZendeskStandIn, world_waits: list[float]) -> World:
    workspace_id = services.workspaces.ensure_workspace_id()
    zendesk = services.vendors.zendesk
    assert zendesk is not None
    zendesk.transport, zendesk.sleep, zendesk.page_size = standin.transport(), world_waits.append, 4
    connected = services.vendors.connections.connect(
        workspace_id,
        "zendesk",
        name="acme",
        token=TOKEN,
        webhook_secret=SECRET,
        options={"subdomain": "acme", "email": EMAIL},
    )
    return World(services, standin, workspace_id, connected.source.id, connected.job_id, world_waits)


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    settings = make_settings(tmp_path, database_url, webhook_max_age=0)
    services = build_services(
        settings, engine=make_engine(settings.resolved_database_url), clock=FakeClock(NOW)
    )
    standin = ZendeskStandIn(TOKEN, EMAIL, export_page=5)
    populate(standin)
    try:
        yield connect(services, standin, [])
    finally:
        services.close()


def test_the_backfill_indexes_tickets_comments_and_articles(world: World) -> None:
    assert world.job_id is not None
    job = world.run(world.job_id)
    assert job.status == "completed", job.error_message
    documents = world.documents()
    # 12 tickets (their first comment is their description: not indexed twice), 4 with a reply and a
    # note, and the article.
    assert len(documents) == 12 + 4 * 2 + 1
    exports = [p for p in world.standin.requests if p.endswith("incremental/tickets/cursor.json")]
    assert len(exports) == 3  # 12 tickets, 5 a page
    article = documents[next(k for k in documents if k.startswith("article:"))]
    assert article[1] == "How to reset your password"
    with world.services.sessions() as session:
        row = session.scalar(select(Document).where(Document.title == "How to reset your password"))
        assert row is not None
        assert row.source_metadata["sectionName"] == "Accounts"
        assert row.source_metadata["categoryName"] == "Getting started"
        assert row.source_metadata["labels"] == ["password", "login"]
        first = session.scalar(select(Document).where(Document.source_id == "ticket:1"))
        assert first is not None
        assert first.source_metadata["commentCount"] == 3  # the description, a reply, a note
        assert "1. Open [Settings](https://acme.example/settings)" in (row.content or "")
        notes = session.scalars(select(Document).where(Document.title.like("Internal note%"))).all()
        assert len(notes) == 4
        assert all(n.source_metadata["public"] is False and n.parent_doc_id for n in notes)
    found = world.services.search.search(
        SearchRequest(world.workspace_id, "widget4 does not spin", mode=SearchMode.FAST)
    )
    assert found.results[0].title == "Ticket #5: Problem number 4 with widget4"
    assert world.metadata()["lastReconciliation"]["deleted"] == 0
    assert "backfill" not in world.metadata()


def test_rate_limits_are_waited_out_as_retry_after_says(world: World) -> None:
    world.standin.rate_limit_next(2)
    assert world.job_id is not None
    assert world.run(world.job_id).status == "completed"
    assert world.waits == [7.0, 7.0]
    assert len(world.documents()) == 21


def test_a_reconciliation_deletes_what_was_deleted_upstream(world: World) -> None:
    assert world.job_id is not None
    world.run(world.job_id)
    world.standin.soft_delete(2)
    world.standin.purge(3)
    world.standin.update_ticket(5, subject="Renamed problem")
    job = world.full_sync()
    assert job.status == "completed", job.error_message
    documents = world.documents()
    assert "ticket:2" not in documents
    assert "ticket:3" not in documents
    assert not [k for k, v in documents.items() if "ticket #2:" in v[1] or "ticket #3:" in v[1]]
    assert documents["ticket:5"][1] == "Ticket #5: Renamed problem"
    assert world.metadata()["lastReconciliation"]["deleted"] >= 1


def test_a_crash_mid_listing_resumes_from_the_checkpoint_with_an_identical_index(
    world: World, tmp_path: Path
) -> None:
    calls = {"n": 0}
    healthy = world.standin.transport()

    def crashing(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] > 9:
            raise httpx.ConnectError("the worker lost its network")
        return healthy.handle_request(request)

    world.use(httpx.MockTransport(crashing))
    assert world.job_id is not None
    failed = world.run(world.job_id)
    assert failed.status == "failed"
    assert "Zendesk could not be reached" in (failed.error_message or "")
    checkpoint = world.metadata()["backfill"]
    assert checkpoint["cursors"]["tickets"]
    assert checkpoint["done"] == []
    world.use(healthy)
    before = len(world.standin.requests)
    assert world.full_sync().status == "completed"
    exports = [p for p in world.standin.requests[before:] if p.endswith("cursor.json")]
    assert len(exports) < 3  # the pages already listed are not asked again
    resumed = world.documents()
    settings = make_settings(tmp_path / "fresh", f"sqlite:///{tmp_path / 'fresh.db'}")
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    try:
        fresh = connect(services, world.standin, [])
        assert fresh.job_id is not None
        assert fresh.run(fresh.job_id).status == "completed"
        again = fresh.documents()
    finally:
        services.close()
    assert {k: v[:2] for k, v in again.items()} == {k: v[:2] for k, v in resumed.items()}


def test_a_cancel_stops_the_listing_between_pages_and_keeps_its_checkpoint(world: World) -> None:
    assert world.job_id is not None
    job_id = world.job_id
    healthy = world.standin.transport()
    calls = {"n": 0}

    def cancelling(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        # The first export page (5 tickets) and their comments are requests 1-6; the cancel comes while
        # the second page's comments are being read.
        if calls["n"] == 8:
            world.services.jobs.cancel(world.workspace_id, job_id)
        return healthy.handle_request(request)

    world.use(httpx.MockTransport(cancelling))
    job = world.run(job_id)
    assert job.status == "cancelled"
    assert calls["n"] == 8  # nothing asked after the cancel, though the page was not finished
    checkpoint = world.metadata()["backfill"]
    assert checkpoint["cursors"]["tickets"]  # resumable after the first page
    assert checkpoint["done"] == []
    assert world.documents() == {}


def test_a_bad_token_fails_the_job_without_showing_it(world: World) -> None:
    wrong = "zd_wrong_token_abcdefghijk"
    world.services.vendors.credentials.store(world.source_id, "token", wrong)
    job = world.full_sync()
    assert job.status == "failed"
    assert "HTTP 401" in (job.error_message or "")
    assert wrong not in (job.error_message or "")


def test_with_a_token_a_webhook_indexes_the_whole_ticket(world: World) -> None:
    assert world.job_id is not None
    world.run(world.job_id)
    world.standin.add_comment(4, "New reply: the spare part ships Monday", public=True)
    world.standin.update_ticket(4, status="pending")
    body = json.dumps(
        {
            "type": "zen:event-type:ticket.comment_added",
            "id": "evt-1",
            "account_id": 1,
            "time": "2026-02-01T00:00:00Z",
            "subject": "zen:ticket:4",
            "detail": {"id": "4", "status": "OPEN"},  # partial and already old: the API is the truth
            "event": {"comment": {"id": "1", "body": "truncated", "is_public": True}},
        }
    ).encode()
    stamp = "2026-11-28T12:00:00Z"
    with TestClient(create_app(world.services)) as client:
        answer = client.post(
            f"/webhooks/zendesk/{world.source_id}",
            content=body,
            headers={
                "X-Zendesk-Webhook-Signature": sign(SECRET, stamp, body),
                "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            },
        )
    assert answer.status_code == 202, answer.text
    for job_id in answer.json()["jobs"]:
        world.services.runner.run_inline(job_id)
    with world.services.sessions() as session:
        ticket = session.scalar(select(Document).where(Document.source_id == "ticket:4"))
        assert ticket is not None
        assert ticket.source_metadata["status"] == "pending"
        replies = session.scalars(select(Document).where(Document.content.like("%spare part ships%"))).all()
        assert [r.parent_doc_id for r in replies] == [ticket.id]


def test_the_client_authenticates_pages_and_never_shows_the_token() -> None:
    standin = ZendeskStandIn(TOKEN, EMAIL)
    populate(standin, tickets=3)
    client = ZendeskClient(
        "https://acme.zendesk.com", TOKEN, EMAIL, transport=standin.transport(), page_size=1
    )
    assert [c["body"] for c in client.comments(1) or []][:1] == ["The widget0 does not spin."]
    assert len(client.comments(1) or []) == 3
    assert client.ticket(999) is None
    assert TOKEN not in repr(client)
    assert authorization(TOKEN, None) == f"Bearer {TOKEN}"
    bearer = ZendeskClient("https://acme.zendesk.com", TOKEN, transport=standin.transport())
    assert bearer.ticket(1) is not None
    wrong = ZendeskClient("https://acme.zendesk.com", "nope-nope", EMAIL, transport=standin.transport())
    with pytest.raises(UpstreamError, match="HTTP 401"):
        wrong.ticket(1)


def test_hostile_answers_are_refused() -> None:
    def answer(body: Any, status: int = 200) -> httpx.MockTransport:
        return httpx.MockTransport(lambda request: httpx.Response(status, json=body))

    hostile: list[Any] = [[], {"tickets": "no"}, {"tickets": [{"id": 1}] * 1001}]
    for body in hostile:
        client = ZendeskClient("https://x.zendesk.com", TOKEN, transport=answer(body))
        with pytest.raises(UpstreamError):
            client.ticket_export_page(None)
    odd = ZendeskClient(
        "https://x.zendesk.com",
        TOKEN,
        transport=answer({"tickets": [{"id": "7"}, {"id": -1}, {"id": True}, "x"], "end_of_stream": True}),
    )
    page = odd.ticket_export_page(None)
    assert [t["id"] for t in page.items] == [7]
    assert not page.has_more
    waits: list[float] = []
    failing = ZendeskClient(
        "https://x.zendesk.com", TOKEN, transport=answer({}, 503), sleep=waits.append, max_retries=2
    )
    with pytest.raises(UpstreamError, match="503"):
        failing.ticket(1)
    assert waits == [1.0, 2.0]


def test_the_base_url_is_a_template_or_an_explicit_url(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    assert base_url(settings, "acme") == "https://acme.zendesk.com"
    explicit = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'x.db'}", zendesk_base_url="http://127.0.0.1:9/"
    )
    assert base_url(explicit, "acme") == "http://127.0.0.1:9"


def test_a_webhook_does_not_wait_out_a_rate_limit_it_indexes_the_delivery(world: World) -> None:
    assert world.job_id is not None
    world.run(world.job_id)
    world.waits.clear()
    world.standin.rate_limit_next(3)  # Retry-After 7 s: longer than a delivery can be kept waiting
    body = json.dumps(
        {
            "type": "zen:event-type:ticket.subject_changed",
            "id": "evt-2",
            "time": "2026-03-01T00:00:00Z",
            "subject": "zen:ticket:6",
            "detail": {
                "id": "6",
                "subject": "Subject from the delivery",
                "updated_at": "2026-03-01T00:00:00Z",
            },
            "event": {"current": "Subject from the delivery"},
        }
    ).encode()
    stamp = "2026-11-28T12:00:00Z"
    with TestClient(create_app(world.services)) as client:
        answer = client.post(
            f"/webhooks/zendesk/{world.source_id}",
            content=body,
            headers={
                "X-Zendesk-Webhook-Signature": sign(SECRET, stamp, body),
                "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            },
        )
    assert answer.status_code == 202, answer.text
    assert "could not be read" in answer.json()["notice"]
    assert world.waits == []
    for job_id in answer.json()["jobs"]:
        world.services.runner.run_inline(job_id)
    assert world.documents()["ticket:6"][1] == "Ticket #6: Subject from the delivery"


def test_newest_comments_come_back_oldest_first() -> None:
    standin = ZendeskStandIn(TOKEN, EMAIL)
    ticket = standin.add_ticket("Many replies", "first")
    for n in range(5):
        standin.add_comment(ticket["id"], f"reply {n}")
    client = ZendeskClient(
        "https://acme.zendesk.com", TOKEN, EMAIL, transport=standin.transport(), page_size=2
    )
    newest = client.comments(ticket["id"], 3, newest=True) or []
    assert [c["body"] for c in newest] == ["reply 2", "reply 3", "reply 4"]
    assert [c["body"] for c in client.comments(ticket["id"]) or []][:2] == ["first", "reply 0"]


def test_a_comment_made_private_upstream_is_a_note_after_the_reconciliation(world: World) -> None:
    assert world.job_id is not None
    world.run(world.job_id)
    reply = world.standin.comments[1][1]
    assert reply["public"] is True
    world.standin.make_private(1, reply["id"])  # Zendesk keeps its id and created_at
    assert world.full_sync().status == "completed"
    with world.services.sessions() as session:
        row = session.scalar(select(Document).where(Document.source_id == f"comment:{reply['id']}"))
        assert row is not None
        assert row.source_metadata["public"] is False
        assert row.title.startswith("Internal note")


def test_a_reconciliation_reads_only_the_comments_of_tickets_that_changed(world: World) -> None:
    assert world.job_id is not None
    world.run(world.job_id)
    before = world.documents()
    start = len(world.standin.requests)
    assert world.full_sync().status == "completed"
    asked = world.standin.requests[start:]
    assert not [p for p in asked if p.endswith("/comments.json")]  # nothing changed: no comment read
    assert world.documents() == before  # and every comment kept, though none was listed again
    world.standin.add_comment(3, "A late reply about widget2", public=True)
    start = len(world.standin.requests)
    assert world.full_sync().status == "completed"
    asked = [p for p in world.standin.requests[start:] if p.endswith("/comments.json")]
    assert asked == ["/api/v2/tickets/3/comments.json"]
    assert len(world.documents()) == len(before) + 1


@given(st.integers(0, 25), st.integers(1, 10), st.integers(1, 30))
@settings(max_examples=30, deadline=None)
def test_comment_pagination_returns_every_comment_in_order(replies: int, page_size: int, newest: int) -> None:
    standin = ZendeskStandIn(TOKEN, EMAIL)
    ticket = standin.add_ticket("Paged", "opening")
    for n in range(replies):
        standin.add_comment(ticket["id"], f"reply {n}", public=n % 3 != 0)
    client = ZendeskClient(
        "https://acme.zendesk.com", TOKEN, EMAIL, transport=standin.transport(), page_size=page_size
    )
    bodies = ["opening", *(f"reply {n}" for n in range(replies))]
    assert [c["body"] for c in client.comments(ticket["id"]) or []] == bodies
    assert [c["body"] for c in client.comments(ticket["id"], newest, newest=True) or []] == bodies[-newest:]


def test_a_renamed_ticket_renames_its_comments_headings(world: World) -> None:
    assert world.job_id is not None
    world.run(world.job_id)
    world.standin.update_ticket(1, subject="Widget zero spins backwards")
    body = json.dumps(
        {
            "type": "zen:event-type:ticket.subject_changed",
            "id": "evt-rename",
            "time": "2026-04-01T00:00:00Z",
            "subject": "zen:ticket:1",
            "detail": {"id": "1"},
            "event": {"current": "Widget zero spins backwards"},
        }
    ).encode()
    stamp = "2026-11-28T12:00:00Z"
    with TestClient(create_app(world.services)) as client:
        answer = client.post(
            f"/webhooks/zendesk/{world.source_id}",
            content=body,
            headers={
                "X-Zendesk-Webhook-Signature": sign(SECRET, stamp, body),
                "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            },
        )
    assert answer.status_code == 202, answer.text
    [job_id] = answer.json()["jobs"]
    world.services.runner.run_inline(job_id)
    with world.services.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert len(job.input["changes"]) == 3  # the ticket, its reply and its note
        titles = sorted(session.scalars(select(Document.title).where(Document.parent_doc_id.is_not(None))))
    renamed = [t for t in titles if t.endswith("Widget zero spins backwards")]
    assert sorted(renamed) == [
        "Comment on ticket #1: Widget zero spins backwards",
        "Internal note on ticket #1: Widget zero spins backwards",
    ]
