"""Sentry deliveries end to end (issue 14), on SQLite and PostgreSQL: the real public deliveries in
../shared/fixtures/webhooks/sentry (Sentry's docs and zulip's test data), signed the way Sentry signs
(hex HMAC-SHA256 of the raw body under the integration's client secret), posted to the connection's own
URL, indexed by the job they queue, found by search."""

from __future__ import annotations

import copy
import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.app.search import SearchMode, SearchRequest
from lightfast.db.engine import make_engine
from lightfast.db.models import Activity, ConnectedSource, Document, IngestionEvent, Job
from lightfast.db.vendor_models import VendorEntity
from lightfast.errors import InvalidInput
from lightfast.sources.sentry.webhooks import (
    MAX_FRAMES,
    is_fresh,
    parse_delivery,
    parse_timestamp,
    sign,
    verify_signature,
)
from lightfast.testing import FakeClock
from tests.conftest import make_settings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "webhooks" / "sentry"
SECRET = "sentry_client_secret_0123456789abcdef"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
STAMP = str(int(NOW.timestamp()))
ISSUE = "issue:1170820242"
RESOURCE = {
    "issue.created.json": "issue",
    "error.created.json": "error",
    "issue.resolved.zulip.json": "issue",
}


def fixture(name: str = "issue.created.json") -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


def raw(name: str = "issue.created.json") -> bytes:
    return (FIXTURES / name).read_bytes()


def stamp(seconds: int) -> str:
    return str(int(NOW.timestamp()) + seconds)


@dataclass
class World:
    services: Services
    client: TestClient
    workspace_id: str
    source_id: str

    def post(
        self,
        body: bytes | dict[str, Any],
        *,
        resource: str = "issue",
        secret: str = SECRET,
        at: str = STAMP,
        request_id: str | None = None,
        source_id: str | None = None,
    ) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {
            "Sentry-Hook-Signature": sign(secret, data),
            "Sentry-Hook-Resource": resource,
            "Sentry-Hook-Timestamp": at,
            "Request-ID": request_id or str(uuid.uuid4()),
            "Content-Type": "application/json",
        }
        return self.client.post(
            f"/webhooks/sentry/{source_id or self.source_id}", content=data, headers=headers
        )

    def deliver(self, body: bytes | dict[str, Any], **kwargs: Any) -> Any:
        answer = self.post(body, **kwargs)
        assert answer.status_code in (200, 202), answer.text
        for job_id in answer.json()["jobs"]:
            self.services.runner.run_inline(job_id)
        return answer

    def search(self, query: str) -> list[Any]:
        return self.services.search.search(
            SearchRequest(self.workspace_id, query, mode=SearchMode.FAST, source_types=("sentry",))
        ).results

    def count(self, model: Any) -> int:
        with self.services.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def documents(self) -> dict[str, Document]:
        with self.services.sessions() as session:
            rows = list(
                session.scalars(
                    select(Document).where(
                        Document.source_type == "sentry", Document.connection_id == self.source_id
                    )
                )
            )
            # Source ids are "<connection id>:<entity id>" (one connection's documents of its own).
            prefix = f"{self.source_id}:"
            assert all(row.source_id.startswith(prefix) for row in rows)
            return {row.source_id.removeprefix(prefix): row for row in rows}

    def refusals(self) -> list[str]:
        with self.services.sessions() as session:
            rows = session.scalars(select(Activity).where(Activity.action == "webhook.refused"))
            return [str(a.details["reason"]) for a in rows]

    def events(self) -> list[IngestionEvent]:
        with self.services.sessions() as session:
            return list(session.scalars(select(IngestionEvent).order_by(IngestionEvent.id)))


def make_world(
    tmp_path: Path, database_url: str, options: dict[str, str] | None = None
) -> tuple[Services, str, str]:
    settings = make_settings(tmp_path, database_url, webhook_max_age=300)
    services = build_services(
        settings, engine=make_engine(settings.resolved_database_url), clock=FakeClock(NOW)
    )
    workspace_id = services.workspaces.ensure_workspace_id()
    connected = services.vendors.connections.connect(
        workspace_id,
        "sentry",
        name="test-org",
        webhook_secret=SECRET,
        options=options or {"organization": "test-org"},
    )
    return services, workspace_id, connected.source.id


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    services, workspace_id, source_id = make_world(tmp_path, database_url)
    try:
        with TestClient(create_app(services)) as client:
            yield World(services, client, workspace_id, source_id)
    finally:
        services.close()


