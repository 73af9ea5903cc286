"""The search page in a real browser: a query answered with highlighted result cards."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer


def test_search_shows_highlighted_cards(live_server: LiveServer, page: Any, tmp_path: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "keys.md").write_text("# Rotating keys\n\nRotate the signing keys every ninety days.\n")
    live_server.services.ingest.ingest_path(str(docs))

    page.goto(live_server.url + "/")
    page.get_by_label("Query").fill("rotate signing keys")
    page.get_by_label("Query").press("Enter")
    card = page.locator(".card").first
    expect(card).to_contain_text("Rotating keys")
    expect(card.locator("mark").first).to_be_visible()
