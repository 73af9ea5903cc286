"""The console's vendor connect form (issue 13) in a real browser: every registered vendor kind is
offered; connecting Linear shows the webhook URL and the generated signing secret once (a reconnect keeps
it and shows none); a refused value is named, its field marked, the credentials not echoed; a kind's own
option fields (VendorKind.options) are rendered with their labels and checked by the service."""

from __future__ import annotations

import dataclasses
from typing import Any

from playwright.sync_api import expect

from lightfast.app.credentials import WEBHOOK_SECRET
from lightfast.app.vendor_sources import VendorOption
from tests.browser.conftest import LiveServer


def test_connecting_linear_shows_the_webhook_url_and_the_secret_once(
    live_server: LiveServer, page: Any
) -> None:
    services = live_server.services
    page.goto(live_server.url + "/sources")
    page.get_by_role("link", name="Connect a source").click()
    kinds = page.get_by_role("navigation", name="Source types")
    for kind in services.vendors.connections.kinds.values():
        expect(kinds.get_by_role("link", name=kind.display, exact=True)).to_be_visible()
    # By keyboard: Tab to the Linear link and follow it with Enter.
    kinds.get_by_role("link", name="Linear", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Linear", exact=True)).to_be_visible()
    page.get_by_label("Name").fill("acme")
    page.get_by_role("button", name="Connect Linear").click()

    expect(page.get_by_role("heading", name="Linear acme is connected")).to_be_visible()
    url = page.locator("#webhook-url").inner_text()
    secret = page.locator("#webhook-secret").inner_text()
    assert "/webhooks/linear/src_" in url
    assert secret.startswith("lin_wh_")
    source_id = url.rsplit("/", 1)[-1]
    assert services.vendors.credentials.read(source_id, WEBHOOK_SECRET) == secret
    assert secret not in page.url

    # Reconnecting keeps the secret (Linear already has it) and shows none.
    page.goto(live_server.url + "/sources/connect?type=linear")
    page.get_by_label("Name").fill("acme")
    page.get_by_role("button", name="Connect Linear").click()
    expect(page.get_by_role("heading", name="Linear acme is connected")).to_be_visible()
    expect(page.locator("#webhook-secret")).to_have_count(0)
    assert services.vendors.credentials.read(source_id, WEBHOOK_SECRET) == secret

    page.get_by_role("link", name="See it among the sources").click()
    expect(page.locator(f"#source-{source_id}")).to_contain_text("Linear acme")


def test_a_refused_value_is_named_and_credentials_are_not_echoed(live_server: LiveServer, page: Any) -> None:
    page.goto(live_server.url + "/sources/connect?type=notion")
    page.get_by_label("Name").fill("bad/name")
    page.get_by_label("API token").fill("secret_notion_token_value")
    page.get_by_role("button", name="Connect Notion").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("name")
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name")).to_have_value("bad/name")
    expect(page.get_by_label("API token")).to_have_value("")
    assert "secret_notion_token_value" not in page.content()
    page.goto(live_server.url + "/sources/connect?type=jira")
    expect(page.get_by_role("alert")).to_contain_text("jira")


def test_a_kinds_option_fields_are_rendered_and_checked(live_server: LiveServer, page: Any) -> None:
    kinds = live_server.services.vendors.connections.kinds
    region = VendorOption(
        "region", "Data region", required=True, pattern="[a-z]{2}", help="Two letters, e.g. eu."
    )
    kinds["notion"] = dataclasses.replace(kinds["notion"], options=(region,))
    page.goto(live_server.url + "/sources/connect?type=notion")
    field = page.get_by_label("Data region")
    expect(field).to_have_attribute("required", "")
    expect(field).to_have_attribute("pattern", "[a-z]{2}")
    expect(page.locator("#option_region-help")).to_have_text("Two letters, e.g. eu.")
    page.get_by_label("Name").fill("wiki")
    field.fill("Europe")
    page.get_by_role("button", name="Connect Notion").click()
    expect(page.get_by_role("alert")).to_contain_text("region")
    expect(page.get_by_label("Data region")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Data region").fill("eu")
    page.get_by_role("button", name="Connect Notion").click()
    expect(page.get_by_role("heading", name="Notion wiki is connected")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("cannot index pages")  # no token: said plainly
