"""The search page and the Jobs tab through the ASGI app: result cards with highlights (a hostile title
renders inert), filters and empty states, the tab's sections with why queued jobs wait, a job's details
(queue wait apart from running time, steps, failures), and cancel/retry as CSRF-checked posts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.app.jobs import JobDetail, StepView
from lightfast.console.jobs_page import waterfall
from lightfast.db import jobs as jobs_repo
from lightfast.db.engine import make_engine
from lightfast.db.models import Job
from lightfast.db.statuses import JobStatus, JobTrigger
from tests.conftest import make_settings, write

HOSTILE = (
    "# <script>alert('pwned')</script> Rotating keys\n\n"
    "Rotate the signing keys <img src=x onerror=alert(1)>.\n"
)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[TestClient, Services]]:
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'lf.db'}", host="127.0.0.1", workspace_concurrency=2
    )
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    with TestClient(create_app(services), follow_redirects=False) as client:
        yield client, services
    services.close()


def csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert found
    return found.group(1)


def ingest(services: Services, root: Path, files: dict[str, str | bytes]) -> str:
    result = services.ingest.ingest_path(str(write(root, files)))
    return result.job_id


def new_job(services: Services, name: str, source_id: str | None = None, **values: object) -> str:
    workspace = services.workspaces.ensure_workspace_id()
    with services.sessions.begin() as session:
        job = jobs_repo.create_job(
            session,
            workspace_id=workspace,
            organization_id=None,
            name=name,
            trigger=JobTrigger.MANUAL,
            source_id=source_id,
            triggered_by="user:someone",
        )
        for field, value in values.items():
            setattr(job, field, value)
        return job.id


def source_of(services: Services, job_id: str) -> str:
    job = services.jobs.get_job(services.workspaces.ensure_workspace_id(), job_id)
    assert job.source_id
    return job.source_id


# -- search ---------------------------------------------------------------------------------------------


def test_cards_highlight_and_a_hostile_title_renders_inert(
    console: tuple[TestClient, Services], tmp_path: Path
) -> None:
    client, services = console
    ingest(services, tmp_path / "repo", {"docs/keys.md": HOSTILE})
    page = client.get("/", params={"q": "rotate signing keys"})
    assert page.status_code == 200
    assert "What should we code next?" in page.text
    card = page.text[page.text.index('<li class="card">') :]
    assert "<mark>" in card
    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in card
    assert 'class="badge source">local<' in card
    assert re.search(r"score <span class=\"score\">\d\.\d{4}</span>", card)
    assert "embedding" in page.text  # the latency breakdown
    assert "retrieval" in page.text


def test_filters_are_in_the_form_and_narrow_the_results(
    console: tuple[TestClient, Services], tmp_path: Path
) -> None:
    client, services = console
    ingest(
        services,
        tmp_path / "repo",
        {"docs/a.md": "# Alpha\n\nDeploy notes.\n", "guide/b.md": "# Beta\n\nDeploy guide.\n"},
    )
    page = client.get("/", params={"q": "deploy"})
    assert 'name="store"' in page.text
    assert 'value="docs"' in page.text  # the store, from WorkspaceService.stores
    assert 'name="type" value="local"' in page.text
    for vendor in ("linear", "notion", "sentry", "vercel", "zendesk"):  # every registered vendor too
        assert f'name="type" value="{vendor}"' in page.text
    for label in ('for="f-path"', 'for="f-from"', 'for="f-to"', 'for="f-store"'):
        assert label in page.text
    narrowed = client.get("/", params={"q": "deploy", "path": "guide/"})
    assert "Beta" in narrowed.text
    assert "Alpha" not in narrowed.text
    assert 'value="guide/"' in narrowed.text
    future = client.get("/", params={"q": "deploy", "from": "2999-01-01"})
    assert "Nothing matched" in future.text
    assert "Remove a filter" in future.text
    blank_dates = client.get("/", params={"q": "deploy", "from": "", "to": ""})
    assert "Alpha" in blank_dates.text
    bad_date = client.get("/", params={"q": "deploy", "from": "yesterday"})
    assert "from must be a date" in bad_date.text
    unknown = client.get("/", params={"q": "deploy", "store": "nope"})
    assert "no store named" in unknown.text


def test_empty_states_say_what_to_do_next(console: tuple[TestClient, Services], tmp_path: Path) -> None:
    client, services = console
    services.workspaces.ensure_workspace_id()
    first = client.get("/")
    assert "No documents yet" in first.text
    assert 'href="/sources"' in first.text
    ingest(services, tmp_path / "repo", {"a.md": "# Alpha\n\nDeploy notes.\n"})
    # Dense search finds something for any words; a filter that matches nothing leaves no result.
    nothing = client.get("/", params={"q": "zzzqqqxxyy", "path": "nowhere/"})
    assert "Nothing matched" in nothing.text
    assert "fewer or more general words" in nothing.text


def test_tabs_work_as_links(console: tuple[TestClient, Services]) -> None:
    client, services = console
    services.workspaces.ensure_workspace_id()
    chat = client.get("/")
    assert re.search(r'id="panel-jobs"[^>]*hidden', chat.text)
    jobs = client.get("/", params={"tab": "jobs"})
    assert re.search(r'id="panel-chat"[^>]*hidden', jobs.text)
    assert not re.search(r'id="panel-jobs"[^>]*hidden', jobs.text)
    assert 'href="/?tab=jobs"' in jobs.text
    assert client.get("/", params={"tab": "other"}).status_code == 400


# -- the Jobs tab --------------------------------------------------------------------------------------


def test_jobs_tab_sections(console: tuple[TestClient, Services], tmp_path: Path) -> None:
    client, services = console
    done = ingest(services, tmp_path / "ok", {"a.md": "# A\n\ntext\n", "b.md": "# B\n\ntext\n"})
    partial = ingest(services, tmp_path / "bad", {"a.md": "# A\n\ntext\n", "bad.md": b"\xff\xfe\x00bad"})
    source = source_of(services, done)
    now = services.clock.now()
    running = new_job(
        services,
        "Ingesting acme/api",
        source,
        status=JobStatus.RUNNING,
        engine_run_id="x",
        started_at=now - timedelta(minutes=2),
        progress_processed=12,
        progress_total=45,
        eta_seconds=90.0,
    )
    same_source = new_job(services, "Sync acme/api again", source)
    # Two claimed jobs fill the workspace limit (2): a job of no source waits for it.
    new_job(services, "Claimed", None, engine_run_id="y", status=JobStatus.QUEUED)
    over_limit = new_job(services, "Reindex everything")
    failed = new_job(
        services,
        "Sync acme/broken",
        None,
        status=JobStatus.FAILED,
        error_message="Invalid lightfast.yml syntax",
    )
    with services.sessions.begin() as session:
        jobs_repo.finish_job(
            session, failed, status=JobStatus.FAILED, error_message="Invalid lightfast.yml syntax"
        )
    html = client.get("/console/jobs").text

    running_part = html[html.index('id="jobs-running"') : html.index('id="jobs-queued"')]
    queued_part = html[html.index('id="jobs-queued"') : html.index('id="jobs-recent"')]
    recent_part = html[html.index('id="jobs-recent"') :]
    assert "Running jobs (1)" in running_part
    assert "Ingesting acme/api" in running_part
    assert "12 / 45" in running_part
    assert "27%" in running_part
    assert 'max="45" value="12"' in running_part
    assert "Started 2 minutes ago" in running_part
    assert "1 min 30 s left" in running_part
    assert f'action="/jobs/{running}/cancel"' in running_part
    assert "Queued jobs (3)" in queued_part
    reasons = dict(re.findall(r'data-job-id="([^"]+)".*?class="reason">([^<]+)<', queued_part, re.S))
    assert "per source" in reasons[same_source]
    assert "workspace limit (2 of 2" in reasons[over_limit]
    assert "2 documents indexed" in recent_part
    assert "completed with errors" in recent_part
    assert "1 failed" in recent_part
    assert "Invalid lightfast.yml syntax" in recent_part
    assert f'action="/jobs/{failed}/retry"' in recent_part
    assert f'href="/jobs/{partial}"' in recent_part
    badge = client.get("/", params={"tab": "jobs"}).text
    assert re.search(r'id="running-count"[^>]*>1<', badge)

    state = client.get("/console/jobs/state").json()
    assert state["running"] == 1
    shown = {job["id"]: job for job in state["jobs"]}
    assert shown[running]["progress"] == {"processed": 12, "total": 45}
    assert shown[failed]["status"] == "failed"


def test_cancel_and_retry_need_the_csrf_token(console: tuple[TestClient, Services]) -> None:
    client, services = console
    queued = new_job(services, "Sync queued")
    assert client.post(f"/jobs/{queued}/cancel").status_code == 403
    assert client.post(f"/jobs/{queued}/cancel", data={"csrf_token": "forged"}).status_code == 403
    workspace = services.workspaces.ensure_workspace_id()
    assert services.jobs.get_job(workspace, queued).status == JobStatus.QUEUED
    token = csrf(client)
    answer = client.post(f"/jobs/{queued}/cancel", data={"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/?tab=jobs"
    assert services.jobs.get_job(workspace, queued).status == JobStatus.CANCELLED

    assert client.post(f"/jobs/{queued}/retry").status_code == 403
    retried = client.post(
        f"/jobs/{queued}/retry", headers={"x-csrf-token": token, "accept": "application/json"}
    )
    assert retried.status_code == 201
    new = services.jobs.get_job(workspace, retried.json()["job"])
    assert new.retry_of == queued
    assert new.triggered_by == "local-admin"  # the viewer who asked
    again = client.post(
        f"/jobs/{new.id}/retry", headers={"x-csrf-token": token, "accept": "application/json"}
    )
    assert again.status_code == 409  # a queued job is not retried
    missing = client.post(
        "/jobs/job_nope/cancel", headers={"x-csrf-token": token, "accept": "application/json"}
    )
    assert missing.status_code == 404
    hostile = client.post("/jobs/<b>x<%2Fb>/cancel", data={"csrf_token": token})
    assert "<b>" not in hostile.text


def test_job_details(console: tuple[TestClient, Services], tmp_path: Path) -> None:
    client, services = console
    job_id = ingest(services, tmp_path / "bad", {"a.md": "# A\n\ntext\n", "bad.md": b"\xff\xfe\x00bad"})
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    for text in (
        "Trigger",
        "Started by",
        "Waiting in the queue",
        "Running",
        "Failed documents (1)",
        "bad.md",
    ):
        assert text in page.text
    assert "Input" in page.text
    assert "Output" in page.text
    assert client.get("/jobs/job_missing").status_code == 404
    assert client.get("/jobs/" + "x" * 500).status_code == 404


def test_waterfall_keeps_queue_wait_apart_and_places_steps(console: tuple[TestClient, Services]) -> None:
    _, services = console
    now = services.clock.now()
    job = Job(
        id="job_w",
        name="w",
        status="completed",
        created_at=now,
        started_at=now + timedelta(seconds=3),
        completed_at=now + timedelta(seconds=13),
    )
    steps = [
        StepView(1, "plan", "completed", 1000, 3000, 2000, None),
        StepView(2, "batch", "failed", 3000, 11000, 8000, "boom"),
    ]
    timeline = waterfall(JobDetail(job, steps, []))
    assert timeline["queue_ms"] == 3000
    assert timeline["run_ms"] == 10000
    assert [(r["offset"], r["width"]) for r in timeline["rows"]] == [(0.0, 20.0), (20.0, 80.0)]
    assert waterfall(JobDetail(job, [], []))["rows"] == []


@given(
    st.lists(
        st.tuples(st.integers(0, 10**7), st.one_of(st.none(), st.integers(0, 10**7))),
        max_size=12,
    )
)
def test_waterfall_bars_stay_on_the_axis(spans: list[tuple[int, int | None]]) -> None:
    steps = [
        StepView(
            number,
            f"step{number}",
            "completed" if length is not None else "running",
            start,
            start + length if length is not None else None,
            length,
            None,
        )
        for number, (start, length) in enumerate(spans, 1)
    ]
    rows = waterfall(JobDetail(Job(id="job_p", name="p", status="running"), steps, []))["rows"]
    assert len(rows) == len(steps)
    for row in rows:
        assert 0 <= row["offset"] <= 100
        assert 0.5 <= row["width"] <= 100
        assert row["offset"] + row["width"] <= 100.5  # a bar never runs past the end (but stays visible)
