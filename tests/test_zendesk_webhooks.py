"""Zendesk deliveries end to end (issue 14), on SQLite and PostgreSQL: the real public event-subscription
delivery in ../shared/fixtures/webhooks/zendesk, signed the way Zendesk signs (base64 HMAC-SHA256 of
TIMESTAMP + BODY; Zendesk's own worked example reproduces as BODY + TIMESTAMP, and both are accepted),
posted to the connection's own URL, indexed by the job it queues, found by search."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.app.search import SearchMode, SearchRequest
from lightfast.db.engine import make_engine
from lightfast.db.models import Activity, ConnectedSource, Document, IngestionEvent, Job
from lightfast.db.vendor_models import VendorEntity
from lightfast.sources.zendesk.webhooks import (
    is_fresh,
    parse_delivery,
    parse_timestamp,
    sign,
    verify_signature,
)
from lightfast.testing import FakeClock
from tests.conftest import make_settings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "webhooks" / "zendesk"
SECRET = "zd_signing_secret_0123456789abcdef"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
STAMP = "2026-11-28T12:00:00Z"
# Zendesk's documented example (developer.zendesk.com, "Verifying webhook authenticity").
DOC_SECRET = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA="
DOC_BODY = b'{"say": "hello"}'
DOC_TIMESTAMP = "2021-07-25T10:00:00Z"
DOC_SIGNATURE = "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw="


def fixture(name: str = "ticket.created.json") -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


def raw(name: str = "ticket.created.json") -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class World:
    services: Services
    client: TestClient
    clock: FakeClock
    workspace_id: str
    source_id: str

    def post(
        self,
        body: bytes | dict[str, Any],
        *,
        secret: str = SECRET,
        stamp: str = STAMP,
        invocation: str | None = None,
        order: str = "timestamp-body",
        source_id: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = (extra or {}) | {
            "X-Zendesk-Webhook-Signature": sign(secret, stamp, data, order),  # type: ignore[arg-type]
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            "X-Zendesk-Webhook-Invocation-Id": invocation or str(uuid.uuid4()),
            "X-Zendesk-Webhook-Id": "01JH0WEBHOOK",
            "Content-Type": "application/json",
        }
        return self.client.post(
            f"/webhooks/zendesk/{source_id or self.source_id}", content=data, headers=headers
        )

    def deliver(self, body: bytes | dict[str, Any], **kwargs: Any) -> Any:
        answer = self.post(body, **kwargs)
        assert answer.status_code in (200, 202), answer.text
        for job_id in answer.json()["jobs"]:
            self.services.runner.run_inline(job_id)
        return answer

    def search(self, query: str) -> list[Any]:
        return self.services.search.search(
            SearchRequest(self.workspace_id, query, mode=SearchMode.FAST, source_types=("zendesk",))
        ).results

    def count(self, model: Any) -> int:
        with self.services.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def documents(self) -> dict[str, Document]:
        with self.services.sessions() as session:
            rows = session.scalars(select(Document).where(Document.source_type == "zendesk"))
            return {row.source_id: row for row in rows}

    def refusals(self) -> list[str]:
        with self.services.sessions() as session:
            rows = session.scalars(select(Activity).where(Activity.action == "webhook.refused"))
            return [str(a.details["reason"]) for a in rows]


def make_world(tmp_path: Path, database_url: str, **overrides: Any) -> tuple[Services, str, str]:
    settings = make_settings(tmp_path, database_url, **{"webhook_max_age": 300, **overrides})
    services = build_services(
        settings, engine=make_engine(settings.resolved_database_url), clock=FakeClock(NOW)
    )
    workspace_id = services.workspaces.ensure_workspace_id()
    connected = services.vendors.connections.connect(
        workspace_id, "zendesk", name="acme", webhook_secret=SECRET, options={"subdomain": "acme"}
    )
    return services, workspace_id, connected.source.id


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    services, workspace_id, source_id = make_world(tmp_path, database_url)
    try:
        with TestClient(create_app(services)) as client:
            yield World(services, client, FakeClock(NOW), workspace_id, source_id)
    finally:
        services.close()


def event(action: str, **detail: Any) -> dict[str, Any]:
    """The fixture's delivery as another event of the same ticket (a new event id and time)."""
    body = fixture()
    body["type"] = f"zen:event-type:ticket.{action}"
    body["id"] = str(uuid.uuid4())
    body["detail"].update(detail)
    body["time"] = detail.get("updated_at", body["time"])
    return body


