"""Vercel backfill and reconciliation (issue 14) against the REST stand-in, on SQLite and PostgreSQL:
each project's newest deployments (``until`` cursors, bounded by ``vercel_max_deployments``), a failed
one's error message and build log's error lines; rate limits and 5xx waited out; ``teamId`` on every
request of a team's connection; deletions upstream repaired by the next full sync; with a token, a
deployment.error delivery brings its error lines at once."""

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
from lightfast.app.vercel_backfill import connection_metadata
from lightfast.db.engine import make_engine
from lightfast.db.models import ConnectedSource, Document, Job
from lightfast.db.vendor_models import VendorEntity
from lightfast.errors import InvalidInput, UpstreamError
from lightfast.sources.vercel.client import VercelClient, next_until, reset_wait
from lightfast.sources.vercel.webhooks import error_lines, sign, strip_ansi
from lightfast.testing import FakeClock
from lightfast.testing.vercel import VercelStandIn
from tests.conftest import make_settings

TOKEN = "vercel_standin_token_0123456789"
SECRET = "vercel_webhook_secret_0123456789abcdef"
TEAM = "team_kTDbLdHFZ0x7HU66LRgZCfpd"
NOW = datetime(2025, 11, 24, 16, 30, tzinfo=UTC)
RED_ERROR = "\x1b[31mError:\x1b[39m Cannot find module '\x1b[1m./widgets\x1b[22m'"


@dataclass
class World:
    services: Services
    standin: VercelStandIn
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
            rows = session.scalars(select(Document).where(Document.source_type == "vercel"))
            # Keyed "<connection id>:<entity id>": the entity id is what a test knows.
            return {row.source_id.partition(":")[2]: row for row in rows}

    def metadata(self) -> dict[str, Any]:
        with self.services.sessions() as session:
            source = session.get(ConnectedSource, self.source_id)
            assert source is not None
            return dict(source.source_metadata)


def populate(standin: VercelStandIn, deployments: int = 5) -> tuple[dict[str, Any], dict[str, Any]]:
    web, api = standin.add_project("web"), standin.add_project("api")
    for n in range(deployments):
        standin.add_deployment(web["id"], message=f"web change {n}", target="production" if n == 0 else None)
        standin.add_deployment(api["id"], message=f"api change {n}", branch=f"feature-{n}")
    standin.add_deployment(
        api["id"],
        message="Add the widgets page",
        state="ERROR",
        log=["Cloning github.com/acme/api", 'Running "npm run build"', RED_ERROR, "Build failed"],
    )
    return web, api


def connect(services: Services, standin: VercelStandIn, options: dict[str, str]) -> World:
    waits: list[float] = []
    vercel = services.vendors.vercel
    assert vercel is not None
    vercel.transport, vercel.sleep, vercel.page_size = standin.transport(), waits.append, 2
    workspace_id = services.workspaces.ensure_workspace_id()
    connected = services.vendors.connections.connect(
        workspace_id, "vercel", name="acme", token=TOKEN, webhook_secret=SECRET, options=options
    )
    return World(services, standin, workspace_id, connected.source.id, connected.job_id, waits)


def make_services(tmp_path: Path, database_url: str, **overrides: Any) -> Services:
    built = make_settings(tmp_path, database_url, webhook_max_age=300, **overrides)
    return build_services(built, engine=make_engine(built.resolved_database_url), clock=FakeClock(NOW))


@pytest.fixture
def services(tmp_path: Path, database_url: str) -> Iterator[Services]:
    built = make_services(tmp_path, database_url)
    try:
        yield built
    finally:
        built.close()


# -- pure parts --------------------------------------------------------------------------------------------


def test_pagination_says_the_next_until_or_the_end() -> None:
    assert next_until({"count": 20, "next": 1764000060000, "prev": 1764000900000}) == 1764000060000
    assert next_until({"count": 3, "next": None, "prev": 1}) is None
    for garbage in (None, [], {"next": "1764000060000"}, {"next": True}, {"next": -5}, {"next": 10**20}):
        assert next_until(garbage) is None


