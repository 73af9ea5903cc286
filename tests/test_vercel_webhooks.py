"""Vercel deliveries end to end (issue 14), on SQLite and PostgreSQL: the real public deliveries in
../shared/fixtures/webhooks/vercel (deployment.created and deployment.ready of one deployment), signed
the way Vercel signs (hex HMAC-SHA1 of the raw body under the webhook's secret), posted to the
connection's own URL, indexed by the job they queue, found by search."""

from __future__ import annotations

import contextlib
import json
import re
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
from lightfast.db.models import Activity, ConnectedSource, Document, IngestionEvent
from lightfast.db.vendor_models import VendorEntity
from lightfast.errors import InvalidInput
from lightfast.sources.vercel.webhooks import is_fresh, parse_delivery, sign, verify_signature
from lightfast.testing import FakeClock
from tests.conftest import make_settings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "webhooks" / "vercel"
SECRET = "vercel_webhook_secret_0123456789abcdef"
# The fixtures were sent in October 2023; the clock stands a little after the ready delivery.
NOW = datetime(2023, 10, 27, 9, 9, 0, tzinfo=UTC)
DEPLOYMENT = "deployment:dpl_12yAAMp54JKe1XxonMYqW4oWtK5K"
PROJECT = "prj_vt57HZEY7iilPaJv71LcOVLcEiOp"


def fixture(name: str = "deployment.created.json") -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


def raw(name: str = "deployment.created.json") -> bytes:
    return (FIXTURES / name).read_bytes()


def event(kind: str, created_ms: int, **payload: Any) -> dict[str, Any]:
    """A delivery of the fixture's deployment with another type and time (fields over the fixture's)."""
    body = fixture()
    body.update({"type": kind, "id": uuid.uuid4().hex[:21], "createdAt": created_ms})
    body["payload"].update(payload)
    return body


@dataclass
class World:
    services: Services
    client: TestClient
    workspace_id: str
    source_id: str

    def post(
        self, body: bytes | dict[str, Any], *, secret: str = SECRET, source_id: str | None = None
    ) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"x-vercel-signature": sign(secret, data), "Content-Type": "application/json"}
        return self.client.post(
            f"/webhooks/vercel/{source_id or self.source_id}", content=data, headers=headers
        )

    def deliver(self, body: bytes | dict[str, Any]) -> Any:
        answer = self.post(body)
        assert answer.status_code in (200, 202), answer.text
        for job_id in answer.json()["jobs"]:
            self.services.runner.run_inline(job_id)
        return answer

    def search(self, query: str) -> list[Any]:
        return self.services.search.search(
            SearchRequest(self.workspace_id, query, mode=SearchMode.FAST, source_types=("vercel",))
        ).results

    def count(self, model: Any) -> int:
        with self.services.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def documents(self) -> dict[str, Document]:
        with self.services.sessions() as session:
            rows = session.scalars(select(Document).where(Document.source_type == "vercel"))
            # Keyed "<connection id>:<entity id>": the entity id is what a test knows.
            return {row.source_id.partition(":")[2]: row for row in rows}

    def refusals(self) -> list[str]:
        with self.services.sessions() as session:
            rows = session.scalars(select(Activity).where(Activity.action == "webhook.refused"))
            return [str(a.details["reason"]) for a in rows]

    def events(self) -> list[IngestionEvent]:
        with self.services.sessions() as session:
            return list(session.scalars(select(IngestionEvent).order_by(IngestionEvent.id)))


