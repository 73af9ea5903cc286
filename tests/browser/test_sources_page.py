"""The sources page in a real browser: the config dialog shows a broken lightfast.yml and its problem by
line and column; Sync now queues a job; a source disconnected through the confirmation disappears."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from tests.conftest import write

VALID = "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n"
BROKEN = "version: 1\ninclude: ['**/*.md']\nstore: Not_Valid\n"  # line 3, column 8: the store name


def connect(live_server: LiveServer, root: Path) -> str:
    services = live_server.services
    write(root, {"lightfast.yml": VALID, "guide.md": "# Guide\n\nHow to deploy.\n"})
    return services.sources.connect_local(services.workspaces.ensure_workspace_id(), root).source.id


def test_config_dialog_shows_the_file_and_its_problem(
    live_server: LiveServer, page: Any, tmp_path: Path
) -> None:
    root = tmp_path / "handbook"
    source_id = connect(live_server, root)
    (root / "lightfast.yml").write_text(BROKEN)
    page.goto(live_server.url + "/sources")
    row = page.locator(f"#source-{source_id}")
    row.get_by_role("button", name="Detect config").click()
    expect(page.locator(".problems")).to_contain_text("line 3:8")  # the config page (no dialog needed)

    page.goto(live_server.url + "/sources")
    expect(page.locator(f"#source-{source_id} [data-config-status]")).to_have_text("error")
    page.locator(f"#source-{source_id}").get_by_role("link", name="Config").click()
    dialog = page.locator("dialog#source-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("pre.yml")).to_contain_text("store: Not_Valid")
    expect(dialog.locator(".problem").first).to_contain_text("line 3:8")
    expect(dialog.locator('pre.yml [data-line="3"]')).to_have_class("bad")
    page.keyboard.press("Escape")  # a <dialog> closes with Escape, and focus returns to its link
    expect(dialog).to_be_hidden()
    expect(page.locator(f"#source-{source_id}").get_by_role("link", name="Config")).to_be_focused()


def test_sync_now_queues_a_job(live_server: LiveServer, page: Any, tmp_path: Path) -> None:
    source_id = connect(live_server, tmp_path / "repo")
    page.goto(live_server.url + "/sources")
    page.locator(f"#source-{source_id}").get_by_role("button", name="Sync now").click()
    notice = page.locator(".notice[role=status]")
    expect(notice).to_contain_text("Sync queued as job job_")
    job_id = notice.inner_text().split("job ")[-1].rstrip(".")
    job = live_server.services.jobs.get_job(live_server.services.workspaces.ensure_workspace_id(), job_id)
    assert job.source_id == source_id
    assert job.triggered_by == "local-admin"


def test_disconnect_through_the_confirmation(live_server: LiveServer, page: Any, tmp_path: Path) -> None:
    keep = connect(live_server, tmp_path / "keep")
    gone = connect(live_server, tmp_path / "gone")
    page.goto(live_server.url + "/sources")
    page.locator(f"#source-{gone}").get_by_role("link", name="Disconnect").click()
    dialog = page.locator("dialog#source-dialog")
    expect(dialog).to_contain_text("Disconnect gone?")
    expect(dialog.locator(".impact")).to_contain_text("document")
    dialog.get_by_role("button", name="Disconnect and delete").click()
    expect(page.locator(".notice[role=status]")).to_contain_text("Disconnecting gone")
    deadline = time.monotonic() + 30
    while page.locator(f"#source-{gone}").count() and time.monotonic() < deadline:
        time.sleep(0.5)  # the disconnect job removes its documents, then the source
        page.reload()
    expect(page.locator(f"#source-{gone}")).to_have_count(0)
    expect(page.locator(f"#source-{keep}")).to_have_count(1)
