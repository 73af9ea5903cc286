"""The Jobs tab in a real browser: a sync queued into the live server's worker moves its bar to completion
without a reload, a running job is cancelled from the keyboard and moves to Recent as cancelled, a failed
one is retried, and a job's details show its steps."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from lightfast.app.container import Services
from lightfast.db import jobs as jobs_repo
from lightfast.db.statuses import JobStatus
from tests.browser.conftest import LiveServer

CONFIG = "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n"


def slow_embedding(services: Services, seconds: float) -> None:
    """Each embedding batch of the worker takes ``seconds``: long enough to watch a bar move."""
    embedder = services.pipeline.embedder
    original = embedder.embed

    def embed(texts: Any) -> Any:
        time.sleep(seconds)
        return original(texts)

    setattr(embedder, "embed", embed)  # noqa: B010 - an instance attribute shadows the method


def repository(root: Path, files: int) -> Path:
    root.mkdir(parents=True)
    (root / "lightfast.yml").write_text(CONFIG)
    for number in range(files):
        (root / f"note-{number:02d}.md").write_text(f"# Note {number}\n\nDeploy notes number {number}.\n")
    return root


def connect(live_server: LiveServer, root: Path) -> str:
    services = live_server.services
    workspace = services.workspaces.ensure_workspace_id()
    return services.sources.connect_local(workspace, root).job_id


def test_an_ingest_bar_moves_to_completion_without_a_reload(
    live_server: LiveServer, page: Any, tmp_path: Path
) -> None:
    slow_embedding(live_server.services, 0.3)
    live_server.services.workspaces.ensure_workspace_id()
    page.goto(live_server.url + "/?tab=jobs")
    expect(page.locator("#jobs-running")).to_contain_text("Nothing is running")
    page.evaluate("window.__notReloaded = true")

    job_id = connect(live_server, repository(tmp_path / "repo", 16))
    card = page.locator(f'#jobs-running [data-job-id="{job_id}"]')
    expect(card).to_be_visible()
    expect(page.locator("#running-count")).to_have_text("1")
    read_bar = f"""() => {{
        const bar = document.querySelector('#jobs-running [data-job-id="{job_id}"] progress');
        return bar ? bar.value : null;
    }}"""
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and page.locator(f'#jobs-recent [data-job-id="{job_id}"]').count() == 0:
        value = page.evaluate(read_bar)
        if value is not None:
            seen.add(int(value))
        time.sleep(0.1)
    finished = page.locator(f'#jobs-recent [data-job-id="{job_id}"]')
    expect(finished).to_contain_text("completed")
    expect(finished).to_contain_text("16 documents indexed")
    assert len(seen - {0}) >= 2, f"the bar did not move through values: {sorted(seen)}"
    assert page.evaluate("window.__notReloaded") is True
    expect(page.locator("#running-count")).to_be_hidden()


def test_cancel_a_running_job_from_the_keyboard(live_server: LiveServer, page: Any, tmp_path: Path) -> None:
    slow_embedding(live_server.services, 1.0)
    live_server.services.workspaces.ensure_workspace_id()
    page.goto(live_server.url + "/?tab=jobs")
    job_id = connect(live_server, repository(tmp_path / "repo", 20))
    cancel = page.locator(f'#jobs-running [data-job-id="{job_id}"] button', has_text="Cancel")
    expect(cancel).to_be_visible()
    cancel.focus()
    page.keyboard.press("Enter")
    cancelled = page.locator(f'#jobs-recent [data-job-id="{job_id}"]')
    expect(cancelled).to_contain_text("Cancelled")
    expect(page.locator(f'#jobs-running [data-job-id="{job_id}"]')).to_have_count(0)
    workspace = live_server.services.workspaces.ensure_workspace_id()
    assert live_server.services.jobs.get_job(workspace, job_id).status == JobStatus.CANCELLED


def test_retry_a_failed_job_and_open_its_details(live_server: LiveServer, page: Any, tmp_path: Path) -> None:
    services = live_server.services
    first = connect(live_server, repository(tmp_path / "repo", 3))
    workspace = services.workspaces.ensure_workspace_id()
    services.jobs.wait(workspace, first, timeout=60)
    with services.sessions.begin() as session:  # as if the sync had failed
        job = jobs_repo.get_job(session, first)
        job.status, job.error_message = JobStatus.FAILED, "Invalid lightfast.yml syntax"

    page.goto(live_server.url + "/?tab=jobs")
    failed = page.locator(f'#jobs-recent [data-job-id="{first}"]')
    expect(failed).to_contain_text("Invalid lightfast.yml syntax")
    failed.get_by_role("button", name="Retry").click()
    retried = page.locator('#jobs-recent [data-status="completed"]').first
    expect(retried).to_be_visible(timeout=30_000)
    new_job = retried.get_attribute("data-job-id")
    assert new_job
    assert new_job != first
    assert services.jobs.get_job(workspace, new_job).retry_of == first

    retried.get_by_role("link", name="View details").click()
    expect(page).to_have_url(f"{live_server.url}/jobs/{new_job}")
    expect(page.locator("h1")).to_contain_text("completed")
    expect(page.locator(".waterfall")).to_contain_text("Waiting in the queue")
    expect(page.locator(".waterfall tr.step").first).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("local-admin")


def test_tabs_switch_in_place_and_by_keyboard(live_server: LiveServer, page: Any) -> None:
    live_server.services.workspaces.ensure_workspace_id()
    page.goto(live_server.url + "/")
    expect(page.locator("#panel-chat")).to_be_visible()
    page.locator("#tab-jobs").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#panel-jobs")).to_be_visible()
    expect(page.locator("#panel-chat")).to_be_hidden()
    expect(page).to_have_url(f"{live_server.url}/?tab=jobs")


def test_the_keyboard_reaches_every_action_of_the_jobs_tab(
    live_server: LiveServer, page: Any, tmp_path: Path
) -> None:
    services = live_server.services
    first = connect(live_server, repository(tmp_path / "repo", 2))
    workspace = services.workspaces.ensure_workspace_id()
    services.jobs.wait(workspace, first, timeout=60)
    with services.sessions.begin() as session:
        job = jobs_repo.get_job(session, first)
        job.status, job.error_message = JobStatus.FAILED, "boom"

    page.goto(live_server.url + "/?tab=jobs")
    reached: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate("document.activeElement ? document.activeElement.textContent.trim() : ''")
        )
    for action in (
        "Skip to content",
        "Search",
        "Chat",
        "Jobs",
        "View details of Initial sync repo",
        "Retry Initial sync repo",
    ):
        assert any(text.startswith(action) for text in reached), f"{action!r} not reached by Tab: {reached}"
    # and the action works from the keyboard
    page.locator(f'[data-job-id="{first}"] button', has_text="Retry").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#jobs-recent [data-status=completed]").first).to_be_visible(timeout=30_000)