def comment(
    action: str, text: str, comment_id: int = 1234, at: str = "2026-11-28T11:59:00.118160Z"
) -> dict[str, Any]:
    """Sentry's documented comment delivery, about the fixture's issue."""
    return {
        "action": action,
        "data": {
            "comment": text,
            "project_slug": "front-end",
            "comment_id": comment_id,
            "issue_id": 1170820242,
            "timestamp": at,
        },
        "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
        "actor": {"type": "user", "id": 1, "name": "colleen"},
    }


# -- pure: the signature scheme, freshness, parsing ---------------------------------------------------


def test_the_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    body = raw()
    signature = sign(SECRET, body)
    assert len(signature) == 64
    assert int(signature, 16) >= 0
    assert verify_signature(SECRET, body, signature)
    assert verify_signature(SECRET, body, signature.upper())  # hex digits in either case
    assert not verify_signature(SECRET, body.replace(b"blooopy", b"bloopy"), signature)
    assert not verify_signature(SECRET, json.dumps(json.loads(body)).encode(), signature)  # re-serialised
    assert not verify_signature("another secret", body, signature)
    assert not verify_signature(SECRET, body, None)
    assert not verify_signature(SECRET, body, signature[:-1])
    assert not verify_signature("", body, signature)


@given(st.binary(max_size=200), st.text(max_size=40), st.one_of(st.none(), st.text(max_size=80)))
def test_verification_never_raises(body: bytes, secret: str, header: str | None) -> None:
    assert verify_signature(secret, body, header) in (True, False)


@given(st.binary(max_size=300), st.text(min_size=1, max_size=40))
def test_what_the_secret_signed_verifies_and_nothing_else(body: bytes, secret: str) -> None:
    assert verify_signature(secret, body, sign(secret, body))
    assert not verify_signature(secret + "x", body, sign(secret, body))
    assert not verify_signature(secret, body + b"x", sign(secret, body))


@given(st.integers(min_value=-200_000, max_value=200_000), st.integers(min_value=0, max_value=86_400))
def test_freshness_is_a_window_either_side_of_now(offset: int, max_age: int) -> None:
    assert is_fresh(stamp(offset), NOW, max_age) == (max_age == 0 or abs(offset) <= max_age)
    assert is_fresh(None, NOW, max_age) == (max_age == 0)
    assert is_fresh("yesterday", NOW, max_age) == (max_age == 0)


@given(st.text(max_size=30))
def test_hook_timestamps_never_raise(text: str) -> None:
    parsed = parse_timestamp(text)
    assert parsed is None or parsed.tzinfo is not None


def test_hook_timestamps_are_unix_seconds() -> None:
    assert parse_timestamp("1566248317") == datetime(2019, 8, 19, 20, 58, 37, tzinfo=UTC)
    assert parse_timestamp("1566248317.5") == datetime(2019, 8, 19, 20, 58, 37, 500000, tzinfo=UTC)
    assert parse_timestamp("2019-08-19T20:58:37Z") is None
    assert parse_timestamp("-5") is None
    assert parse_timestamp("¹²³") is None  # digits to str.isdigit, not to int()
    assert parse_timestamp("9" * 30) is None