# -- pure: the signature scheme against the vectors --------------------------------------------------


def test_zendesks_published_vector_verifies_in_the_order_it_reproduces() -> None:
    assert sign(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY, "body-timestamp") == DOC_SIGNATURE
    assert sign(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY, "timestamp-body") != DOC_SIGNATURE
    assert verify_signature(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY, DOC_SIGNATURE)
    assert not verify_signature(DOC_SECRET, "2021-07-25T10:00:01Z", DOC_BODY, DOC_SIGNATURE)
    assert not verify_signature(DOC_SECRET, DOC_TIMESTAMP, DOC_BODY + b" ", DOC_SIGNATURE)
    assert not verify_signature("another secret", DOC_TIMESTAMP, DOC_BODY, DOC_SIGNATURE)


def test_the_documented_order_verifies_the_fixture_and_tampering_does_not() -> None:
    body = raw()
    documented = sign(SECRET, STAMP, body)  # base64(HMAC(TIMESTAMP + BODY)), the documented formula
    assert verify_signature(SECRET, STAMP, body, documented)
    assert verify_signature(SECRET, STAMP, body, sign(SECRET, STAMP, body, "body-timestamp"))
    assert not verify_signature(SECRET, STAMP, body.replace(b"login", b"logout"), documented)
    assert not verify_signature(SECRET, "2026-11-28T12:00:01Z", body, documented)
    assert not verify_signature(SECRET, None, body, documented)
    assert not verify_signature(SECRET, STAMP, body, documented[:-2])
    assert not verify_signature("", STAMP, body, documented)


@given(
    st.binary(max_size=200),
    st.text(max_size=40),
    st.one_of(st.none(), st.text(max_size=64)),
    st.one_of(st.none(), st.text(max_size=80)),
)
def test_verification_never_raises(body: bytes, secret: str, stamp: str | None, header: str | None) -> None:
    assert verify_signature(secret, stamp, body, header) in (True, False)


@given(st.binary(max_size=300), st.text(min_size=1, max_size=40), st.integers(0, 2**31))
def test_either_order_signed_by_the_secret_verifies(body: bytes, secret: str, seconds: int) -> None:
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for order in ("timestamp-body", "body-timestamp"):
        assert verify_signature(secret, stamp, body, sign(secret, stamp, body, order))
    assert not verify_signature(secret + "x", stamp, body, sign(secret, stamp, body))


