"""The store's embedding page (issue 15) in a real browser, by keyboard alone: the estimate is shown
before anything starts, the confirm button starts the switch job (run by the live server's worker), and
the page then shows the new model and the switch in its history."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from lightfast.db.models import Store
from tests.browser.conftest import LiveServer
from tests.conftest import write


def store_dim(live_server: LiveServer) -> int:
    with live_server.services.sessions() as session:
        store = session.scalars(select(Store).where(Store.name == "docs")).one()
        return store.embedding_dim


def test_switching_a_stores_model_from_the_console_by_keyboard(
    live_server: LiveServer, page: Any, tmp_path: Path
) -> None:
    files = {f"n{i}.md": f"# Note {i}\n\nnote {i} words\n" for i in range(5)}
    repo = write(
        tmp_path / "repo", {"lightfast.yml": "version: 1\nstore: docs\ninclude: ['*.md']\n", **files}
    )
    live_server.services.ingest.ingest_path(repo)

    page.goto(live_server.url + "/stores/docs/embedding")
    expect(page.get_by_role("heading", level=1)).to_contain_text("store docs")
    expect(page.locator("main")).to_contain_text("fake/fake-hash-384")
    provider = page.get_by_role("combobox", name="Provider")
    provider.focus()
    provider.select_option("fake")
    page.get_by_role("textbox", name="Model").focus()
    page.keyboard.type("fake-hash-256")
    page.keyboard.press("Enter")  # submits the estimate form

    estimate = page.locator("#estimate")
    expect(estimate).to_contain_text("chunks: 5 (5 distinct texts to embed)")
    expect(estimate).to_contain_text("requests: none")
    assert store_dim(live_server) == 384  # an estimate starts nothing
    page.locator("#confirm-switch").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r".*/jobs/job_[A-Za-z0-9]+$"))

    # The job page follows the job live and reloads itself once it finishes; wait for that reload
    # (a page that is no longer live) before navigating, or the reload aborts the next navigation.
    job = page.locator("article.job-detail")
    expect(job).to_have_attribute("data-status", "completed", timeout=30_000)
    expect(job).not_to_have_attribute("data-live", re.compile(".*"))
    assert store_dim(live_server) == 256
    page.goto(live_server.url + "/stores/docs/embedding")
    expect(page.locator("main")).to_contain_text("fake/fake-hash-256")
    expect(page.locator("table tbody tr").first).to_contain_text("active")