def test_the_fixtures_parse_to_normalised_deliveries() -> None:
    created = parse_delivery("issue", fixture())
    assert (created.resource, created.action, created.issue_id) == ("issue", "created", "1170820242")
    assert created.issue is not None
    assert created.issue["short_id"] == "FRONT-END-9"
    assert (created.issue["count"], created.issue["user_count"]) == (1, 1)  # "count": "1" is a string
    assert created.issue["project"] == "front-end"
    assert created.installation == "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"
    error = parse_delivery("error", fixture("error.created.json"))
    assert error.event is not None
    assert (error.event["id"], error.issue_id) == ("bb78c1407cea4519aa397afc059c793d", "1170820242")
    [exception] = error.event["exceptions"]
    assert (exception["type"], exception["value"]) == ("ReferenceError", "blooopy is not defined")
    assert exception["frames"][0]["context_line"] == "<meta charset=utf-8>"
    assert error.event["tags"]["browser"] == ["Chrome 75.0.3770"]
    resolved = parse_delivery("issue", fixture("issue.resolved.zulip.json"))
    assert resolved.issue is not None
    assert resolved.issue["status"] == "resolved"
    assert resolved.actor == "Hemanth V. Alluri"
    with_web_url = fixture()
    with_web_url["data"]["issue"]["web_url"] = (
        "https://acme.sentry.example/organizations/acme/issues/1170820242/"
    )
    parsed = parse_delivery("issue", with_web_url).issue
    assert parsed is not None
    assert parsed["permalink"] == with_web_url["data"]["issue"]["web_url"]
    with_web_url["data"]["issue"]["web_url"] = "javascript:alert(1)"
    assert "permalink" not in (parse_delivery("issue", with_web_url).issue or {})


def test_a_deep_stack_keeps_its_innermost_frames_and_says_how_many_went() -> None:
    body = fixture("error.created.json")
    frame = body["data"]["error"]["exception"]["values"][0]["stacktrace"]["frames"][0]
    frames = [{**frame, "lineno": n, "context_line": "x" * 10_000} for n in range(500)]
    body["data"]["error"]["exception"]["values"][0]["stacktrace"]["frames"] = frames
    event = parse_delivery("error", body).event
    assert event is not None
    [exception] = event["exceptions"]
    assert len(exception["frames"]) == MAX_FRAMES
    assert exception["frames"][-1]["lineno"] == 499  # where it was raised
    assert exception["frames_omitted"] == 500 - MAX_FRAMES
    assert max(len(f["context_line"]) for f in exception["frames"]) <= 300


def test_unusable_bodies_are_refused_naming_the_field() -> None:
    cases: list[tuple[str | None, dict[str, Any], str]] = [
        ("issue", {"action": "created", "data": {"issue": {"id": "abc"}}}, "data.issue.id"),
        ("issue", {"action": "created"}, "data"),
        ("issue", {"action": "Created!", "data": {}}, "action"),
        ("error", {"action": "created", "data": {"error": {"event_id": "x"}}}, "data.error"),
        ("comment", {"action": "created", "data": {"comment": "hi"}}, "data.comment_id"),
        ("spans", {"action": "created", "data": {}}, "Sentry-Hook-Resource"),
        (None, {"action": "created", "data": {}}, "Sentry-Hook-Resource"),
    ]
    for resource, body, field in cases:
        with pytest.raises(InvalidInput) as refused:
            parse_delivery(resource, body)
        assert refused.value.field == field, (resource, body)


# -- end to end ----------------------------------------------------------------------------------------


def test_a_signed_issue_created_delivery_is_indexed_and_searchable(world: World) -> None:
    answer = world.deliver(raw())
    assert answer.status_code == 202
    assert answer.json()["result"] == "indexing_enqueued"
    assert answer.json()["delivery"] == answer.request.headers["Request-ID"]
    issue = world.documents()[ISSUE]
    meta = issue.source_metadata
    assert (meta["type"], meta["kind"], meta["issueId"], meta["shortId"]) == (
        "sentry",
        "issue",
        "1170820242",
        "FRONT-END-9",
    )
    assert (meta["level"], meta["status"], meta["culprit"], meta["count"]) == (
        "error",
        "unresolved",
        "?(runner)",
        1,
    )
    assert (meta["firstSeen"], meta["lastSeen"]) == (
        "2019-08-19T20:58:37.391000Z",
        "2019-08-19T20:58:37.391000Z",
    )
    assert issue.url == "https://sentry.io/organizations/test-org/issues/1170820242/"
    assert "blooopy is not defined" in (issue.content or "")
    assert [r.document_id for r in world.search("blooopy is not defined ReferenceError")][:1] == [issue.id]
    [recorded] = world.events()
    assert recorded.event_type == "issue.created"
    assert recorded.event_metadata["issueId"] == "1170820242"
    assert recorded.event_metadata["webhookId"] == "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"
    with world.services.sessions() as session:
        source = session.get(ConnectedSource, world.source_id)
        assert source is not None
        assert source.source_metadata["installationUuid"] == "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"


