"""The Activity page in a real browser: filtered by category and text, the timeline shows only the
matching rows, and the CSV export downloaded through its link holds exactly those rows."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from lightfast.db.activities import ActivityFilters
from tests.browser.conftest import LiveServer


def test_filter_the_log_and_export_what_it_shows(live_server: LiveServer, page: Any, tmp_path: Path) -> None:
    services = live_server.services
    root = tmp_path / "docs"
    root.mkdir()
    (root / "lightfast.yml").write_text("version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n")
    (root / "a.md").write_text("# A\n\nalpha\n")
    workspace = services.workspaces.ensure_workspace_id()
    connected = services.sources.connect_local(workspace, root)
    services.jobs.wait(workspace, connected.job_id, timeout=60)
    for _ in range(2):
        services.jobs.cancel(workspace, services.jobs.enqueue_sync(workspace, connected.source.id).job_id)

    page.goto(live_server.url + "/activity")
    expect(page.locator(".activity").first).to_be_visible()
    page.get_by_label("Category").select_option("job")
    page.get_by_label("Text").fill("job.cancelled")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".activity")).to_have_count(2)
    expect(page.locator(".activity .action")).to_have_text(["job.cancelled", "job.cancelled"])

    with page.expect_download() as download:
        page.locator("#export-csv").click()
    saved = tmp_path / "activity.csv"
    download.value.save_as(saved)
    with saved.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = services.activity.page(
        workspace, ActivityFilters(category="job", text="job.cancelled"), limit=50
    )
    assert [row["id"] for row in rows] == [a.id for a in expected.items]
    assert {row["action"] for row in rows} == {"job.cancelled"}
    shown = page.locator(".activity").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert shown == [row["id"] for row in rows]


def test_without_an_event_stream_the_timeline_polls_for_new_rows(live_server: LiveServer, page: Any) -> None:
    """A browser (or a proxy) that cannot hold the stream still sees new activity, by polling."""
    services = live_server.services
    workspace = services.workspaces.ensure_workspace_id()
    page.add_init_script("delete window.EventSource")
    page.goto(live_server.url + "/activity")
    expect(page.locator("#live-status")).to_have_text("· updating every 5 s")
    services.api_keys.create(workspace, "polled-key", created_by="local-admin")
    row = page.locator(".activity", has_text="API key polled-key created")
    expect(row).to_be_visible(timeout=15_000)
    expect(row.locator(".actor")).to_have_text("by user local-admin")