def make_world(tmp_path: Path, database_url: str, projects: str = PROJECT) -> tuple[Services, str, str]:
    settings = make_settings(tmp_path, database_url, webhook_max_age=300)
    services = build_services(
        settings, engine=make_engine(settings.resolved_database_url), clock=FakeClock(NOW)
    )
    workspace_id = services.workspaces.ensure_workspace_id()
    connected = services.vendors.connections.connect(
        workspace_id, "vercel", name="rick-team", webhook_secret=SECRET, options={"projects": projects}
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


# -- pure: the signature scheme, parsing ---------------------------------------------------------------


def test_the_signature_is_hex_hmac_sha1_of_the_raw_body() -> None:
    body = raw()
    signature = sign(SECRET, body)
    assert len(signature) == 40
    assert verify_signature(SECRET, body, signature)
    assert verify_signature(SECRET, body, signature.upper())
    assert not verify_signature(SECRET, json.dumps(json.loads(body)).encode(), signature)  # re-serialised
    assert not verify_signature("another secret", body, signature)
    assert not verify_signature(SECRET, body, None)
    assert not verify_signature(SECRET, body, signature[:-1])
    assert not verify_signature("", body, signature)


@given(st.binary(max_size=200), st.text(max_size=40), st.one_of(st.none(), st.text(max_size=80)))
def test_verification_never_raises(body: bytes, secret: str, header: str | None) -> None:
    assert verify_signature(secret, body, header) in (True, False)


@given(st.binary(max_size=300), st.text(min_size=1, max_size=40), st.integers(min_value=0, max_value=299))
def test_what_the_secret_signed_verifies_and_no_changed_byte_does(body: bytes, secret: str, at: int) -> None:
    assert verify_signature(secret, body, sign(secret, body))
    assert not verify_signature(secret + "x", body, sign(secret, body))
    if body:
        changed = bytearray(body)
        changed[at % len(body)] ^= 0x01
        assert not verify_signature(secret, bytes(changed), sign(secret, body))


@given(st.integers(min_value=-200_000, max_value=200_000), st.integers(min_value=0, max_value=86_400))
def test_freshness_is_a_window_either_side_of_now(offset: int, max_age: int) -> None:
    from datetime import timedelta

    assert is_fresh(NOW + timedelta(seconds=offset), NOW, max_age) == (max_age == 0 or abs(offset) <= max_age)


def test_the_fixtures_parse_to_normalised_deliveries() -> None:
    created = parse_delivery(fixture())
    assert (created.type, created.delivery_id, created.project_id) == (
        "deployment.created",
        "sucbsHXIrIUZ74zatwFlJ",
        PROJECT,
    )
    assert created.team_id == "team_kTDbLdHFZ0x7HU66LRgZCfpd"
    deployment = created.deployment
    assert deployment is not None
    assert deployment["state"] == "BUILDING"
    assert deployment["commit_sha"] == "d298272f30b0ece055912eb50739ce5106c3d716"
    assert (deployment["branch"], deployment["repo_owner"], deployment["repo_name"]) == (
        "test-webhook",
        "rickastley",
        "accordion-component",
    )
    assert deployment["target"] is None  # "target": null, a preview
    assert deployment["created_at"] == "2023-10-27T09:07:57.664000Z"
    assert deployment["aliases"] == ["accordion-component-git-test-webhook-rick-team.vercel.app"]
    ready = parse_delivery(fixture("deployment.ready.json"))
    assert ready.deployment is not None
    assert ready.deployment["state"] == "READY"
    assert "created_at" not in ready.deployment  # only deployment.created says when it was created


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "Deployment Created"}, "type"),
        ({"id": "../../x"}, "id"),
        ({"createdAt": "yesterday"}, "createdAt"),
        ({"createdAt": -1}, "createdAt"),
        ({"payload": []}, "payload"),
        ({"payload": {"project": {"id": PROJECT}}}, "payload.deployment"),
        ({"payload": {"deployment": {"id": "not-a-deployment"}}}, "payload.deployment.id"),
    ],
)
def test_malformed_envelopes_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_delivery({**fixture(), **change})
    assert refused.value.field == field


@given(
    st.dictionaries(
        st.sampled_from(["type", "id", "createdAt", "payload"]),
        st.from_type(type(None)) | st.integers() | st.text(max_size=20),
    )
)
def test_parsing_hostile_envelopes_raises_only_invalid_input(body: dict[str, Any]) -> None:
    with contextlib.suppress(InvalidInput):
        parse_delivery({**fixture(), **body})


# -- end to end ------------------------------------------------------------------------------------------


def test_signed_deliveries_are_indexed_and_searchable(world: World) -> None:
    answer = world.deliver(raw())
    assert answer.status_code == 202
    assert answer.json()["result"] == "indexing_enqueued"
    [document] = world.documents().values()
    assert document.path == "deployments/dpl_12yAAMp54JKe1XxonMYqW4oWtK5K.md"
    assert document.source_id == f"{world.source_id}:{DEPLOYMENT}"  # keyed per connection
    metadata = document.source_metadata
    assert (metadata["status"], metadata["environment"], metadata["project"]) == (
        "BUILDING",
        "preview",
        "accordion-component",
    )
    assert metadata["commitSha"] == "d298272f30b0ece055912eb50739ce5106c3d716"
    assert metadata["branch"] == "test-webhook"
    assert metadata["repo"] == "rickastley/accordion-component"
    assert metadata["author"] == "Rick Astley"
    assert metadata["deploymentUrl"] == "accordion-component-bkzjdsyk8-rick-team.vercel.app"
    assert metadata["url"].startswith("https://vercel.com/rick-team/accordion-component/")
    assert document.relationships["temporal"] == {
        "deploymentId": "dpl_12yAAMp54JKe1XxonMYqW4oWtK5K",
        "commitSha": "d298272f30b0ece055912eb50739ce5106c3d716",
    }
    world.deliver(raw("deployment.ready.json"))
    [document] = world.documents().values()
    assert document.source_metadata["status"] == "READY"
    assert document.source_metadata["createdAt"] == "2023-10-27T09:07:57.664000Z"  # kept from created
    found = world.search("accordion component deployment test-webhook")
    assert [r.document_id for r in found][:1] == [document.id]


