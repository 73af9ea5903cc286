"""Related documents in the console (issue 14), in a real browser: a search card lists what its document is
linked to; the document's page lists incoming and outgoing edges with their evidence, links on to the
related documents, works from the keyboard, and answers another workspace's document as missing."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from tests.relationship_kit import ingest, store_of


def graph(live_server: LiveServer) -> dict[str, str]:
    services = live_server.services
    store = store_of(services)
    ids = {
        "linear": ingest(
            services,
            store,
            "linear",
            "ENG-7",
            "Session cookies expire after five minutes. Fixed by deployment dpl_9fKsE2aXbC.",
            {"kind": "issue", "identifier": "ENG-7"},
            title="ENG-7: Session cookies expire early",
        ),
        "deployment": ingest(
            services,
            store,
            "vercel",
            "dpl_9fKsE2aXbC",
            "Production deployment of the session fix.",
            {"kind": "deployment", "deploymentId": "dpl_9fKsE2aXbC", "commitSha": "abc1234"},
            title="acme-api production deployment",
        ),
        "sentry": ingest(
            services,
            store,
            "sentry",
            "4509876",
            "TypeError while reading the session cookie.",
            {"kind": "issue", "shortId": "API-1A2B", "releases": ["abc1234"]},
            title="TypeError: session cookie undefined",
        ),
        "ticket": ingest(
            services,
            store,
            "zendesk",
            "7890",
            "A customer is logged out every five minutes; support saw Sentry API-1A2B and mentions ENG-99.",
            {"kind": "ticket", "ticketId": 7890},
            title="Logged out constantly",
        ),
    }
    return ids


def test_search_cards_list_related_documents(live_server: LiveServer, page: Any) -> None:
    ids = graph(live_server)
    page.goto(live_server.url + "/?q=session+cookies+expire")
    card = page.locator("#current .card").filter(
        has=page.locator(".title", has_text="ENG-7: Session cookies expire early")
    )
    related = card.locator(".related li")
    expect(related).to_have_count(1)
    expect(related.first).to_contain_text("fixed by")
    expect(related.first).to_contain_text("acme-api production deployment")
    related.first.get_by_role("link").click()
    expect(page).to_have_url(live_server.url + f"/documents/{ids['deployment']}")


def test_the_document_page_lists_both_directions(live_server: LiveServer, page: Any) -> None:
    ids = graph(live_server)
    page.goto(live_server.url + f"/documents/{ids['deployment']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("acme-api production deployment")
    incoming = page.locator("#incoming tbody tr")
    expect(incoming).to_have_count(2)
    expect(page.locator("#incoming")).to_contain_text("fixed by")
    expect(page.locator("#incoming")).to_contain_text("ENG-7: Session cookies expire early")
    expect(page.locator("#incoming")).to_contain_text("in release")
    expect(page.locator("#incoming .evidence").first).to_contain_text("dpl_9fKsE2aXbC")
    expect(page.locator("#outgoing")).to_contain_text("Nothing it names is indexed")

    # Outgoing only, by keyboard: the tab links are reachable and followed with Enter.
    page.get_by_role("link", name="Outgoing").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url + f"/documents/{ids['deployment']}?direction=out")
    expect(page.locator("#incoming")).to_have_count(0)

    # On to the ticket through the Sentry issue: an edge not indexed yet is listed as such.
    page.goto(live_server.url + f"/documents/{ids['sentry']}")
    page.locator("#incoming").get_by_role("link", name="Logged out constantly").click()
    expect(page.locator("#outgoing")).to_contain_text("TypeError: session cookie undefined")
    expect(page.locator("#unresolved")).to_contain_text("linear:ENG-99")


def test_a_missing_or_foreign_document_is_not_found(live_server: LiveServer, page: Any) -> None:
    services = live_server.services
    graph(live_server)  # first: the default workspace, the console's
    other = store_of(services, "elsewhere")
    assert other.workspace_id != services.workspaces.workspace_id()
    foreign = ingest(
        services, other, "linear", "ENG-1", "Secret plans", {"kind": "issue", "identifier": "ENG-1"}
    )
    for document in (foreign, "doc_nope", "x" * 500):
        response = page.goto(live_server.url + f"/documents/{document}")
        assert response is not None
        assert response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("Document not found")
        expect(page.locator("body")).not_to_contain_text("Secret plans")