@given(st.dictionaries(st.sampled_from(["Retry-After", "X-RateLimit-Reset"]), st.text(max_size=20)))
def test_rate_limit_headers_never_raise(headers: dict[str, str]) -> None:
    try:
        parsed = httpx.Headers(headers)
    except (UnicodeEncodeError, ValueError):  # httpx refuses what HTTP cannot carry
        return
    wait = reset_wait(parsed, 1000.0)
    assert wait is None or wait >= 0


def test_the_reset_header_is_a_unix_time() -> None:
    assert reset_wait(httpx.Headers({"X-RateLimit-Reset": "1010"}), 1000.0) == 10.0
    assert reset_wait(httpx.Headers({"X-RateLimit-Reset": "900"}), 1000.0) == 0.0
    assert reset_wait(httpx.Headers({"Retry-After": "7"}), 0.0) == 7.0
    assert reset_wait(httpx.Headers({}), 0.0) is None


@given(st.lists(st.text(max_size=60), max_size=30), st.integers(0, 10), st.integers(1, 80))
def test_error_lines_are_bounded_and_free_of_terminal_codes(texts: list[str], most: int, width: int) -> None:
    events = [{"type": "stderr", "created": n, "payload": {"text": t}} for n, t in enumerate(texts)]
    found = error_lines(events, most, width)
    assert len(found) <= most
    assert all(0 < len(line) <= width and "\x1b" not in line for line in found)


def test_error_lines_keep_the_log_end_stderr_and_lines_that_say_error() -> None:
    events = [
        {"type": "stdout", "created": 1, "payload": {"text": "Installing dependencies"}},
        {"type": "stdout", "created": 2, "payload": {"text": "npm ERR! code ELIFECYCLE"}},
        {"type": "stderr", "created": 3, "payload": {"text": RED_ERROR}},
        {"type": "delimiter", "created": 4, "payload": {"text": "error but not a log line"}},
        {"type": "stdout", "created": 5, "text": "Build failed"},  # the older shape: text beside type
        "garbage",
    ]
    assert error_lines(events, 10, 500) == [
        "npm ERR! code ELIFECYCLE",
        "Error: Cannot find module './widgets'",
        "Build failed",
    ]
    assert error_lines(events, 1, 500) == ["Build failed"]
    assert error_lines(events, 10, 5) == ["npm E", "Error", "Build"]
    assert error_lines({"not": "a list"}, 10, 500) == []
    assert strip_ansi("\x1b]8;;https://x\x07link\x1b]8;;\x07 \x1b[2K\x1b[1G done") == "link  done"


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 13), st.integers(1, 7), st.integers(1, 9))
def test_the_client_lists_every_deployment_once_newest_first(count: int, asked: int, cap: int) -> None:
    standin = VercelStandIn(TOKEN, page_cap=cap)
    project = standin.add_project("web")
    made = [standin.add_deployment(project["id"])["id"] for _ in range(count)]
    client = VercelClient("https://api.vercel.com", TOKEN, transport=standin.transport(), page_size=asked)
    listed, until, pages = [], None, 0
    while True:
        page = client.deployments_page("web", until)
        listed += [d["uid"] for d in page.items]
        pages += 1
        if page.until is None:
            break
        until = page.until
    assert listed == made[::-1]
    assert pages == max(1, -(-count // min(asked, cap)))


def test_the_client_waits_out_429_and_5xx_and_keeps_the_token_to_itself() -> None:
    standin = VercelStandIn(TOKEN)
    project = standin.add_project("web")
    standin.add_deployment(project["id"])
    waits: list[float] = []
    client = VercelClient("https://api.vercel.com", TOKEN, transport=standin.transport(), sleep=waits.append)
    standin.rate_limit_next, standin.fail_next = 2, 1
    assert len(client.deployments_page(project["id"], None).items) == 1
    assert len(waits) == 3
    standin.fail_next = 10
    with pytest.raises(UpstreamError) as failed:
        client.deployments_page(project["id"], None)
    assert failed.value.status == 502
    bad = VercelClient("https://api.vercel.com", "wrong_token_123", transport=standin.transport())
    with pytest.raises(UpstreamError) as refused:
        bad.deployments_page(project["id"], None)
    assert refused.value.status == 403
    assert "wrong_token_123" not in refused.value.message + repr(bad)
    with pytest.raises(UpstreamError, match="no project"):
        client.deployments_page("prj_nope", None)


def test_a_broken_answer_is_refused_before_use() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"deployments": "many"})

    client = VercelClient("https://api.vercel.com", TOKEN, transport=httpx.MockTransport(answer))
    with pytest.raises(UpstreamError, match="no deployments list"):
        client.deployments_page("web", None)


