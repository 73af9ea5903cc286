"""Linear deliveries end to end (issue 13), on SQLite and PostgreSQL: the real public deliveries in
../shared/fixtures/webhooks/linear, signed the way Linear signs (hex HMAC-SHA256 of the raw body),
posted to the connection's own URL, indexed by the job they queue, found by search."""

from __future__ import annotations

import copy
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
from lightfast.db.models import Activity, Document, IngestionEvent, Job
from lightfast.db.statuses import JobStatus
from lightfast.db.vendor_models import VendorEntity
from lightfast.sources.linear.webhooks import is_fresh, parse_delivery, sign, verify_signature
from lightfast.testing import FakeClock
from tests.conftest import make_settings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "webhooks" / "linear"
SECRET = "lin_wh_test_signing_secret_0123456789"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


def raw(name: str) -> bytes:
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
        delivery: str | None = None,
        **headers: str,
    ) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {
            "Linear-Signature": sign(secret, data),
            "Linear-Delivery": delivery or str(uuid.uuid4()),
            "Content-Type": "application/json",
            **headers,
        }
        return self.client.post(f"/webhooks/linear/{self.source_id}", content=data, headers=sent)

    def deliver(self, body: bytes | dict[str, Any], **kwargs: Any) -> Any:
        """Post and run the jobs the delivery queued."""
        answer = self.post(body, **kwargs)
        assert answer.status_code in (200, 202), answer.text
        for job_id in answer.json()["jobs"]:
            self.services.runner.run_inline(job_id)
        return answer

    def search(self, query: str) -> list[Any]:
        return self.services.search.search(
            SearchRequest(self.workspace_id, query, mode=SearchMode.FAST, source_types=("linear",))
        ).results

    def count(self, model: Any) -> int:
        with self.services.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def documents(self) -> dict[str, Document]:
        with self.services.sessions() as session:
            rows = session.scalars(select(Document).where(Document.source_type == "linear"))
            # Keyed by the Linear id: the source id also names the connection ("<connection>:<id>").
            return {row.source_id.removeprefix(f"{self.source_id}:"): row for row in rows}


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    settings = make_settings(tmp_path, database_url, webhook_max_age=0)
    clock = FakeClock(NOW)
    services = build_services(settings, engine=make_engine(settings.resolved_database_url), clock=clock)
    try:
        workspace_id = services.workspaces.ensure_workspace_id()
        connected = services.vendors.connections.connect(
            workspace_id, "linear", name="korosuke613", webhook_secret=SECRET
        )
        with TestClient(create_app(services)) as client:
            yield World(services, client, clock, workspace_id, connected.source.id)
    finally:
        services.close()


# -- pure: the signature scheme ----------------------------------------------------------------------


def test_fixture_signatures_verify_and_tampering_does_not() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        body = path.read_bytes()
        assert verify_signature(SECRET, body, sign(SECRET, body))
        assert verify_signature(SECRET, body, sign(SECRET, body).upper())  # hex is case-insensitive
        assert not verify_signature(SECRET, body + b" ", sign(SECRET, body))
        assert not verify_signature("another secret", body, sign(SECRET, body))
        assert not verify_signature(SECRET, body, "sha256=" + sign(SECRET, body))  # Linear has no prefix


@given(st.binary(max_size=200), st.text(max_size=80), st.one_of(st.none(), st.text(max_size=80)))
def test_verification_never_raises(body: bytes, secret: str, header: str | None) -> None:
    assert verify_signature(secret, body, header) in (True, False)


@given(st.integers(min_value=-(10**13), max_value=10**13), st.integers(min_value=0, max_value=86_400))
def test_freshness_is_a_window_either_side_of_now(offset_ms: int, max_age: int) -> None:
    now = 1_764_000_000_000
    assert is_fresh(now + offset_ms, now, max_age) == (max_age == 0 or abs(offset_ms) <= max_age * 1000)
    assert is_fresh(None, now, max_age) == (max_age == 0)
    assert is_fresh(True, now, max_age) == (max_age == 0)


def test_fixtures_parse() -> None:
    issue = parse_delivery(fixture("issue.create.json"))
    assert (issue.action, issue.entity_type, issue.entity_id) == ("create", "Issue", issue.data["id"])
    comment = parse_delivery(fixture("comment.create.json"))
    assert comment.entity_type == "Comment"
    assert comment.indexed
    assert parse_delivery(fixture("project.create.json")).entity_type == "Project"


# -- end to end --------------------------------------------------------------------------------------


