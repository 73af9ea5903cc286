"""Sentry backfill and reconciliation (issue 14) against the REST stand-in, on SQLite and PostgreSQL:
every project of the organization (or the connection's), each project's issues followed by the Link
header's cursor, each issue's latest event and comments; rate limits and 5xx waited out; deletions
upstream repaired by the next full sync; with a token, an issue delivery brings its latest event."""

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
from lightfast.db.engine import make_engine
from lightfast.db.models import ConnectedSource, Document, Job
from lightfast.errors import UpstreamError
from lightfast.sources.sentry.client import SentryClient, next_cursor, retry_after
from lightfast.sources.sentry.webhooks import sign
from lightfast.testing import FakeClock
from lightfast.testing.sentry import SentryStandIn
from tests.conftest import make_settings

TOKEN = "sntrys_standin_token_0123456789"
SECRET = "sentry_client_secret_0123456789abcdef"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass
class World:
    services: Services
    standin: SentryStandIn
    workspace_id: str
    source_id: str
    job_id: str | None
    waits: list[float] = field(default_factory=list)

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

    def metadata(self) -> dict[str, Any]:
        with self.services.sessions() as session:
            source = session.get(ConnectedSource, self.source_id)
            assert source is not None
            return dict(source.source_metadata)


def populate(standin: SentryStandIn, issues: int = 7) -> list[dict[str, Any]]:
    standin.add_project("web", platform="javascript")
    standin.add_project("api")
    made = []
    for n in range(issues):
        issue = standin.add_issue(
            "api" if n % 2 else "web",
            f"KeyError: 'widget{n}'",
            culprit=f"app.widgets.spin{n}",
            status="resolved" if n == 3 else "unresolved",
            frames=4,
        )
        if n % 3 == 0:
            standin.add_comment(issue["id"], f"widget{n} broke after the deploy of release 1.0.0")
        made.append(issue)
    return made


def connect(services: Services, standin: SentryStandIn, options: dict[str, str] | None = None) -> World:
    waits: list[float] = []
    sentry = services.vendors.sentry
    assert sentry is not None
    sentry.transport, sentry.sleep, sentry.page_size = standin.transport(), waits.append, 2
    workspace_id = services.workspaces.ensure_workspace_id()
    connected = services.vendors.connections.connect(
        workspace_id,
        "sentry",
        name="acme",
        token=TOKEN,
        webhook_secret=SECRET,
        options=options or {"organization": "acme"},
    )
    return World(services, standin, workspace_id, connected.source.id, connected.job_id, waits)


@pytest.fixture
def services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, database_url, webhook_max_age=300)
    built = build_services(settings, engine=make_engine(settings.resolved_database_url), clock=FakeClock(NOW))
    try:
        yield built
    finally:
        built.close()


# -- the client, pure parts ------------------------------------------------------------------------------


def test_the_link_header_says_where_the_next_page_starts() -> None:
    link = (
        '<https://sentry.io/api/0/projects/acme/web/issues/?&cursor=0:0:1>; rel="previous"; results="false"; '
        'cursor="0:0:1", <https://sentry.io/api/0/projects/acme/web/issues/?&cursor=0:100:0>; rel="next"; '
        'results="true"; cursor="0:100:0"'
    )
    assert next_cursor(link) == "0:100:0"
    assert next_cursor(link.replace('results="true"', 'results="false"')) is None
    assert next_cursor(None) is None
    assert next_cursor("garbage") is None
    assert next_cursor('<x>; rel="next"; results="true"; cursor="0:1:0&token=evil value"') is None
    assert next_cursor("<x>" * 5000) is None


@given(st.text(max_size=300))
def test_any_link_header_gives_a_safe_cursor_or_none(link: str) -> None:
    cursor = next_cursor(link)
    assert cursor is None or (
        cursor.isascii() and "&" not in cursor and " " not in cursor and len(cursor) <= 200
    )


@given(st.dictionaries(st.sampled_from(["Retry-After", "X-Sentry-Rate-Limit-Reset"]), st.text(max_size=20)))
def test_rate_limit_headers_never_raise(headers: dict[str, str]) -> None:
    try:
        parsed = httpx.Headers(headers)
    except (UnicodeEncodeError, ValueError):  # httpx refuses what HTTP cannot carry
        return
    wait = retry_after(parsed, 1000.0)
    assert wait is None or wait >= 0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 23), st.integers(1, 7), st.integers(1, 9))