def test_an_error_delivery_becomes_the_issues_latest_event_text(world: World) -> None:
    world.deliver(raw())
    before = world.documents()[ISSUE].content or ""
    assert "Latest event" not in before
    world.deliver(raw("error.created.json"), resource="error", at=stamp(1))
    issue = world.documents()[ISSUE]
    content = issue.content or ""
    assert "Event bb78c1407cea4519aa397afc059c793d" in content
    assert "ReferenceError: blooopy is not defined" in content
    assert "/runner:3:5" in content
    assert "<meta charset=utf-8>" in content
    assert issue.source_metadata["latestEventId"] == "bb78c1407cea4519aa397afc059c793d"
    assert issue.source_metadata["tags"]["browser.name"] == ["Chrome"]
    assert issue.source_metadata["shortId"] == "FRONT-END-9"  # the issue's fields stay
    assert world.count(Document) == 1


def test_an_error_for_an_issue_not_seen_yet_makes_a_document_from_the_event(world: World) -> None:
    world.deliver(raw("error.created.json"), resource="error")
    issue = world.documents()[ISSUE]
    assert "ReferenceError: blooopy is not defined" in (issue.content or "")
    assert issue.source_metadata["level"] == "error"
    world.deliver(raw(), at=stamp(1))  # the issue, later: its fields join the event's text
    issue = world.documents()[ISSUE]
    assert issue.source_metadata["shortId"] == "FRONT-END-9"
    assert "Event bb78c1407cea4519aa397afc059c793d" in (issue.content or "")


def test_a_late_older_delivery_changes_nothing(world: World) -> None:
    resolved = copy.deepcopy(fixture())
    resolved["action"] = "resolved"
    resolved["data"]["issue"]["status"] = "resolved"
    world.deliver(resolved, at=stamp(10))
    late = world.deliver(raw(), at=stamp(5))  # created, sent before the resolution, arriving after it
    assert late.json()["result"] == "stale"
    assert late.json()["jobs"] == []
    assert world.documents()[ISSUE].source_metadata["status"] == "resolved"


def test_the_same_state_sent_again_later_queues_nothing(world: World) -> None:
    world.deliver(raw())
    again = world.deliver(raw(), at=stamp(3))  # another delivery (a new Request-ID), the same issue
    assert (again.json()["result"], again.json()["jobs"]) == ("recorded", [])
    assert world.count(Job) == 1


def test_two_changes_within_one_second_keep_the_later_arrival(world: World) -> None:
    world.deliver(raw())
    assigned = copy.deepcopy(fixture())
    assigned["action"] = "assigned"
    assigned["data"]["issue"]["assignedTo"] = {"type": "user", "id": "7", "name": "Ada Lovelace"}
    world.deliver(assigned)  # the same second as the creation
    assert world.documents()[ISSUE].source_metadata["assignedTo"] == "Ada Lovelace"


def test_comments_are_children_of_their_issue_and_go_when_deleted(world: World) -> None:
    world.deliver(raw())
    world.deliver(comment("created", "Reverted in FRONT-END-7's fix; see FRONT-END-3"), resource="comment")
    child = world.documents()["comment:1234"]
    issue = world.documents()[ISSUE]
    assert child.parent_doc_id == issue.id
    assert child.source_metadata["issueId"] == "1170820242"
    assert child.source_metadata["shortId"] == "FRONT-END-9"
    assert "Comment on FRONT-END-9" in (child.content or "")
    assert child.source_metadata["author"] == "colleen"  # the delivery's actor
    assert child.relationships is not None
    assert {"FRONT-END-3", "FRONT-END-7"} <= set(child.relationships["mentions"]["sentry"])
    world.deliver(
        comment("updated", "Fixed by the release 2.0", at="2026-11-28T11:59:30Z"), resource="comment"
    )
    assert "release 2.0" in (world.documents()["comment:1234"].content or "")
    world.deliver(
        comment("deleted", "Fixed by the release 2.0", at="2026-11-28T11:59:40Z"), resource="comment"
    )
    assert "comment:1234" not in world.documents()
    assert ISSUE in world.documents()