def test_an_issue_delivery_is_searchable_by_words_by_identifier_and_by_state(world: World) -> None:
    answer = world.deliver(raw("issue.create.json"))
    assert answer.status_code == 202
    assert answer.json()["result"] == "indexing_enqueued"
    issue_id = fixture("issue.create.json")["data"]["id"]
    document = world.documents()[issue_id]
    assert document.source_metadata["identifier"] == "KOR-11"
    assert document.source_metadata["state"] == "Backlog"
    assert document.source_metadata["type"] == "linear"
    assert document.source_metadata["kind"] == "issue"
    assert document.url == "https://linear.app/korosuke613/issue/KOR-11/webhook-test"
    assert document.title == "KOR-11: webhook test"
    assert [r.document_id for r in world.search("webhook test")][:1] == [document.id]
    assert document.id in [r.document_id for r in world.search("KOR-11")]
    update = world.deliver(raw("issue.update.labels.json"))
    assert update.status_code == 202
    assert world.documents()[issue_id].source_metadata["state"] == "Todo"


def test_a_comment_is_a_child_of_its_issue(world: World) -> None:
    issue = fixture("issue.create.json")
    issue["data"]["id"] = fixture("comment.create.json")["data"]["issueId"]
    world.deliver(issue)
    world.deliver(raw("comment.create.json"))
    documents = world.documents()
    comment = documents[fixture("comment.create.json")["data"]["id"]]
    parent = documents[issue["data"]["id"]]
    assert comment.parent_doc_id == parent.id
    assert comment.source_metadata["issueIdentifier"] == "KOR-12"
    assert comment.source_metadata["kind"] == "comment"
    assert comment.id in [r.document_id for r in world.search("comment on webhook test 2")]
    assert "コメントだーい" in (comment.content or "")


def test_a_project_is_a_document(world: World) -> None:
    world.deliver(raw("project.create.json"))
    project = world.documents()[fixture("project.create.json")["data"]["id"]]
    assert project.title == "Project: new Project"
    assert project.source_metadata["state"] == "planned"


def test_remove_and_archive_make_an_issue_unsearchable_and_a_newer_update_restores_it(world: World) -> None:
    created = fixture("issue.create.json")
    issue_id = created["data"]["id"]
    world.deliver(created)
    removed = copy.deepcopy(created)
    removed["action"] = "remove"
    world.deliver(removed)
    assert issue_id not in world.documents()
    assert world.search("webhook test") == []
    restored = copy.deepcopy(created)
    restored["action"] = "update"
    restored["data"]["updatedAt"] = "2021-01-31T00:00:00.000Z"
    world.deliver(restored)
    assert issue_id in world.documents()
    archived = copy.deepcopy(restored)
    archived["data"]["updatedAt"] = "2021-02-01T00:00:00.000Z"
    archived["data"]["archivedAt"] = "2021-02-01T00:00:00.000Z"
    world.deliver(archived)
    assert issue_id not in world.documents()


def test_a_stale_or_reordered_delivery_changes_nothing(world: World) -> None:
    world.deliver(raw("issue.update.labels.json"))  # 11:24, state Todo
    before = {k: (d.content_hash, d.source_metadata) for k, d in world.documents().items()}
    jobs = world.count(Job)
    late = world.deliver(raw("issue.create.json"))  # 11:19, state Backlog, arriving after
    assert (late.status_code, late.json()["result"], late.json()["jobs"]) == (200, "stale", [])
    assert {k: (d.content_hash, d.source_metadata) for k, d in world.documents().items()} == before
    assert world.count(Job) == jobs
    with world.services.sessions() as session:
        statuses = [e.status for e in session.scalars(select(IngestionEvent))]
    assert sorted(statuses) == ["ignored", "processed"]


def test_a_redelivery_is_one_event_and_one_job(world: World) -> None:
    first = world.post(raw("issue.create.json"), delivery="d-1")
    again = world.post(raw("issue.create.json"), delivery="d-1")
    assert first.status_code == 202
    assert again.json()["duplicate"] is True
    assert (world.count(IngestionEvent), world.count(Job)) == (1, 1)
    with world.services.sessions() as session:
        rows = session.scalars(
            select(Activity).where(Activity.action == "webhook.delivery").order_by(Activity.timestamp)
        ).all()
    assert [(a.details["result"], a.status, a.source_id, a.details["event"]) for a in rows] == [
        ("indexing_enqueued", "ok", world.source_id, "Issue.create"),
        ("duplicate", "ignored", world.source_id, "Issue.create"),
    ]


def test_a_burst_of_deliveries_coalesces_into_one_job(world: World) -> None:
    answers = [
        world.post(raw(name)) for name in ("issue.create.json", "project.create.json", "comment.create.json")
    ]
    assert all(a.status_code == 202 for a in answers)
    with world.services.sessions() as session:
        queued = [j for j in session.scalars(select(Job)) if j.status == JobStatus.QUEUED]
    assert len(queued) == 1
    assert len(queued[0].input["changes"]) == 3
    world.services.runner.run_inline(queued[0].id)
    assert len(world.documents()) == 3


