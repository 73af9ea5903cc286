"""Notion deliveries (issue 13), on SQLite and PostgreSQL: the published test vector, the subscription
handshake, signed events from ../shared/fixtures/webhooks/notion, and what a connection without a token
can and cannot do (events carry ids, not content)."""

from __future__ import annotations

import json
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
from lightfast.db.models import Activity, Document, IngestionEvent, Job, SourceCredential
from lightfast.errors import InvalidInput
from lightfast.sources.notion.webhooks import handshake_token, parse_event, sign, verify_signature
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