def test_a_redelivery_is_one_event_and_one_job(world: World) -> None:
    first = world.post(raw(), request_id="req-1")
    again = world.post(raw(), request_id="req-1")
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert (world.count(IngestionEvent), world.count(Job)) == (1, 1)
    # Without Request-ID, the same bytes are the same delivery.
    data = raw("issue.resolved.zulip.json")
    headers = {
        "Sentry-Hook-Signature": sign(SECRET, data),
        "Sentry-Hook-Resource": "issue",
        "Sentry-Hook-Timestamp": STAMP,
    }
    url = f"/webhooks/sentry/{world.source_id}"
    assert world.client.post(url, content=data, headers=headers).json()["duplicate"] is False
    assert world.client.post(url, content=data, headers=headers).json()["duplicate"] is True


def test_forged_unsigned_and_unknown_deliveries_store_nothing_but_a_refusal(world: World) -> None:
    body = raw()
    forged = world.post(body, secret="not the secret")
    unsigned = world.client.post(
        f"/webhooks/sentry/{world.source_id}", content=body, headers={"Sentry-Hook-Resource": "issue"}
    )
    tampered = world.client.post(
        f"/webhooks/sentry/{world.source_id}",
        content=body.replace(b"blooopy", b"bloopy"),
        headers={"Sentry-Hook-Signature": sign(SECRET, body), "Sentry-Hook-Timestamp": STAMP},
    )
    unknown = world.post(body, source_id="src_doesnotexist")
    assert [r.status_code for r in (forged, unsigned, tampered, unknown)] == [401, 401, 401, 401]
    assert unknown.json()["message"] == forged.json()["message"]
    assert (world.count(IngestionEvent), world.count(Job), world.count(VendorEntity)) == (0, 0, 0)
    assert world.refusals() == ["bad_signature"] * 3


def test_stale_oversized_and_malformed_deliveries_are_refused(world: World) -> None:
    stale = world.post(raw(), at=stamp(-301))  # the window is 300 s
    assert stale.status_code == 400
    assert "Sentry-Hook-Timestamp" in stale.json()["message"]
    future = world.post(raw(), at=stamp(301))
    assert future.status_code == 400
    missing = world.post(raw(), at="")
    assert missing.status_code == 400
    assert world.post(raw(), at=stamp(-299)).status_code == 202
    huge = world.post(b"{" + b" " * (1024 * 1024 + 1) + b"}")
    assert huge.status_code == 413
    not_json = world.post(b"{not json")
    assert not_json.status_code == 400
    assert "JSON" in not_json.json()["message"]
    no_issue = world.post({"action": "created", "data": {}})
    assert no_issue.status_code == 400
    assert "data.issue.id" in no_issue.json()["message"]
    bad_resource = world.post(raw(), resource="../../etc")
    assert bad_resource.status_code == 400
    assert "Sentry-Hook-Resource" in bad_resource.json()["message"]
    assert world.refusals() == ["stale", "stale", "stale", "too_large", "invalid", "invalid", "invalid"]
    assert world.count(IngestionEvent) == 1