def test_connection_options_are_checked_naming_the_field() -> None:
    made = connection_metadata("acme", "api", None, {"projects": "web, prj_abc123", "team": TEAM})
    assert made["vercelProjects"] == ["prj_abc123", "web"]
    assert made["vercelTeamId"] == TEAM
    for options, name in (
        ({}, "projects"),
        ({"projects": "Not A Name"}, "projects"),
        ({"projects": ",".join(f"p{n}" for n in range(51))}, "projects"),
        ({"projects": "web", "team": "acme"}, "team"),
    ):
        with pytest.raises(InvalidInput) as refused:
            connection_metadata("acme", "api", None, options)
        assert refused.value.field == name


# -- the backfill ------------------------------------------------------------------------------------------


def test_a_backfill_indexes_each_projects_deployments_and_a_failures_error_lines(services: Services) -> None:
    standin = VercelStandIn(TOKEN)
    web, _ = populate(standin)
    world = connect(services, standin, {"projects": f"{web['id']},api"})  # one by id, one by name
    assert world.job_id is not None
    assert world.run(world.job_id).status == "completed"
    documents = world.documents()
    assert len(documents) == 11
    failed = next(d for d in documents.values() if d.source_metadata["status"] == "ERROR")
    metadata = failed.source_metadata
    assert metadata["errorCount"] == 2  # the red Error line and "Build failed"
    assert metadata["errorSummary"] == 'Command "npm run build" exited with 1'
    assert metadata["project"] == "api"
    production = [d for d in documents.values() if d.source_metadata["environment"] == "production"]
    assert len(production) == 1
    # Only the failed deployment's log and details were read: listing pages and two requests.
    assert sum(p.endswith("/events") for p in standin.requests) == 1
    assert sum(p.startswith("/v13/") for p in standin.requests) == 1
    reconciled = world.metadata()["lastReconciliation"]
    assert (reconciled["changed"], reconciled["deleted"]) == (11, 0)
    assert "backfill" not in world.metadata()


def test_an_unchanged_reconciliation_indexes_nothing_and_deletions_upstream_are_repaired(
    services: Services,
) -> None:
    standin = VercelStandIn(TOKEN)
    web, _ = populate(standin, deployments=3)
    world = connect(services, standin, {"projects": "web,api"})
    assert world.job_id is not None
    world.run(world.job_id)
    before = {k: d.content_hash for k, d in world.documents().items()}
    logs = sum(p.endswith("/events") for p in standin.requests)
    assert world.full_sync().status == "completed"
    assert world.metadata()["lastReconciliation"]["changed"] == 0
    assert {k: d.content_hash for k, d in world.documents().items()} == before
    assert sum(p.endswith("/events") for p in standin.requests) == logs  # a known failure is not re-read
    gone = next(iter(d for d in standin.deployments.values() if d["projectId"] == web["id"]))
    standin.delete_deployment(gone["id"])
    assert world.full_sync().status == "completed"
    assert f"deployment:{gone['id']}" not in world.documents()
    assert len(world.documents()) == len(before) - 1


def test_the_backfill_reads_only_each_projects_newest_deployments(tmp_path: Path, database_url: str) -> None:
    bounded = make_services(tmp_path, database_url, vercel_max_deployments=3)
    try:
        standin = VercelStandIn(TOKEN)
        web, _ = populate(standin, deployments=6)
        world = connect(bounded, standin, {"projects": "web"})
        assert world.job_id is not None
        world.run(world.job_id)
        newest = sorted(
            (d for d in standin.deployments.values() if d["projectId"] == web["id"]),
            key=lambda d: d["createdAt"],
        )[-3:]
        assert sorted(world.documents()) == sorted(f"deployment:{d['id']}" for d in newest)
        # Page size 2, bound 3: two pages, the second asking for one.
        assert sum(p == "/v6/deployments" for p in standin.requests) == 2
    finally:
        bounded.close()


