"""The relationship scenario of issue 14 on real deliveries: the Vercel deployment and the Sentry issue come
from signed webhook deliveries (the public fixtures, changed to name commit abc1234 of acme/api) through
the Vercel and Sentry sources, the push through the GitHub webhook service, the Linear issue from the
Linear source's renderer. Whatever source wrote them, they link to each other and to the files the
commit changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.db import sources as sources_repo
from lightfast.db import tenancy
from lightfast.db.engine import make_engine
from lightfast.db.models import Document
from lightfast.sources.linear.documents import render
from lightfast.sources.sentry.webhooks import sign as sentry_sign
from lightfast.sources.vercel.webhooks import sign as vercel_sign
from lightfast.testing import FakeClock
from tests.conftest import make_settings
from tests.relationship_kit import SHA, ingest, store_of
from tests.test_relationships_e2e import REPO_ID, edges, push_delivery

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "webhooks"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SENTRY_SECRET = "sentry_client_secret_0123456789abcdef"
VERCEL_SECRET = "vercel_webhook_secret_0123456789abcdef"


def vercel_delivery() -> bytes:
    body = json.loads((FIXTURES / "vercel" / "deployment.ready.json").read_text())
    body["createdAt"] = int(NOW.timestamp() * 1000)
    meta = body["payload"]["deployment"]["meta"]
    meta.update(
        {
            "githubCommitSha": SHA,
            "githubCommitOrg": "acme",
            "githubCommitRepo": "api",
            "githubOrg": "acme",
            "githubRepo": "api",
            "githubCommitMessage": "Fix session expiry (#42)",
            "githubCommitRef": "main",
        }
    )
    return json.dumps(body).encode()


def sentry_delivery() -> bytes:
    body = json.loads((FIXTURES / "sentry" / "error.created.json").read_text())
    body["data"]["error"]["release"] = "abc1234"
    return json.dumps(body).encode()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, Services, str]]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    settings = make_settings(tmp_path, url, webhook_max_age=300, allow_anonymous=False)
    services = build_services(settings, engine=make_engine(url), clock=FakeClock(NOW))
    try:
        with TestClient(create_app(services)) as test_client:
            yield test_client, services, services.api_keys.create(store_of(services).workspace_id, "t").secret
    finally:
        services.close()


def run_jobs(services: Services, answer: Any) -> None:
    assert answer.status_code in (200, 202), answer.text
    for job_id in answer.json().get("jobs", []):
        services.runner.run_inline(job_id)


def test_real_deliveries_link_up(client: tuple[TestClient, Services, str]) -> None:
    http, services, key = client
    store = store_of(services)
    ws = store.workspace_id
    vercel = services.vendors.connections.connect(
        ws,
        "vercel",
        name="acme",
        webhook_secret=VERCEL_SECRET,
        options={"projects": "prj_vt57HZEY7iilPaJv71LcOVLcEiOp"},
    ).source.id
    sentry = services.vendors.connections.connect(
        ws, "sentry", name="test-org", webhook_secret=SENTRY_SECRET, options={"organization": "test-org"}
    ).source.id

    # GitHub: the push (its commits and changed paths), then the files its sync writes.
    with services.sessions.begin() as session:
        sources_repo.ensure_source(
            session,
            organization_id=tenancy.organization_of(session, ws).id,
            workspace_id=ws,
            source_type="github",
            external_key=str(REPO_ID),
            display_name="acme/api",
            metadata={"repoFullName": "acme/api", "defaultBranch": "main"},
        )
    assert services.github_webhooks.receive("push", "d-1", push_delivery()).result == "sync_enqueued"
    files = [
        ingest(
            services, store, "github", f"acme/api:{p}", "x", {"repoFullName": "acme/api", "path": p}, path=p
        )
        for p in ("src/session.py", "docs/sessions.md")
    ]
    issue = render(
        "Issue",
        {
            "id": "5d1c6b1e-0000-4000-8000-000000000007",
            "identifier": "ENG-7",
            "title": "Sessions expire after five minutes",
            "description": "Fixed by acme/api#42.",
            "team": {"key": "ENG"},
            "updatedAt": "2026-11-28T09:00:00.000Z",
        },
    )
    assert issue is not None
    linear = ingest(
        services, store, "linear", issue.entity_id, issue.markdown, issue.metadata, path=issue.path
    )

    body = vercel_delivery()
    run_jobs(
        services,
        http.post(
            f"/webhooks/vercel/{vercel}",
            content=body,
            headers={
                "x-vercel-signature": vercel_sign(VERCEL_SECRET, body),
                "Content-Type": "application/json",
            },
        ),
    )
    body = sentry_delivery()
    run_jobs(
        services,
        http.post(
            f"/webhooks/sentry/{sentry}",
            content=body,
            headers={
                "Sentry-Hook-Signature": sentry_sign(SENTRY_SECRET, body),
                "Sentry-Hook-Resource": "error",
                "Sentry-Hook-Timestamp": str(int(NOW.timestamp())),
                "Request-ID": "r-1",
                "Content-Type": "application/json",
            },
        ),
    )
    headers = {"Authorization": f"Bearer {key}"}

    def lookup(source_type: str) -> str:
        with services.sessions() as session:
            [found] = session.scalars(select(Document.id).where(Document.source_type == source_type))
            return found

    deployment, error = lookup("vercel"), lookup("sentry")

    def related(document: str) -> set[tuple[str, str, str]]:
        answer = http.get(f"/v1/documents/{document}/related", headers=headers)
        assert answer.status_code == 200, answer.text
        return edges(answer.json()["items"])

    assert related(linear) >= {("out", "fixed_by", deployment), *(("out", "fixed_by", f) for f in files)}
    assert related(deployment) >= {
        ("in", "fixed_by", linear),
        ("in", "in_release", error),
        *(("out", "deploys", f) for f in files),
    }
    assert related(error) >= {("out", "in_release", deployment), *(("out", "in_release", f) for f in files)}