@given(st.integers(min_value=-200_000, max_value=200_000), st.integers(min_value=0, max_value=86_400))
def test_freshness_is_a_window_either_side_of_now(offset: int, max_age: int) -> None:
    stamp = (NOW + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert is_fresh(stamp, NOW, max_age) == (max_age == 0 or abs(offset) <= max_age)
    assert is_fresh(None, NOW, max_age) == (max_age == 0)
    assert is_fresh("yesterday", NOW, max_age) == (max_age == 0)


def test_timestamps_iso_or_unix_seconds() -> None:
    assert parse_timestamp("2021-07-25T10:00:00Z") == datetime(2021, 7, 25, 10, tzinfo=UTC)
    assert parse_timestamp("1627207200") == datetime(2021, 7, 25, 10, tzinfo=UTC)
    assert parse_timestamp("2021-07-25T10:00:00") is None  # no zone: not a moment
    assert parse_timestamp("x" * 100) is None


def test_the_fixture_parses_to_a_normalised_ticket() -> None:
    delivery = parse_delivery(fixture())
    assert (delivery.shape, delivery.action, delivery.ticket_id) == ("event", "ticket.created", 5158)
    assert delivery.ticket is not None
    assert delivery.ticket["status"] == "open"
    assert delivery.ticket["priority"] == "high"
    assert delivery.ticket["type"] == "problem"
    assert delivery.ticket["tags"] == ["mobile", "login"]
    assert delivery.ticket["assignee_id"] == 8447388090494
    assert delivery.event_id == "cbe4028c-7239-495d-b020-f22348516046"
    assert delivery.account_id == "22129848"


def test_trigger_bodies_are_read_leniently_but_need_a_ticket_id() -> None:
    flat = parse_delivery({"ticket_id": "77", "title": "Refund please", "status": "Pending"})
    assert (flat.shape, flat.ticket_id, flat.ticket and flat.ticket["subject"]) == (
        "trigger",
        77,
        "Refund please",
    )
    nested = parse_delivery({"ticket": {"id": 78, "description": "hi", "tags": "vip billing"}})
    assert nested.ticket is not None
    assert nested.ticket["tags"] == ["vip", "billing"]
    with pytest.raises(Exception, match="ticket_id"):
        parse_delivery({"subject": "no id"})
    with pytest.raises(Exception, match="detail"):
        parse_delivery({"type": "zen:event-type:ticket.created", "detail": "x"})


# -- end to end --------------------------------------------------------------------------------------


def test_a_signed_ticket_created_delivery_is_indexed_and_searchable(world: World) -> None:
    answer = world.deliver(raw())
    assert answer.status_code == 202
    assert answer.json()["result"] == "indexing_enqueued"
    assert answer.json()["delivery"] == answer.request.headers["X-Zendesk-Webhook-Invocation-Id"]
    ticket = world.documents()["ticket:5158"]
    assert ticket.title == "Ticket #5158: Cannot login to mobile app"
    meta = ticket.source_metadata
    assert (meta["type"], meta["kind"], meta["ticketId"]) == ("zendesk", "ticket", 5158)
    assert (meta["status"], meta["priority"], meta["ticketType"]) == ("open", "high", "problem")
    assert meta["tags"] == ["mobile", "login"]
    assert meta["viaChannel"] == "web_service"
    assert meta["organizationId"] == 8447346622462
    assert ticket.url == "https://acme.zendesk.com/agent/tickets/5158"
    assert "login issues with the mobile app" in (ticket.content or "")
    assert [r.document_id for r in world.search("login issues mobile app")][:1] == [ticket.id]
    with world.services.sessions() as session:
        [recorded] = session.scalars(select(IngestionEvent))
        source = session.get(ConnectedSource, world.source_id)
        assert source is not None
        assert source.source_metadata["zendeskAccountId"] == "22129848"
        assert source.source_metadata["webhookId"] == "01JH0WEBHOOK"
    assert recorded.event_metadata["ticketId"] == 5158
    assert recorded.event_metadata["action"] == "ticket.created"
    assert recorded.event_metadata["webhookId"] == "01JH0WEBHOOK"


def test_the_published_order_is_accepted_end_to_end(world: World) -> None:
    answer = world.post(raw(), order="body-timestamp")
    assert answer.status_code == 202, answer.text


def test_a_status_change_and_a_comment_update_the_ticket_and_add_a_child(world: World) -> None:
    world.deliver(raw())
    changed = event("status_changed", status="PENDING", updated_at="2025-01-08T11:00:00Z")
    changed["event"] = {"current": "PENDING", "previous": "OPEN"}
    world.deliver(changed)
    assert world.documents()["ticket:5158"].source_metadata["status"] == "pending"
    comment = event("comment_added", updated_at="2025-01-08T11:05:00Z")
    comment["event"] = {
        "comment": {
            "id": "9001",
            "body": "Reinstalling the app fixed it; see ticket #5100 for the same crash.",
            "is_public": True,
            "author": {"id": "8447388090494", "is_staff": True, "name": "Ada Agent"},
        }
    }
    world.deliver(comment)
    documents = world.documents()
    child = documents["comment:9001"]
    assert child.parent_doc_id == documents["ticket:5158"].id
    assert child.source_metadata["public"] is True
    assert child.source_metadata["ticketId"] == 5158
    # The ticket it names (the extractor of relationships may add what else the text mentions).
    assert child.relationships is not None
    assert "#5100" in child.relationships["mentions"]["zendesk"]
    assert child.id in [r.document_id for r in world.search("reinstalling the app fixed it")]
    # The partial detail of the later events kept the description the first one carried.
    assert "login issues" in (documents["ticket:5158"].content or "")


def test_private_comments_are_indexed_flagged_unless_the_connection_says_not(
    world: World, tmp_path: Path, database_url: str
) -> None:
    note = event("comment_added", updated_at="2025-01-08T11:05:00Z")
    note["event"] = {
        "comment": {"id": "9002", "body": "Internal: customer is on the legacy plan", "is_public": False}
    }
    world.deliver(raw())
    world.deliver(note)
    assert world.documents()["comment:9002"].source_metadata["public"] is False
    assert world.documents()["comment:9002"].title.startswith("Internal note on ticket #5158")
    services, workspace_id, source_id = make_world(tmp_path / "quiet", f"sqlite:///{tmp_path / 'q.db'}")
    try:
        services.vendors.connections.connect(
            workspace_id, "zendesk", name="acme", options={"subdomain": "acme", "privateComments": "false"}
        )
        with TestClient(create_app(services)) as client:
            quiet = World(services, client, FakeClock(NOW), workspace_id, source_id)
            quiet.deliver(raw())
            quiet.deliver(note)
            assert set(quiet.documents()) == {"ticket:5158"}
            assert quiet.count(VendorEntity) == 2  # kept, so turning notes on again indexes it
            services.vendors.connections.connect(
                workspace_id, "zendesk", name="acme", options={"subdomain": "acme", "privateComments": "true"}
            )
            full = services.jobs.enqueue_sync(workspace_id, source_id, mode="full").job_id
            services.runner.run_inline(full)
            assert set(quiet.documents()) == {"ticket:5158", "comment:9002"}
            off = {"subdomain": "acme", "privateComments": "false"}
            services.vendors.connections.connect(workspace_id, "zendesk", name="acme", options=off)
            again = services.jobs.enqueue_sync(workspace_id, source_id, mode="full").job_id
            services.runner.run_inline(again)
            assert set(quiet.documents()) == {"ticket:5158"}  # off again: the note leaves search
    finally:
        services.close()


def test_a_trigger_delivery_is_indexed_from_what_it_carries(world: World) -> None:
    placeholder: dict[str, Any] = {"ticket": {"id": "{{ticket.id}}"}}
    assert world.post(placeholder).status_code == 400  # an unrendered placeholder is no id
    body: dict[str, Any] = {
        "ticket_id": "4242",
        "title": "Invoice shows the wrong VAT number",
        "status": "Open",
        "latest_comment": "Our VAT number changed in March.",
        "updated_at": "2025-03-01T09:00:00Z",
    }
    answer = world.deliver(body, extra={"X-Zendesk-Account-Id": "123456"})
    assert answer.status_code == 202
    with world.services.sessions() as session:
        source = session.get(ConnectedSource, world.source_id)
        assert source is not None
        assert source.source_metadata["zendeskAccountId"] == "123456"  # a trigger's body does not say
    ticket = world.documents()["ticket:4242"]
    assert ticket.title == "Ticket #4242: Invoice shows the wrong VAT number"
    assert "VAT number changed" in (ticket.content or "")


def test_a_late_older_delivery_changes_nothing(world: World) -> None:
    newer = event("status_changed", status="SOLVED", updated_at="2025-01-09T00:00:00Z")
    world.deliver(newer)
    before = {k: (d.content_hash, d.source_metadata) for k, d in world.documents().items()}
    jobs = world.count(Job)
    late = world.deliver(raw())  # created at 2025-01-08T10:12, arriving after
    assert (late.status_code, late.json()["result"], late.json()["jobs"]) == (200, "stale", [])
    assert {k: (d.content_hash, d.source_metadata) for k, d in world.documents().items()} == before
    assert world.count(Job) == jobs


def test_deletion_removes_the_ticket_and_its_comments_and_undeletion_restores_them(world: World) -> None:
    world.deliver(raw())
    comment = event("comment_added", updated_at="2025-01-08T11:05:00Z")
    comment["event"] = {"comment": {"id": "9003", "body": "Still broken on Android", "is_public": True}}
    world.deliver(comment)
    deleted = event("soft_deleted")
    deleted["time"] = "2025-01-10T00:00:00Z"
    world.deliver(deleted)
    assert world.documents() == {}
    restored = event("undeleted")
    restored["time"] = "2025-01-11T00:00:00Z"
    world.deliver(restored)
    assert set(world.documents()) == {"ticket:5158", "comment:9003"}


def test_a_redelivery_is_one_event_and_one_job(world: World) -> None:
    first = world.post(raw(), invocation="inv-1")
    again = world.post(raw(), invocation="inv-1")
    assert first.status_code == 202
    assert again.json()["duplicate"] is True
    assert (world.count(IngestionEvent), world.count(Job)) == (1, 1)
    # Without the header, the event's own id names the delivery.
    body = event("priority_changed", priority="LOW", updated_at="2025-01-08T12:00:00Z")
    data = json.dumps(body).encode()
    headers = {
        "X-Zendesk-Webhook-Signature": sign(SECRET, STAMP, data),
        "X-Zendesk-Webhook-Signature-Timestamp": STAMP,
    }
    url = f"/webhooks/zendesk/{world.source_id}"
    assert world.client.post(url, content=data, headers=headers).json()["delivery"] == body["id"]
    assert world.client.post(url, content=data, headers=headers).json()["duplicate"] is True


def test_forged_unsigned_and_unknown_deliveries_store_nothing_but_a_refusal(world: World) -> None:
    body = raw()
    forged = world.post(body, secret="not the secret")
    unsigned = world.client.post(f"/webhooks/zendesk/{world.source_id}", content=body)
    tampered = world.client.post(
        f"/webhooks/zendesk/{world.source_id}",
        content=body.replace(b"login", b"logout"),
        headers={
            "X-Zendesk-Webhook-Signature": sign(SECRET, STAMP, body),
            "X-Zendesk-Webhook-Signature-Timestamp": STAMP,
        },
    )
    unknown = world.post(body, source_id="src_doesnotexist")
    assert [r.status_code for r in (forged, unsigned, tampered, unknown)] == [401, 401, 401, 401]
    assert unknown.json()["message"] == forged.json()["message"]
    assert (world.count(IngestionEvent), world.count(Job), world.count(VendorEntity)) == (0, 0, 0)
    assert world.refusals() == ["bad_signature"] * 3


def test_stale_oversized_and_malformed_deliveries_are_refused(world: World) -> None:
    stale = world.post(raw(), stamp="2026-11-28T11:54:59Z")  # 301 s before now, the window is 300
    assert stale.status_code == 400
    assert "X-Zendesk-Webhook-Signature-Timestamp" in stale.json()["message"]
    assert world.post(raw(), stamp="2026-11-28T11:55:01Z").status_code == 202
    huge = world.post(b"{" + b" " * (1024 * 1024 + 1) + b"}")
    assert huge.status_code == 413
    not_json = world.post(b"{not json")
    assert not_json.status_code == 400
    assert "JSON" in not_json.json()["message"]
    no_detail = world.post({"type": "zen:event-type:ticket.created", "id": "x"})
    assert no_detail.status_code == 400
    assert "detail" in no_detail.json()["message"]
    assert world.refusals() == ["stale", "too_large", "invalid", "invalid"]
    assert world.count(IngestionEvent) == 1


def test_other_event_domains_are_recorded_not_indexed(world: World) -> None:
    body = copy.deepcopy(fixture())
    body["type"] = "zen:event-type:user.created"
    body["subject"] = "zen:user:1"
    answer = world.deliver(body)
    assert answer.json()["result"] == "unhandled"
    assert world.documents() == {}


def test_post_v1_sources_connects_zendesk_and_names_bad_fields(world: World) -> None:
    made = world.client.post(
        "/v1/sources",
        json={"type": "zendesk", "subdomain": "globex", "webhookSecret": SECRET, "privateComments": False},
    )
    assert made.status_code == 201, made.text
    shape = made.json()
    assert shape["webhookUrl"].endswith(f"/webhooks/zendesk/{shape['id']}")
    assert shape["name"] == "Zendesk globex"
    assert shape["mode"] == "webhook-only"
    with world.services.sessions() as session:
        source = session.get(ConnectedSource, shape["id"])
        assert source is not None
        assert source.source_metadata["zendeskSubdomain"] == "globex"
        assert source.source_metadata["indexPrivateComments"] is False
    listed = world.client.get("/v1/sources").json()["items"]
    assert {s["type"] for s in listed} == {"zendesk"}
    bad = world.client.post("/v1/sources", json={"type": "zendesk", "subdomain": "Not A Subdomain"})
    assert bad.status_code == 400
    assert "subdomain" in bad.json()["message"]
    missing = world.client.post("/v1/sources", json={"type": "zendesk"})
    assert missing.status_code == 400
    assert "subdomain" in missing.json()["message"]
    email = world.client.post(
        "/v1/sources", json={"type": "zendesk", "subdomain": "globex", "email": "not-an-email"}
    )
    assert email.status_code == 400
    assert "email" in email.json()["message"]


def article_event(action: str, time: str) -> dict[str, Any]:
    """Zendesk's documented article.published payload (its ids are strings)."""
    return {
        "account_id": 10168721,
        "detail": {"brand_id": "224348602", "id": "7005414006398"},
        "event": {
            "author_id": "225859532",
            "category_id": "7005437869694",
            "locale": "en-us",
            "section_id": "7005437870078",
            "title": "Dolor est quo ratione.",
        }
        if action == "published"
        else {},
        "id": str(uuid.uuid4()),
        "subject": "zen:article:7005414006398",
        "time": time,
        "type": f"zen:event-type:article.{action}",
        "zendesk_event_version": "2022-11-06",
    }


def test_article_publication_and_its_end_without_a_token(world: World) -> None:
    published = world.deliver(article_event("published", "2023-04-03T23:11:49.571545199Z"))
    assert published.status_code == 202
    article = world.documents()["article:7005414006398"]
    assert article.title == "Dolor est quo ratione."
    assert article.source_metadata["sectionId"] == 7005437870078
    assert article.source_metadata["locale"] == "en-us"
    vote = world.deliver(article_event("vote_created", "2023-04-04T00:00:00Z"))
    assert vote.json()["result"] == "unhandled"  # says nothing to index without the API
    world.deliver(article_event("unpublished", "2023-04-05T00:00:00Z"))
    assert world.documents() == {}
    late = world.deliver(article_event("published", "2023-04-03T23:11:49Z"))  # an old one, late
    assert late.json()["result"] == "stale"
    assert world.documents() == {}


def test_the_connection_shows_on_the_console_and_in_the_api_with_its_documents(world: World) -> None:
    world.deliver(raw())
    page = world.client.get("/sources")
    assert page.status_code == 200, page.text
    assert f'id="source-{world.source_id}"' in page.text
    assert "Zendesk acme" in page.text
    [listed] = world.client.get("/v1/sources").json()["items"]
    assert (listed["type"], listed["name"]) == ("zendesk", "Zendesk acme")
    found = world.client.get("/v1/documents", params={"sourceType": "zendesk", "sourceId": "ticket:5158"})
    assert found.status_code == 200, found.text
    assert [d["sourceId"] for d in found.json()["items"]] == ["ticket:5158"]


def test_a_comment_made_private_becomes_an_internal_note(world: World) -> None:
    world.deliver(raw())
    added = event("comment_added", updated_at="2025-01-08T11:05:00Z")
    said = {"id": "9004", "body": "Call me at the number on file", "is_public": True}
    added["event"] = {"comment": {**said, "created_at": "2025-01-08T11:05:00Z"}}
    world.deliver(added)
    assert world.documents()["comment:9004"].source_metadata["public"] is True
    hidden = event("comment_made_private", updated_at="2025-01-08T11:30:00Z")
    # The comment keeps its created_at: the change is versioned at the event's time.
    hidden["event"] = {"comment": {"id": "9004", "is_public": False, "created_at": "2025-01-08T11:05:00Z"}}
    world.deliver(hidden)
    note = world.documents()["comment:9004"]
    assert note.source_metadata["public"] is False
    assert note.title.startswith("Internal note on ticket #5158")
    assert "number on file" in (note.content or "")  # the text kept from the first delivery


@given(st.permutations(range(4)), st.lists(st.integers(0, 3), max_size=3))
@settings(max_examples=12, deadline=None)
def test_deliveries_in_any_order_and_repeated_converge_on_the_newest(
    order: list[int], repeats: list[int]
) -> None:
    """Zendesk retries and may deliver out of order: whatever the order, and with redeliveries, the
    stored ticket is the newest version delivered."""
    import tempfile

    statuses = ["NEW", "OPEN", "PENDING", "SOLVED"]
    bodies = [
        json.dumps(event(f"e{n}", status=statuses[n], updated_at=f"2025-01-0{n + 1}T00:00:00Z")).encode()
        for n in range(4)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        services, _, source_id = make_world(Path(tmp), f"sqlite:///{tmp}/p.db")
        try:
            for n in [*order, *repeats]:
                headers = {
                    "x-zendesk-webhook-signature": sign(SECRET, STAMP, bodies[n]),
                    "x-zendesk-webhook-signature-timestamp": STAMP,
                    "x-zendesk-webhook-invocation-id": f"inv-{n}",
                }
                services.vendors.webhooks.receive("zendesk", source_id, headers, bodies[n])
            with services.sessions() as session:
                [row] = session.scalars(select(VendorEntity))
                assert row.payload["ticket"]["status"] == "solved"
                assert row.version == "2025-01-04T00:00:00.000000Z"
                assert session.scalar(select(func.count()).select_from(IngestionEvent)) == 4
        finally:
            services.close()


@given(st.binary(min_size=1, max_size=200), st.data())
def test_any_changed_byte_breaks_the_signature(body: bytes, data: st.DataObject) -> None:
    signature = sign(SECRET, STAMP, body)
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    assert verify_signature(SECRET, STAMP, body, signature)
    assert not verify_signature(SECRET, STAMP, changed, signature)


def test_the_console_connects_zendesk_with_its_own_fields(world: World) -> None:
    import re

    form = world.client.get("/sources/connect", params={"type": "zendesk"})
    assert form.status_code == 200, form.text
    for label in ("Zendesk subdomain (required)", "agent email", "index internal notes"):
        assert label in form.text
    found = re.search(r'name="csrf-token" content="([^"]+)"', form.text)
    assert found is not None
    fields = {
        "csrf_token": found.group(1),
        "type": "zendesk",
        "name": "globex",
        "option_subdomain": "globex",
        "option_privateComments": "false",
        "webhook_secret": SECRET,
    }
    made = world.client.post("/sources/connect", data=fields, headers={"X-CSRF-Token": found.group(1)})
    assert made.status_code == 200, made.text
    assert "/webhooks/zendesk/" in made.text
    with world.services.sessions() as session:
        rows = session.scalars(select(ConnectedSource).where(ConnectedSource.external_key == "globex")).all()
        assert [r.source_metadata["zendeskSubdomain"] for r in rows] == ["globex"]
        assert rows[0].source_metadata["indexPrivateComments"] is False
    refused = world.client.post(
        "/sources/connect",
        data={**fields, "option_subdomain": "Globex Corp"},
        headers={"X-CSRF-Token": found.group(1)},
    )
    assert refused.status_code == 400
    assert "subdomain" in refused.text
    assert SECRET not in refused.text  # a credential is never echoed