def test_forged_tampered_and_unknown_deliveries_store_nothing_but_a_refusal(world: World) -> None:
    body = raw("issue.create.json")
    forged = world.post(body, secret="not the secret")
    tampered = world.client.post(
        f"/webhooks/linear/{world.source_id}",
        content=body.replace(b"webhook test", b"webhook hack"),
        headers={"Linear-Signature": sign(SECRET, body)},
    )
    unknown = world.client.post(
        "/webhooks/linear/src_doesnotexist", content=body, headers={"Linear-Signature": sign(SECRET, body)}
    )
    wrong_type = world.client.post(
        f"/webhooks/notion/{world.source_id}", content=body, headers={"Linear-Signature": sign(SECRET, body)}
    )
    assert [r.status_code for r in (forged, tampered, unknown, wrong_type)] == [401, 401, 401, 401]
    assert unknown.json()["message"] == forged.json()["message"]  # an unknown URL is not told apart
    assert (world.count(IngestionEvent), world.count(Job), world.count(VendorEntity)) == (0, 0, 0)
    with world.services.sessions() as session:
        refusals = [a for a in session.scalars(select(Activity)) if a.action == "webhook.refused"]
    assert [a.details["reason"] for a in refusals] == ["bad_signature", "bad_signature"]
    assert all(a.category == "webhook" and a.entity_id == world.source_id for a in refusals)


def test_oversized_and_malformed_deliveries_are_refused(world: World) -> None:
    huge = world.post(b"{" + b" " * (1024 * 1024 + 1) + b"}")
    assert huge.status_code == 413
    not_json = world.post(b"{not json")
    assert not_json.status_code == 400
    assert "JSON" in not_json.json()["message"]
    no_data = world.post({"action": "create", "type": "Issue"})
    assert no_data.status_code == 400
    assert "data" in no_data.json()["message"]
    assert (world.count(IngestionEvent), world.count(VendorEntity)) == (0, 0)


def test_stale_deliveries_are_refused_unless_the_window_is_off(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, webhook_max_age=60)
    clock = FakeClock(NOW)
    services = build_services(settings, engine=make_engine(settings.resolved_database_url), clock=clock)
    try:
        workspace_id = services.workspaces.ensure_workspace_id()
        source_id = services.vendors.connections.connect(
            workspace_id, "linear", webhook_secret=SECRET
        ).source.id
        with TestClient(create_app(services)) as client:
            world = World(services, client, clock, workspace_id, source_id)
            now_ms = int(NOW.timestamp() * 1000)
            fresh = fixture("issue.create.json") | {"webhookTimestamp": now_ms - 30_000}
            stale = fixture("issue.create.json") | {"webhookTimestamp": now_ms - 61_000}
            assert world.post(raw("issue.create.json")).status_code == 400  # no timestamp at all
            answer = world.post(stale)
            assert answer.status_code == 400
            assert "webhookTimestamp" in answer.json()["message"]
            assert world.count(IngestionEvent) == 0
            assert world.post(fresh).status_code == 202
    finally:
        services.close()


def test_the_connection_shows_previews_never_the_secret(world: World) -> None:
    previews = world.services.vendors.credentials.previews(world.source_id)
    assert previews == {"webhook_secret": "••••6789"}
    with world.services.sessions() as session:
        from lightfast.db.vendor_models import SourceCredential

        sealed = [row.sealed for row in session.scalars(select(SourceCredential))]
    assert all(SECRET not in value for value in sealed)


def test_post_v1_sources_connects_linear_and_notion(world: World) -> None:
    linear = world.client.post("/v1/sources", json={"type": "linear", "name": "acme"})
    assert linear.status_code == 201, linear.text
    shape = linear.json()
    assert shape["webhookUrl"].endswith(f"/webhooks/linear/{shape['id']}")
    assert shape["jobId"] is None
    assert shape["mode"] == "webhook-only"
    secret = shape["webhookSecret"]
    assert shape["credentials"] == {"webhook_secret": "••••" + secret[-4:]}
    body = raw("issue.create.json")
    delivered = world.client.post(
        f"/webhooks/linear/{shape['id']}", content=body, headers={"Linear-Signature": sign(secret, body)}
    )
    assert delivered.status_code == 202
    again = world.client.post("/v1/sources", json={"type": "linear", "name": "acme"})
    assert again.json()["id"] == shape["id"]  # one connection per vendor workspace
    assert again.json()["webhookSecret"] is None  # kept, not regenerated: the vendor still signs with it
    assert again.json()["credentials"] == shape["credentials"]
    notion = world.client.post("/v1/sources", json={"type": "notion", "name": "acme"})
    assert notion.status_code == 201
    assert "ids, not content" in notion.json()["notice"]
    assert "webhookSecret" not in notion.json() or notion.json()["webhookSecret"] is None
    bad = world.client.post("/v1/sources", json={"type": "linear", "name": "a/b"})
    assert bad.status_code == 400
    assert "name" in bad.json()["message"]
    unknown = world.client.post("/v1/sources", json={"type": "linear", "secret": "x"})
    assert unknown.status_code == 400