def test_alerts_and_installations_are_recorded_with_their_issue_not_indexed(world: World) -> None:
    error = fixture("error.created.json")["data"]["error"]
    event_alert = {
        "action": "triggered",
        "data": {"event": error, "triggered_rule": "Send a notification for new issues"},
        "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
        "actor": {"type": "application", "id": "sentry", "name": "Sentry"},
    }
    answer = world.deliver(event_alert, resource="event_alert")
    assert (answer.status_code, answer.json()["result"], answer.json()["jobs"]) == (200, "recorded", [])
    metric_alert = {
        "action": "critical",
        "data": {
            "metric_alert": {"id": "7", "alert_rule": {"name": "p95 latency"}},
            "description_text": "1000 events in the last 10 minutes",
            "description_title": "Critical: p95 latency",
            "web_url": "https://sentry.io/organizations/test-org/alerts/rules/details/7/",
        },
        "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
        "actor": {"type": "application", "id": "sentry", "name": "Sentry"},
    }
    world.deliver(metric_alert, resource="metric_alert")
    world.deliver({"action": "deleted", "data": {"installation": {"uuid": "x"}}}, resource="installation")
    assert world.documents() == {}
    assert "uninstalled" in (world.client.get("/v1/sources").json()["items"][0].get("configMessage") or "")
    world.deliver({"action": "created", "data": {"installation": {"uuid": "x"}}}, resource="installation")
    assert world.client.get("/v1/sources").json()["items"][0].get("configMessage") is None
    recorded = {e.event_type: e.event_metadata for e in world.events()}
    assert set(recorded) == {
        "event_alert.triggered",
        "metric_alert.critical",
        "installation.deleted",
        "installation.created",
    }
    assert recorded["event_alert.triggered"]["issueId"] == "1170820242"
    assert recorded["event_alert.triggered"]["alertRule"] == "Send a notification for new issues"
    assert recorded["metric_alert.critical"]["alertRule"] == "p95 latency"
    with world.services.sessions() as session:
        deliveries = session.scalars(select(Activity).where(Activity.action == "webhook.delivery"))
        assert {a.details["event"] for a in deliveries} == set(recorded)


def test_a_connection_of_some_projects_indexes_only_theirs(tmp_path: Path, database_url: str) -> None:
    services, workspace_id, source_id = make_world(
        tmp_path, database_url, {"organization": "test-org", "projects": "zulip-integration-testing"}
    )
    try:
        with TestClient(create_app(services)) as client:
            world = World(services, client, workspace_id, source_id)
            other = world.deliver(raw())  # front-end
            assert other.json()["result"] == "unhandled"
            assert world.deliver(raw("error.created.json"), resource="error").json()["result"] == "unhandled"
            world.deliver(raw("issue.resolved.zulip.json"))
            assert set(world.documents()) == {"issue:1638821441"}
            assert world.documents()["issue:1638821441"].source_metadata["status"] == "resolved"
    finally:
        services.close()


def test_post_v1_sources_connects_sentry_and_names_bad_fields(world: World) -> None:
    made = world.client.post(
        "/v1/sources",
        json={
            "type": "sentry",
            "organization": "globex",
            "projects": ["web", "api"],
            "webhookSecret": SECRET,
        },
    )
    assert made.status_code == 201, made.text
    shape = made.json()
    assert shape["webhookUrl"].endswith(f"/webhooks/sentry/{shape['id']}")
    assert (shape["name"], shape["mode"]) == ("Sentry globex", "webhook-only")
    with world.services.sessions() as session:
        source = session.get(ConnectedSource, shape["id"])
        assert source is not None
        assert source.source_metadata["sentryOrganizationSlug"] == "globex"
        assert source.source_metadata["sentryProjectSlugs"] == ["api", "web"]
    assert {s["type"] for s in world.client.get("/v1/sources").json()["items"]} == {"sentry"}
    for body, field in [
        ({"type": "sentry", "organization": "Not An Org"}, "organization"),
        ({"type": "sentry"}, "organization"),
        ({"type": "sentry", "organization": "globex", "projects": ["../x"]}, "projects"),
    ]:
        bad = world.client.post("/v1/sources", json=body)
        assert bad.status_code == 400, body
        assert field in bad.json()["message"]


def test_the_connection_shows_on_the_console_and_in_the_api_with_its_documents(world: World) -> None:
    world.deliver(raw())
    page = world.client.get("/sources")
    assert page.status_code == 200, page.text
    assert "Sentry test-org" in page.text
    [listed] = world.client.get("/v1/sources").json()["items"]
    assert (listed["type"], listed["name"]) == ("sentry", "Sentry test-org")
    found = world.client.get("/v1/documents", params={"sourceType": "sentry", "sourceId": ISSUE})
    assert found.status_code == 200, found.text
    assert [d["sourceId"] for d in found.json()["items"]] == [f"{world.source_id}:{ISSUE}"]


@given(st.permutations(range(4)))
def test_issue_deliveries_in_any_order_converge_on_the_newest(order: list[int]) -> None:
    """Pure over the versioning rule: whatever the arrival order, the newest hook time's state wins."""
    from lightfast.app.sentry_backfill import version_after

    versions = [f"2026-11-28T12:00:0{n}.000000Z" for n in range(4)]
    stored: str | None = None
    winner = None
    for n in order:
        version = version_after(stored, versions[n], same=False)
        if stored is None or version > stored:
            stored, winner = version, n
    assert winner == 3
    assert stored == versions[3]


