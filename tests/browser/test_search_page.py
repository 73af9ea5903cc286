"""The search page in a real browser: a query answered with highlighted result cards, a hostile title
rendered as text, filters, and Chat keeping the session's queries as a conversation."""

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
    expect(page.get_by_label("Query")).to_have_attribute("placeholder", "What should we code next?")
    page.get_by_label("Query").fill("rotate signing keys")
    page.get_by_label("Query").press("Enter")
    card = page.locator(".card").first
    expect(card).to_contain_text("Rotating keys")
    expect(card.locator("mark").first).to_be_visible()
    expect(page.locator(".latency")).to_contain_text("embedding")


def test_a_hostile_document_renders_inert_and_chat_keeps_the_conversation(
    live_server: LiveServer, page: Any, tmp_path: Any
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "evil.md").write_text(
        '# <img src=x onerror="window.__pwned=1"> Deploy\n\n'
        "Deploy with <script>window.__pwned=2</script> care.\n"
    )
    (docs / "ops.md").write_text("# Operations\n\nRollback a deploy with the runbook.\n")
    live_server.services.ingest.ingest_path(str(docs))

    page.goto(live_server.url + "/?q=deploy")
    card = page.locator("#current .card", has_text="Deploy").first
    expect(card.locator(".title")).to_contain_text('<img src=x onerror="window.__pwned=1"> Deploy')
    expect(card.locator("img")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None

    # A second question: the first stays above it as part of the conversation, rebuilt safely.
    page.get_by_label("Query").fill("rollback runbook")
    page.get_by_label("Query").press("Enter")
    expect(page.locator("#current .card").first).to_contain_text("Operations")
    earlier = page.locator("#conversation .turn")
    expect(earlier).to_have_count(1)
    expect(earlier.first.locator(".asked")).to_have_text("deploy")
    expect(earlier.first.locator("mark").first).to_be_visible()
    expect(earlier.first.locator("img")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None


def test_filters_narrow_by_path(live_server: LiveServer, page: Any, tmp_path: Any) -> None:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "guide").mkdir()
    (root / "docs" / "a.md").write_text("# Alpha\n\nDeploy notes.\n")
    (root / "guide" / "b.md").write_text("# Beta\n\nDeploy guide.\n")
    live_server.services.ingest.ingest_path(str(root))

    page.goto(live_server.url + "/?q=deploy")
    page.locator("summary", has_text="Filters").focus()
    page.keyboard.press("Enter")  # the disclosure opens from the keyboard
    page.get_by_label("Path prefix").fill("guide/")
    page.get_by_label("Path prefix").press("Enter")
    expect(page.locator("#current .card")).to_have_count(1)
    expect(page.locator("#current .card")).to_contain_text("Beta")
