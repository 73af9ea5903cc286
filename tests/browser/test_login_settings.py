"""Signing in and the Settings page in a real browser, set up like a production server (no local admin):
a page sends to /login and back, an API key is created with the keyboard alone, its secret shown once,
then revoked through its confirmation; logging out ends the session."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from lightfast.app.people import Actor
from tests.browser.conftest import LiveServer

PASSWORD = "correct horse battery"


@pytest.fixture
def live_settings_overrides() -> dict[str, Any]:
    return {"allow_anonymous": False}


def tab_to(page: Any, target: Any, *, limit: int = 80) -> None:
    """Press Tab until ``target`` has the focus: proof the keyboard reaches it in the page's order."""
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


def test_log_in_create_a_key_see_it_once_and_revoke_it(live_server: LiveServer, page: Any) -> None:
    services = live_server.services
    services.workspaces.ensure_workspace_id()
    services.users.create_member(
        "default", "ada@example.com", PASSWORD, "owner", actor=Actor(None, "owner", None, "cli")
    )

    page.goto(live_server.url + "/settings")
    expect(page).to_have_url(live_server.url + "/login?next=%2Fsettings")
    expect(page.get_by_text("continue as the local admin")).to_have_count(0)
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(live_server.url + "/settings")
    expect(page.get_by_role("heading", name="API keys of default")).to_be_visible()

    # Create a key with the keyboard alone.
    page.locator("body").focus()
    name = page.get_by_label("Name", exact=True)
    tab_to(page, name)
    page.keyboard.type("ci-browser")
    tab_to(page, page.get_by_role("button", name="Create key"))
    page.keyboard.press("Enter")
    secret = page.locator("#new-secret-value")
    expect(secret).to_contain_text("sk-lf-")
    value = secret.inner_text().strip()
    assert services.api_keys.authenticate(value).name == "ci-browser"
    row = page.locator("tr", has_text="ci-browser")
    expect(row).to_contain_text(value[-4:])  # the preview ends like the secret

    # Shown once: the page read again shows the preview only.
    page.goto(live_server.url + "/settings")
    expect(page.locator("#new-secret")).to_have_count(0)
    assert value not in page.content()

    # Revoke through the confirmation, by keyboard.
    row = page.locator("tr", has_text="ci-browser")
    summary = row.locator("summary", has_text="Revoke")
    tab_to(page, summary)
    page.keyboard.press("Enter")
    confirm = row.get_by_role("button", name="Revoke ci-browser")
    expect(confirm).to_be_visible()
    tab_to(page, confirm)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("revoked")
    expect(page.locator("tr", has_text="ci-browser")).to_contain_text("revoked")
    with pytest.raises(Exception, match="not valid"):
        services.api_keys.authenticate(value)

    # Log out: the pages ask for a login again.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(live_server.url + "/login")
    page.goto(live_server.url + "/settings")
    expect(page).to_have_url(live_server.url + "/login?next=%2Fsettings")


def test_an_invited_member_joins_switches_workspace_and_cannot_manage_keys(
    live_server: LiveServer, page: Any, browser: Any
) -> None:
    services = live_server.services
    default_id = services.workspaces.ensure_workspace_id()
    services.workspaces.create(default_id, "handbook")
    services.users.create_member(
        "default", "ada@example.com", PASSWORD, "owner", actor=Actor(None, "owner", None, "cli")
    )

    page.goto(live_server.url + "/login")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url + "/settings")
    page.get_by_role("button", name="Create invitation link").click()
    link = page.locator("#invite-link code").inner_text().strip()
    assert link.startswith(live_server.url + "/invite/")

    # The invited person, in a browser of their own.
    other = browser.new_context()
    try:
        joiner = other.new_page()
        joiner.goto(link)
        expect(joiner.get_by_role("heading", name="Join default")).to_be_visible()
        joiner.get_by_label("Email").fill("bo@example.com")
        joiner.get_by_label("Password (at least 8 characters)").fill(PASSWORD)
        joiner.get_by_label("Password again").fill(PASSWORD)
        joiner.get_by_role("button", name="Join and sign in").click()
        expect(joiner).to_have_url(live_server.url + "/")
        joiner.goto(live_server.url + "/settings")
        expect(joiner.get_by_text("You are a member of this organization")).to_be_visible()
        expect(joiner.get_by_role("button", name="Create key")).to_have_count(0)

        # The header's switcher, by keyboard.
        switch = joiner.get_by_label("Workspace", exact=True)
        joiner.locator("body").focus()
        tab_to(joiner, switch)
        switch.select_option(label="handbook")
        tab_to(joiner, joiner.get_by_role("button", name="Switch"))
        joiner.keyboard.press("Enter")
        expect(joiner.get_by_role("heading", name="API keys of handbook")).to_be_visible()

        joiner.goto(link)  # used: the link is dead
        expect(joiner.get_by_role("heading", name="This invitation cannot be used")).to_be_visible()
    finally:
        other.close()
