"""Every console page in a real browser over a workspace with history: each loads its assets from the
package (no request leaves the server, none fails), runs its scripts without an error, and gives every
form field a label. The final page of each is kept as a screenshot; ``make screenshots`` runs this module
with LIGHTFAST_SCREENSHOTS_DIR=docs/screenshots to refresh the README's images."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from lightfast.app.search import SearchRequest
from tests.browser.conftest import ARTIFACTS, LiveServer

PAGES = {
    "search": "/?q=how+are+webhook+signatures+checked",
    "jobs": "/?tab=jobs",
    "dashboard": "/dashboard",
    "activity": "/activity",
    "sources": "/sources",
    "connect": "/sources/connect?type=linear",
    "settings": "/settings",
}
# The corpus is this project's own documentation: real prose, so the screenshots show real results.
DOCS = Path(__file__).resolve().parents[2] / "docs"


def screenshot_dir() -> Path:
    return Path(os.environ.get("LIGHTFAST_SCREENSHOTS_DIR") or ARTIFACTS / "pages")


@pytest.fixture
def live_settings_overrides() -> dict[str, Any]:
    """``make screenshots`` embeds with the real model (the README's images show real scores); the suite
    keeps the fake one, which is all these checks need."""
    return {"embedding_provider": "local"} if os.environ.get("LIGHTFAST_SCREENSHOTS_DIR") else {}


def history(live_server: LiveServer, tmp_path: Path) -> None:
    """A workspace people have used: a source ingested, searches made, a job detail to open."""
    services = live_server.services
    # A stable, readable path for the README's images; a fresh one per test otherwise.
    base = (
        Path(tempfile.gettempdir()) / "lightfast-demo"
        if os.environ.get("LIGHTFAST_SCREENSHOTS_DIR")
        else tmp_path
    )
    root = base / "handbook"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "lightfast.yml").write_text("version: 1\nstore: handbook\ninclude:\n  - '**/*.md'\n")
    for doc in sorted(DOCS.glob("*.md")):
        shutil.copy(doc, root / doc.name)
    workspace = services.workspaces.ensure_workspace_id()
    job_id = services.sources.connect_local(workspace, root).job_id
    services.jobs.wait(workspace, job_id, timeout=300)
    for query in ("rollback a deploy", "rotate the secret key", "webhook signature"):
        services.search.search(SearchRequest(workspace_id=workspace, query=query))


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_loads_offline_without_errors(
    live_server: LiveServer, page: Any, tmp_path: Path, name: str
) -> None:
    history(live_server, tmp_path)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}") if message.type == "error" else None
        ),
    )
    page.on(
        "response",
        lambda answer: problems.append(f"{answer.status} for {answer.url}") if answer.status >= 400 else None,
    )
    page.on("requestfailed", lambda request: problems.append(f"failed request: {request.url}"))
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((live_server.url, "data:", "blob:"))
            else problems.append(f"request outside the server: {request.url}")
        ),
    )

    response = page.goto(live_server.url + PAGES[name])
    assert response is not None
    assert response.status == 200
    expect(page.locator("main")).to_be_visible()
    page.wait_for_load_state("networkidle")

    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
             .filter(f => f.type !== 'hidden' && f.type !== 'submit' && !f.closest('[hidden]'))
             .filter(f => !(f.labels && f.labels.length) && !f.getAttribute('aria-label')
                          && !f.getAttribute('aria-labelledby'))
             .map(f => f.name || f.id || f.outerHTML.slice(0, 80))"""
    )
    assert unlabelled == [], f"form fields without a label on {name}: {unlabelled}"
    assert problems == [], f"{name}: {problems}"

    target = screenshot_dir()
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=False)