def test_lookup_by_identifier_and_children(world: World) -> None:
    issue = fixture("issue.create.json")
    issue["data"]["id"] = fixture("comment.create.json")["data"]["issueId"]
    issue["data"]["number"] = 12
    world.deliver(issue)
    world.deliver(raw("comment.create.json"))
    by_identifier = world.client.get("/v1/documents", params={"sourceType": "linear", "sourceId": "KOR-12"})
    assert by_identifier.status_code == 200, by_identifier.text
    [found] = by_identifier.json()["items"]
    assert found["sourceId"] == f"{world.source_id}:{issue['data']['id']}"
    assert found["sourceMetadata"]["identifier"] == "KOR-12"
    by_uuid = world.client.get(
        "/v1/documents", params={"sourceType": "linear", "sourceId": issue["data"]["id"]}
    )
    assert [d["id"] for d in by_uuid.json()["items"]] == [found["id"]]
    nothing = world.client.get("/v1/documents", params={"sourceType": "linear", "sourceId": "KOR-1%"})
    assert nothing.json()["items"] == []
    children = world.client.get(f"/v1/documents/{found['id']}/children").json()["items"]
    assert [c["sourceId"] for c in children] == [
        f"{world.source_id}:{fixture('comment.create.json')['data']['id']}"
    ]
    assert children[0]["parentDocId"] == found["id"]
    bad = world.client.get("/v1/documents", params={"sourceType": "jira", "sourceId": "X-1"})
    assert bad.status_code == 400
    assert "sourceType" in bad.json()["message"]
    assert world.client.get("/v1/documents/doc_nope/children").status_code == 404


def test_removing_an_issue_removes_its_comments_and_restoring_it_brings_them_back(world: World) -> None:
    issue = fixture("issue.create.json")
    issue["data"]["id"] = fixture("comment.create.json")["data"]["issueId"]
    world.deliver(issue)
    world.deliver(raw("comment.create.json"))
    comment_id = fixture("comment.create.json")["data"]["id"]
    assert comment_id in world.documents()
    removed = copy.deepcopy(issue)
    removed["action"] = "remove"
    world.deliver(removed)
    assert world.documents() == {}
    restored = copy.deepcopy(issue)
    restored["action"] = "update"
    restored["data"]["updatedAt"] = "2021-02-01T00:00:00.000Z"
    world.deliver(restored)
    documents = world.documents()
    assert comment_id in documents
    assert documents[comment_id].parent_doc_id == documents[issue["data"]["id"]].id


def test_two_connections_of_one_linear_workspace_keep_documents_of_their_own(world: World) -> None:
    """Both index the same issue into the workspace's store: each gets its own document (its source id
    names the connection), so removing it through one leaves the other's, and the lookup finds both."""
    second = world.services.vendors.connections.connect(
        world.workspace_id, "linear", name="korosuke613-eng", webhook_secret=SECRET
    )
    issue = fixture("issue.create.json")
    world.deliver(issue)
    other = World(world.services, world.client, world.clock, world.workspace_id, second.source.id)
    other.deliver(issue)
    with world.services.sessions() as session:
        rows = list(session.scalars(select(Document).where(Document.source_type == "linear")))
    assert sorted(r.connection_id or "" for r in rows) == sorted([world.source_id, second.source.id])
    assert len({r.id for r in rows}) == 2
    found = world.client.get("/v1/documents", params={"sourceType": "linear", "sourceId": "KOR-11"}).json()
    assert len(found["items"]) == 2
    by_id = world.client.get(
        "/v1/documents", params={"sourceType": "linear", "sourceId": issue["data"]["id"]}
    )
    assert len(by_id.json()["items"]) == 2
    removed = copy.deepcopy(issue)
    removed["action"] = "remove"
    removed["data"]["updatedAt"] = "2021-01-30T12:00:00.000Z"
    other.deliver(removed)
    assert issue["data"]["id"] in world.documents()
    assert issue["data"]["id"] not in other.documents()
    assert [r.title for r in world.search("webhook test")] == ["KOR-11: webhook test"]