def test_a_redelivery_is_answered_as_a_duplicate(world: World) -> None:
    world.deliver(raw())
    again = world.post(raw())
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert world.count(IngestionEvent) == 1


def test_an_older_state_arriving_late_changes_nothing(world: World) -> None:
    world.deliver(raw("deployment.ready.json"))
    before = world.documents()[DEPLOYMENT].content_hash
    late = world.deliver(raw())  # deployment.created, 8 s older
    assert late.json()["result"] == "stale"
    assert late.json()["jobs"] == []
    assert world.documents()[DEPLOYMENT].content_hash == before
    assert world.documents()[DEPLOYMENT].source_metadata["status"] == "READY"


def test_a_failed_deployment_without_a_token_says_so(world: World) -> None:
    world.deliver(raw())
    world.deliver(event("deployment.error", 1698397690000))
    document = world.documents()[DEPLOYMENT]
    assert document.source_metadata["status"] == "ERROR"
    with world.services.sessions() as session:
        row = session.scalar(select(VendorEntity).where(VendorEntity.entity_id == DEPLOYMENT))
        assert row is not None
        assert row.payload["errors"] is None


def test_unknown_types_are_recorded_never_refused(world: World) -> None:
    for kind in ("deployment.promoted", "deployment.check-rerequested", "integration-configuration.removed"):
        answer = world.post(event(kind, 1698397690000))
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"] == "unhandled"
    assert world.documents() == {}
    assert world.refusals() == []
    assert sorted(e.event_type for e in world.events()) == [
        "deployment.check-rerequested",
        "deployment.promoted",
        "integration-configuration.removed",
    ]


def test_a_removed_project_takes_its_deployments_documents(world: World) -> None:
    world.deliver(raw())
    removed = {
        "type": "project.removed",
        "id": "rm1",
        "createdAt": 1698397700000,
        "payload": {"project": {"id": PROJECT, "name": "accordion-component"}},
    }
    answer = world.deliver(removed)
    assert answer.json()["result"] == "indexing_enqueued"
    assert world.documents() == {}
    other = {**removed, "id": "rm2", "payload": {"project": {"id": "prj_other0000"}}}
    assert world.deliver(other).json()["result"] == "unhandled"  # not one of ours


def test_deliveries_about_other_projects_are_recorded_not_indexed(world: World) -> None:
    answer = world.post(event("deployment.created", 1698397677664, project={"id": "prj_someoneelse"}))
    assert answer.status_code == 200
    assert answer.json()["result"] == "unhandled"
    assert world.documents() == {}


def test_forged_unsigned_stale_oversize_and_malformed_deliveries_are_refused(world: World) -> None:
    body = raw()
    forged = world.post(body, secret="not the secret")
    assert forged.status_code == 401
    unsigned = world.client.post(f"/webhooks/vercel/{world.source_id}", content=body)
    assert unsigned.status_code == 401
    old = event("deployment.created", 1698397677664 - 3_600_000)
    stale = world.post(old)
    assert stale.status_code == 400
    assert "createdAt" in stale.text
    limit = world.services.settings.vendor_max_webhook_bytes
    huge = world.post(body + b" " * (limit + 1))
    assert huge.status_code == 413
    broken = world.post(b'{"type": "deployment.created", ')
    assert broken.status_code == 400
    no_deployment = world.post({**fixture(), "payload": {"project": {"id": PROJECT}}})
    assert no_deployment.status_code == 400
    assert "payload.deployment" in no_deployment.text
    assert world.refusals() == ["bad_signature", "bad_signature", "stale", "too_large", "invalid", "invalid"]
    assert world.count(IngestionEvent) == 0
    assert world.count(VendorEntity) == 0
    assert world.post(body, source_id="no-such-source").status_code == 401


def test_post_v1_sources_connects_vercel_and_names_bad_fields(world: World) -> None:
    made = world.client.post(
        "/v1/sources",
        json={
            "type": "vercel",
            "projects": ["web", PROJECT],
            "team": "team_kTDbLdHFZ0x7HU66LRgZCfpd",
            "webhookSecret": SECRET,
        },
    )
    assert made.status_code == 201, made.text
    shape = made.json()
    assert shape["webhookUrl"].endswith(f"/webhooks/vercel/{shape['id']}")
    assert (shape["name"], shape["mode"]) == ("Vercel web", "webhook-only")
    with world.services.sessions() as session:
        source = session.get(ConnectedSource, shape["id"])
        assert source is not None
        assert source.source_metadata["vercelProjects"] == [PROJECT, "web"]
        assert source.source_metadata["vercelTeamId"] == "team_kTDbLdHFZ0x7HU66LRgZCfpd"
    assert {s["type"] for s in world.client.get("/v1/sources").json()["items"]} == {"vercel"}
    for body, field in [
        ({"type": "vercel"}, "projects"),
        ({"type": "vercel", "projects": []}, "projects"),
        ({"type": "vercel", "projects": ["../x"]}, "projects"),
        ({"type": "vercel", "projects": ["web"], "team": "acme"}, "team"),
    ]:
        bad = world.client.post("/v1/sources", json=body)
        assert bad.status_code == 400, body
        assert field in bad.json()["message"]