def test_deliveries_in_any_order_and_repeated_converge_on_the_newest(world: World) -> None:
    """Every order of three status changes of one issue (each order on an issue of its own), each
    delivered twice: the index ends with the newest hook time's status every time."""
    states = [("created", "unresolved", 0), ("resolved", "resolved", 5), ("ignored", "ignored", 9)]
    for n, order in enumerate(itertools.permutations(states)):
        for action, status, seconds in order:
            body = copy.deepcopy(fixture())
            body["action"] = action
            body["data"]["issue"].update(id=str(2000 + n), shortId=f"FRONT-END-{100 + n}", status=status)
            for _ in range(2):
                world.deliver(body, at=stamp(seconds), request_id=f"{n}-{action}")
    documents = world.documents()
    assert {documents[f"issue:{2000 + n}"].source_metadata["status"] for n in range(6)} == {"ignored"}


def test_a_disconnected_connection_loses_its_documents_and_refuses_deliveries(world: World) -> None:
    world.deliver(raw())
    world.deliver(comment("created", "a note"), resource="comment")
    assert len(world.documents()) == 2
    enqueued = world.services.sources.disconnect(world.workspace_id, world.source_id)
    assert world.post(raw("issue.resolved.zulip.json")).status_code == 401  # being disconnected
    assert world.services.disconnects.run_inline(enqueued.job_id)[0] == 2
    assert world.documents() == {}
    assert world.count(VendorEntity) == 0
    assert world.post(raw("issue.resolved.zulip.json")).status_code == 401


def test_two_connections_of_one_organization_keep_documents_of_their_own(
    tmp_path: Path, database_url: str
) -> None:
    services, workspace_id, first = make_world(tmp_path, database_url)
    second = services.vendors.connections.connect(
        workspace_id, "sentry", name="test-org-2", webhook_secret=SECRET, options={"organization": "test-org"}
    ).source.id
    try:
        with TestClient(create_app(services)) as client:
            one, two = (
                World(services, client, workspace_id, first),
                World(services, client, workspace_id, second),
            )
            one.deliver(raw())
            two.deliver(raw())
            assert set(one.documents()) == set(two.documents()) == {ISSUE}
            enqueued = services.sources.disconnect(workspace_id, second)
            services.disconnects.run_inline(enqueued.job_id)
            assert set(one.documents()) == {ISSUE}  # the other connection's copy went, not this one
    finally:
        services.close()


def test_the_console_connects_sentry_with_its_own_fields(world: World) -> None:
    import re

    offered = world.client.get("/sources/connect")
    assert offered.status_code == 200, offered.text
    assert "sentry" in offered.text.lower()
    form = world.client.get("/sources/connect", params={"type": "sentry"})
    assert form.status_code == 200, form.text
    for label in ("Sentry organization slug (required)", "project slugs"):
        assert label in form.text
    found = re.search(r'name="csrf-token" content="([^"]+)"', form.text)
    assert found is not None
    fields = {
        "csrf_token": found.group(1),
        "type": "sentry",
        "name": "globex",
        "option_organization": "globex",
        "option_projects": "web, api",
        "webhook_secret": SECRET,
    }
    made = world.client.post("/sources/connect", data=fields, headers={"X-CSRF-Token": found.group(1)})
    assert made.status_code == 200, made.text
    assert "/webhooks/sentry/" in made.text
    with world.services.sessions() as session:
        rows = session.scalars(select(ConnectedSource).where(ConnectedSource.external_key == "globex")).all()
        assert [r.source_metadata["sentryProjectSlugs"] for r in rows] == [["api", "web"]]
    refused = world.client.post(
        "/sources/connect",
        data={**fields, "option_organization": "Globex Corp"},
        headers={"X-CSRF-Token": found.group(1)},
    )
    assert refused.status_code == 400
    assert "organization" in refused.text
    assert SECRET not in refused.text  # a credential is never echoed