def test_a_teams_connection_sends_its_team_id(services: Services) -> None:
    standin = VercelStandIn(TOKEN, team_id=TEAM)
    populate(standin, deployments=1)
    world = connect(services, standin, {"projects": "web", "team": TEAM})
    assert world.job_id is not None
    assert world.run(world.job_id).status == "completed"
    assert len(world.documents()) == 1
    without = services.vendors.connections.connect(
        world.workspace_id, "vercel", name="no-team", token=TOKEN, options={"projects": "web"}
    )
    assert without.job_id is not None
    assert world.run(without.job_id).status == "failed"  # Vercel hides a team's project: 404
    assert all(p == "/v6/deployments" for p in standin.requests[-6:])


def test_rate_limits_and_5xx_during_a_backfill_are_waited_out(services: Services) -> None:
    standin = VercelStandIn(TOKEN)
    populate(standin, deployments=2)
    world = connect(services, standin, {"projects": "web,api"})
    standin.rate_limit_next, standin.fail_next = 2, 2
    assert world.job_id is not None
    assert world.run(world.job_id).status == "completed"
    assert len(world.documents()) == 5
    assert len(world.waits) >= 4


def test_with_a_token_a_failure_delivery_brings_its_error_lines(services: Services) -> None:
    standin = VercelStandIn(TOKEN)
    _, api = populate(standin, deployments=1)
    world = connect(services, standin, {"projects": "api"})
    assert world.job_id is not None
    world.run(world.job_id)
    failing = standin.add_deployment(api["id"], state="ERROR", log=["\x1b[31mError: out of memory\x1b[0m"])
    body = {
        "type": "deployment.error",
        "id": "dlv_failure_1",
        "createdAt": int(NOW.timestamp() * 1000),
        "payload": {
            "deployment": {
                "id": failing["id"],
                "name": "api",
                "url": failing["url"],
                "meta": failing["meta"],
            },
            "project": {"id": api["id"]},
            "target": None,
        },
    }
    data = json.dumps(body).encode()
    with TestClient(create_app(services)) as client:
        answer = client.post(
            f"/webhooks/vercel/{world.source_id}",
            content=data,
            headers={"x-vercel-signature": sign(SECRET, data)},
        )
    assert answer.status_code == 202, answer.text
    for job_id in answer.json()["jobs"]:
        world.run(job_id)
    document = world.documents()[f"deployment:{failing['id']}"]
    assert document.source_metadata["errorCount"] == 1
    assert document.source_metadata["errorSummary"] == 'Command "npm run build" exited with 1'
    with services.sessions() as session:
        row = session.scalar(
            select(VendorEntity).where(VendorEntity.entity_id == f"deployment:{failing['id']}")
        )
        assert row is not None
        assert row.payload["errors"] == ["Error: out of memory"]


def test_an_oversized_answer_is_refused_unread() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"[" + b'{"type": "stdout"},' * 600_000 + b"{}]")

    client = VercelClient("https://api.vercel.com", TOKEN, transport=httpx.MockTransport(answer))
    with pytest.raises(UpstreamError, match="larger than"):
        client.events("dpl_abc")


def test_a_project_removed_upstream_is_listed_as_empty_not_a_failed_reconciliation(
    services: Services,
) -> None:
    """No webhook told us (project.removed was missed): the next reconciliation finds the project gone
    (404), removes its deployments and still lists the connection's other project."""
    standin = VercelStandIn(TOKEN)
    web, api = populate(standin, deployments=2)
    world = connect(services, standin, {"projects": "web,api"})
    assert world.job_id is not None
    world.run(world.job_id)
    api_ids = {d["id"] for d in standin.deployments.values() if d["projectId"] == api["id"]}
    assert {f"deployment:{i}" for i in api_ids} <= set(world.documents())
    del standin.projects[api["id"]]
    for deployment_id in api_ids:
        del standin.deployments[deployment_id]
    added = standin.add_deployment(web["id"], message="web after the api project went")
    assert world.full_sync().status == "completed"
    left = set(world.documents())
    assert not {f"deployment:{i}" for i in api_ids} & left
    assert f"deployment:{added['id']}" in left