def test_the_connection_shows_on_the_console_and_in_the_api_with_its_documents(world: World) -> None:
    world.deliver(raw())
    page = world.client.get("/sources")
    assert page.status_code == 200, page.text
    assert "Vercel rick-team" in page.text
    [listed] = world.client.get("/v1/sources").json()["items"]
    assert (listed["type"], listed["name"]) == ("vercel", "Vercel rick-team")
    found = world.client.get("/v1/documents", params={"sourceType": "vercel", "sourceId": DEPLOYMENT})
    assert found.status_code == 200, found.text
    assert [d["sourceId"] for d in found.json()["items"]] == [f"{world.source_id}:{DEPLOYMENT}"]


def test_two_connections_of_one_project_keep_documents_of_their_own(world: World) -> None:
    other = world.services.vendors.connections.connect(
        world.workspace_id, "vercel", name="other", webhook_secret=SECRET, options={"projects": PROJECT}
    ).source.id
    world.deliver(raw())
    answer = world.post(raw(), source_id=other)
    for job_id in answer.json()["jobs"]:
        world.services.runner.run_inline(job_id)
    with world.services.sessions() as session:
        keys = set(session.scalars(select(Document.source_id).where(Document.source_type == "vercel")))
    assert keys == {f"{world.source_id}:{DEPLOYMENT}", f"{other}:{DEPLOYMENT}"}
    removed = {
        "type": "project.removed",
        "id": "rm-one",
        "createdAt": 1698397700000,
        "payload": {"project": {"id": PROJECT}},
    }
    world.deliver(removed)  # through the first connection only
    with world.services.sessions() as session:
        keys = set(session.scalars(select(Document.source_id).where(Document.source_type == "vercel")))
    assert keys == {f"{other}:{DEPLOYMENT}"}


def test_the_console_connects_vercel_with_its_own_fields(world: World) -> None:
    offered = world.client.get("/sources/connect")
    assert offered.status_code == 200, offered.text
    assert "vercel" in offered.text.lower()
    form = world.client.get("/sources/connect", params={"type": "vercel"})
    assert form.status_code == 200, form.text
    for label in ("Vercel projects (required)", "Vercel team id"):
        assert label in form.text
    found = re.search(r'name="csrf-token" content="([^"]+)"', form.text)
    assert found is not None
    fields = {
        "csrf_token": found.group(1),
        "type": "vercel",
        "name": "marketing",
        "option_projects": "web, prj_abc123",
        "option_team": "team_kTDbLdHFZ0x7HU66LRgZCfpd",
        "webhook_secret": SECRET,
    }
    made = world.client.post("/sources/connect", data=fields, headers={"X-CSRF-Token": found.group(1)})
    assert made.status_code == 200, made.text
    assert "/webhooks/vercel/" in made.text
    with world.services.sessions() as session:
        rows = session.scalars(
            select(ConnectedSource).where(ConnectedSource.external_key == "marketing")
        ).all()
        assert [r.source_metadata["vercelProjects"] for r in rows] == [["prj_abc123", "web"]]
    refused = world.client.post(
        "/sources/connect", data={**fields, "option_team": "acme"}, headers={"X-CSRF-Token": found.group(1)}
    )
    assert refused.status_code == 400
    assert "team" in refused.text
    assert SECRET not in refused.text  # a credential is never echoed


def test_a_retry_after_the_freshness_window_is_a_duplicate_not_a_refusal(world: World) -> None:
    """Vercel's retry of a delivery keeps its createdAt: once handled, it is answered 200 as a duplicate
    however late it comes, so Vercel stops retrying; an unseen delivery that old is still refused."""
    first = world.post(raw())
    assert first.status_code in (200, 202)
    clock = world.services.vendors.webhooks.clock
    assert isinstance(clock, FakeClock)
    clock.advance(3_600)  # an hour: far past LIGHTFAST_WEBHOOK_MAX_AGE
    again = world.post(raw())
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert world.refusals() == []
    unseen = world.post(event("deployment.ready", int(NOW.timestamp() * 1000)))
    assert unseen.status_code == 400
    assert world.refusals() == ["stale"]