def test_the_client_lists_every_issue_once_whatever_the_page_sizes(issues: int, asked: int, cap: int) -> None:
    standin = SentryStandIn(TOKEN, page_cap=cap)
    standin.add_project("web")
    made = [standin.add_issue("web", f"E: {n}", frames=0)["id"] for n in range(issues)]
    client = SentryClient("https://sentry.io", TOKEN, transport=standin.transport(), page_size=asked)
    listed, cursor, pages = [], None, 0
    while True:
        page = client.issues_page("acme", "web", cursor)
        listed += [i["id"] for i in page.items]
        pages += 1
        if page.cursor is None:
            break
        cursor = page.cursor
    assert listed == made
    assert pages == max(1, -(-issues // min(asked, cap)))


def test_retry_after_reads_seconds_or_the_reset_time() -> None:
    assert retry_after(httpx.Headers({"Retry-After": "7"}), 0.0) == 7.0
    assert retry_after(httpx.Headers({"X-Sentry-Rate-Limit-Reset": "1010"}), 1000.0) == 10.0
    assert retry_after(httpx.Headers({"X-Sentry-Rate-Limit-Reset": "900"}), 1000.0) == 0.0
    assert retry_after(httpx.Headers({"Retry-After": "soon"}), 0.0) is None


def test_the_client_waits_out_429_and_5xx_and_keeps_the_token_to_itself() -> None:
    standin = SentryStandIn(TOKEN, page_cap=2)
    populate(standin, issues=5)
    waits: list[float] = []
    client = SentryClient("https://sentry.io", TOKEN, transport=standin.transport(), sleep=waits.append)
    standin.rate_limit_next, standin.fail_next = 2, 1
    assert client.projects("acme") == ["api", "web"]
    assert waits[:2] == [1.0, 1.0]  # Retry-After: 1, twice
    assert len(waits) == 3  # then a backoff for the 502
    assert TOKEN not in repr(client)
    wrong = SentryClient("https://sentry.io", "not-the-token-000", transport=standin.transport())
    with pytest.raises(UpstreamError) as refused:
        wrong.projects("acme")
    assert refused.value.status == 401
    assert "not-the-token" not in refused.value.message
    with pytest.raises(UpstreamError):
        client.projects("globex")  # no such organization
    hostile = SentryClient(
        "https://sentry.io",
        TOKEN,
        transport=httpx.MockTransport(lambda _r: httpx.Response(200, json={"a": 1})),
    )
    with pytest.raises(UpstreamError, match="not a list"):
        hostile.issues_page("acme", "web", None)


# -- the backfill ---------------------------------------------------------------------------------------


def test_connecting_with_a_token_backfills_every_project(services: Services) -> None:
    standin = SentryStandIn(TOKEN, page_cap=2)
    issues = populate(standin)
    world = connect(services, standin)
    assert world.job_id is not None
    assert world.run(world.job_id).status == "completed"
    documents = world.documents()
    assert {f"issue:{i['id']}" for i in issues} <= set(documents)
    assert sum(1 for k in documents if k.startswith("comment:")) == 3
    first = documents[f"issue:{issues[0]['id']}"]
    content = first.content or ""
    assert "KeyError: 'widget0'" in content
    assert "step_3" in content
    assert "app/module_3.py:13" in content
    assert first.source_metadata["releases"] == ["1.0.0"]
    assert first.source_metadata["environments"] == ["production"]
    assert documents[f"issue:{issues[3]['id']}"].source_metadata["status"] == "resolved"
    comment = next(d for k, d in documents.items() if k.startswith("comment:"))
    assert comment.parent_doc_id == first.id
    assert "Ada Lovelace" in (comment.content or "")
    # Every listing page was small: the cursor was followed.
    assert sum("/issues/" in p and p.endswith("/issues/") for p in standin.requests) >= 4
    meta = world.metadata()
    assert "backfill" not in meta  # the checkpoint is cleared at the end
    assert meta["lastReconciliation"]["deleted"] == 0
    results = services.search.search(
        SearchRequest(world.workspace_id, "widget5 KeyError", mode=SearchMode.FAST, source_types=("sentry",))
    ).results
    assert results[0].document_id == documents[f"issue:{issues[5]['id']}"].id


def test_a_connection_of_some_projects_lists_only_theirs(services: Services) -> None:
    standin = SentryStandIn(TOKEN, page_cap=2)
    issues = populate(standin)
    world = connect(services, standin, {"organization": "acme", "projects": "api"})
    assert world.job_id is not None
    world.run(world.job_id)
    listed = {k for k in world.documents() if k.startswith("issue:")}
    assert listed == {f"issue:{i['id']}" for i in issues if i["project"]["slug"] == "api"}
    assert not any("/projects/acme/web/" in p for p in standin.requests)


def test_the_next_full_sync_repairs_what_changed_upstream(services: Services) -> None:
    standin = SentryStandIn(TOKEN, page_cap=2)
    issues = populate(standin)
    world = connect(services, standin)
    assert world.job_id is not None
    world.run(world.job_id)
    gone, edited = issues[1], issues[2]
    standin.delete_issue(gone["id"])
    standin.update_issue(edited["id"], status="resolved", title="KeyError: 'gizmo'")
    standin.add_event(edited["id"], release="2.0.0")
    comment = next(iter(standin.comments[issues[0]["id"]]))
    standin.delete_comment(issues[0]["id"], comment["id"])
    assert world.full_sync().status == "completed"
    documents = world.documents()
    assert f"issue:{gone['id']}" not in documents
    assert f"comment:{comment['id']}" not in documents
    fixed = documents[f"issue:{edited['id']}"]
    assert fixed.source_metadata["status"] == "resolved"
    assert fixed.source_metadata["release"] == "2.0.0"
    assert "gizmo" in (fixed.content or "")
    assert world.metadata()["lastReconciliation"]["deleted"] == 2


def test_a_reconciliation_of_nothing_changed_changes_nothing(services: Services) -> None:
    standin = SentryStandIn(TOKEN, page_cap=2)
    populate(standin)
    world = connect(services, standin)
    assert world.job_id is not None
    world.run(world.job_id)
    assert world.metadata()["lastReconciliation"]["changed"] == 7 + 3
    before = {k: d.content_hash for k, d in world.documents().items()}
    asked = len(standin.requests)
    assert world.full_sync().status == "completed"
    assert world.metadata()["lastReconciliation"]["changed"] == 0
    assert {k: d.content_hash for k, d in world.documents().items()} == before
    # Only the listing was read again: 2 projects of 4 and 3 issues, 2 a page (and the project list).
    again = standin.requests[asked:]
    assert not [p for p in again if p.endswith(("/events/latest/", "/comments/"))]
    assert len(again) == 1 + 2 + 2
    # A new event moves the issue's lastSeen: only its latest event and comments are read.
    issue = next(iter(standin.issues))
    standin.add_event(issue, release="3.0.0")
    asked = len(standin.requests)
    world.full_sync()
    assert [p for p in standin.requests[asked:] if p.endswith(("/events/latest/", "/comments/"))] == [
        f"/api/0/organizations/acme/issues/{issue}/events/latest/",
        f"/api/0/issues/{issue}/comments/",
    ]
    assert world.documents()[f"issue:{issue}"].source_metadata["release"] == "3.0.0"
    assert len(world.documents()) == len(before)


def test_an_unreachable_api_fails_the_job_and_keeps_the_checkpoint(services: Services) -> None:
    standin = SentryStandIn(TOKEN, page_cap=2)
    populate(standin)
    world = connect(services, standin)
    standin.fail_next = 100
    assert world.job_id is not None
    job = world.run(world.job_id)
    assert job.status == "failed"
    assert "Sentry answered 502" in (job.error_message or "")
    assert world.documents() == {}
    standin.fail_next = 0
    assert world.full_sync().status == "completed"
    assert len([k for k in world.documents() if k.startswith("issue:")]) == 7


def test_with_a_token_an_issue_delivery_brings_its_latest_event(services: Services) -> None:
    standin = SentryStandIn(TOKEN, organization="test-org", page_cap=2)
    standin.add_project("front-end", platform="javascript")
    world = connect(services, standin, {"organization": "test-org"})
    issue = standin.add_issue("front-end", "ReferenceError: blooopy is not defined", frames=2)
    body = json.dumps(
        {
            "action": "created",
            "data": {"issue": issue},
            "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
            "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
        }
    ).encode()
    headers = {
        "Sentry-Hook-Signature": sign(SECRET, body),
        "Sentry-Hook-Resource": "issue",
        "Sentry-Hook-Timestamp": str(int(NOW.timestamp())),
        "Request-ID": "req-with-token",
    }
    with TestClient(create_app(services)) as client:
        answer = client.post(f"/webhooks/sentry/{world.source_id}", content=body, headers=headers)
        assert answer.status_code == 202, answer.text
        for job_id in answer.json()["jobs"]:
            services.runner.run_inline(job_id)
        document = world.documents()[f"issue:{issue['id']}"]
        assert "step_1" in (document.content or "")  # the stack came from the API
        standin.fail_next = 100  # the API down: the delivery's own fields are indexed
        answer = client.post(
            f"/webhooks/sentry/{world.source_id}",
            content=body,
            headers={
                **headers,
                "Request-ID": "req-2",
                "Sentry-Hook-Timestamp": str(int(NOW.timestamp()) + 1),
            },
        )
        assert answer.status_code in (200, 202), answer.text
        assert "could not be read" in answer.json()["notice"]
        standin.fail_next = 0
        # An error of an issue not seen yet: its fields come from the API, its stack from the delivery.
        other = standin.add_issue("front-end", "TypeError: x is undefined", frames=1)
        error = {
            "action": "created",
            "data": {
                "error": {
                    "event_id": "cafe" * 8,
                    "issue_id": other["id"],
                    "title": "TypeError: x is undefined",
                    "exception": {"values": [{"type": "TypeError", "value": "x is undefined"}]},
                }
            },
            "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
        }
        data = json.dumps(error).encode()
        answer = client.post(
            f"/webhooks/sentry/{world.source_id}",
            content=data,
            headers={
                "Sentry-Hook-Signature": sign(SECRET, data),
                "Sentry-Hook-Resource": "error",
                "Sentry-Hook-Timestamp": str(int(NOW.timestamp())),
            },
        )
        assert answer.status_code == 202, answer.text
        for job_id in answer.json()["jobs"]:
            services.runner.run_inline(job_id)
        made = world.documents()[f"issue:{other['id']}"]
        assert made.source_metadata["shortId"] == other["shortId"]
        assert made.source_metadata["latestEventId"] == "cafe" * 8
