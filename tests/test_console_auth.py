"""Signing in to the console (issue 12, "Who uses it") over HTTP: the session cookie's flags, CSRF on
every form (the sign-in form included), no open redirect after sign-in, login required outside
development, and the Settings page's role checks."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.app.people import Actor
from lightfast.console.auth import safe_next
from lightfast.db.models import Activity, ApiKey
from lightfast.embed.fake import FakeEmbedder, WordTokenizer
from lightfast.settings import Settings
from lightfast.testing.clock import FakeClock

PASSWORD = "correct horse battery"
CLI = Actor(None, "owner", None, "cli")


@pytest.fixture
def svc(lightfast_services: Services) -> Services:
    """Development on loopback with anonymous access off (the plugin's default): a login is required."""
    lightfast_services.workspaces.ensure_workspace_id()
    lightfast_services.users.create_member("default", "owner@example.com", PASSWORD, "owner", actor=CLI)
    lightfast_services.users.create_member("default", "plain@example.com", PASSWORD, "member", actor=CLI)
    return lightfast_services


@pytest.fixture
def client(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc)) as made:
        yield made


def login_token(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next: str = "/") -> Any:
    token = login_token(client)
    return client.post(
        "/login",
        data={"email": email, "password": password, "next": next, "csrf_token": token},
        follow_redirects=False,
    )


def page_csrf(client: TestClient, path: str = "/settings") -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def test_pages_need_a_login_and_come_back_after_it(client: TestClient) -> None:
    answer = client.get("/settings", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fsettings"
    signed = sign_in(client, "owner@example.com", next="/settings")
    assert signed.status_code == 303
    assert signed.headers["location"] == "/settings"
    assert "API keys of" in client.get("/settings").text


def test_the_session_cookie_is_httponly_lax_and_site_wide(client: TestClient) -> None:
    answer = sign_in(client, "owner@example.com")
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("lf_session="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "path=/" in flags
    assert "secure" not in flags  # development on loopback serves plain HTTP


def test_a_wrong_password_is_refused_and_the_limit_answers_429(client: TestClient, svc: Services) -> None:
    for _ in range(svc.settings.login_failures_per_email):
        answer = sign_in(client, "owner@example.com", "wrong password")
        assert answer.status_code == 401
        assert "the email or password is wrong" in answer.text
    limited = sign_in(client, "owner@example.com")
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert "too many failed sign-ins" in limited.text


def test_the_login_form_refuses_a_post_without_its_token(client: TestClient) -> None:
    """Login CSRF: another site cannot sign this browser in to an account of its choosing."""
    data = {"email": "owner@example.com", "password": PASSWORD, "next": "/"}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 403
    login_token(client)  # the cookie is set, but the form does not repeat it
    assert (
        client.post("/login", data={**data, "csrf_token": "forged"}, follow_redirects=False).status_code
        == 403
    )
    assert "lf_session" not in client.cookies


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "http:/evil",
        "javascript:alert(1)",
        "\\\\x",
    ],
)
def test_no_open_redirect_after_sign_in(client: TestClient, target: str) -> None:
    answer = sign_in(client, "owner@example.com", next=target)
    assert answer.headers["location"] == "/"


@given(st.text(max_size=60))
def test_safe_next_only_ever_returns_a_path_of_this_site(target: str) -> None:
    chosen = safe_next(target)
    assert chosen.startswith("/")
    assert not chosen.startswith("//")
    assert "\\" not in chosen
    assert chosen == "/" or chosen == target


def test_mutations_without_the_session_token_are_403(client: TestClient, svc: Services) -> None:
    sign_in(client, "owner@example.com")
    for path, data in [
        ("/settings/keys", {"name": "ci"}),
        ("/settings/invitations", {"role": "member"}),
        ("/settings/workspaces", {"name": "docs"}),
        ("/logout", {}),
    ]:
        assert client.post(path, data=data, follow_redirects=False).status_code == 403, path
        assert client.post(path, data={**data, "csrf_token": "x"}, follow_redirects=False).status_code == 403
    assert svc.api_keys.list(svc.workspaces.workspace_id()) == []


def test_a_member_cannot_create_keys_or_change_roles(client: TestClient, svc: Services) -> None:
    sign_in(client, "plain@example.com")
    csrf = page_csrf(client)
    refused = client.post("/settings/keys", data={"name": "ci", "csrf_token": csrf})
    assert refused.status_code == 403
    assert "only owners and admins" in refused.text
    assert svc.api_keys.list(svc.workspaces.workspace_id()) == []
    owner = next(m for m in svc.users.members(svc.users.organization_id("default")) if m.role == "owner")
    demote = client.post(
        f"/settings/members/{owner.user_id}/role", data={"role": "member", "csrf_token": csrf}
    )
    assert demote.status_code == 403
    assert "Create key" not in client.get("/settings").text  # the form is not offered either


def test_an_owner_creates_a_key_sees_the_secret_once_and_revokes_it(
    client: TestClient, svc: Services
) -> None:
    signed = sign_in(client, "owner@example.com")
    assert signed.status_code == 303
    csrf = page_csrf(client)
    created = client.post("/settings/keys", data={"name": "ci", "expires_in_days": "30", "csrf_token": csrf})
    assert created.status_code == 201
    secret = re.search(r"sk-lf-[A-Za-z0-9_-]{40,}", created.text)
    assert secret
    assert secret.group(0) not in client.get("/settings").text  # shown once
    principal = svc.api_keys.authenticate(secret.group(0))
    workspace_id = svc.workspaces.workspace_id()
    assert principal.workspace_id == workspace_id
    key = svc.api_keys.list(workspace_id)[0]
    owner_id = next(
        m.user_id for m in svc.users.members(svc.users.organization_id("default")) if m.role == "owner"
    )
    assert key.created_by == f"user:{owner_id}"
    revoked = client.post(
        f"/settings/keys/{key.id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    with svc.sessions() as session:
        assert session.get(ApiKey, key.id).revoked_at is not None  # type: ignore[union-attr]
        actions = {
            (a.category, a.action, a.actor_id)
            for a in session.scalars(select(Activity).where(Activity.category.in_(["api_key", "auth"])))
        }
    assert ("api_key", "api_key.created", owner_id) in actions
    assert ("api_key", "api_key.revoked", owner_id) in actions
    assert ("auth", "auth.login", owner_id) in actions


def test_logout_ends_the_session_for_good(client: TestClient, svc: Services) -> None:
    sign_in(client, "owner@example.com")
    stolen = client.cookies.get("lf_session")
    csrf = page_csrf(client)
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/settings", follow_redirects=False).status_code == 303
    client.cookies.set("lf_session", stolen or "")  # a copy of the cookie is worth nothing now
    assert client.get("/settings", follow_redirects=False).headers["location"].startswith("/login")


def test_an_idle_session_sends_back_to_login(
    client: TestClient, svc: Services, lightfast_clock: FakeClock
) -> None:
    sign_in(client, "owner@example.com")
    assert client.get("/settings", follow_redirects=False).status_code == 200
    lightfast_clock.advance(timedelta(minutes=svc.settings.console_idle_minutes + 1))
    assert client.get("/settings", follow_redirects=False).status_code == 303


def test_an_invitation_link_creates_the_member_and_signs_in(client: TestClient, svc: Services) -> None:
    sign_in(client, "owner@example.com")
    created = client.post("/settings/invitations", data={"role": "admin", "csrf_token": page_csrf(client)})
    link = re.search(r"http://testserver(/invite/[A-Za-z0-9_-]+)", created.text)
    assert link
    with TestClient(create_app(svc)) as invited:
        token = login_token(invited, link.group(1))
        form = {"email": "new@example.com", "password": PASSWORD, "confirm": PASSWORD, "csrf_token": token}
        assert invited.post(link.group(1), data={**form, "confirm": "different!"}).status_code == 400
        accepted = invited.post(link.group(1), data=form, follow_redirects=False)
        assert accepted.status_code == 303
        assert "new@example.com" in invited.get("/settings").text
        assert invited.get(link.group(1)).status_code == 410  # used: the link is dead


def test_the_last_owner_cannot_be_removed_through_the_page(client: TestClient, svc: Services) -> None:
    sign_in(client, "owner@example.com")
    owner = next(m for m in svc.users.members(svc.users.organization_id("default")) if m.role == "owner")
    answer = client.post(
        f"/settings/members/{owner.user_id}/role", data={"role": "admin", "csrf_token": page_csrf(client)}
    )
    assert answer.status_code == 409
    assert "last owner" in answer.text


def test_the_workspace_switcher_changes_the_current_workspace(client: TestClient, svc: Services) -> None:
    sign_in(client, "owner@example.com")
    csrf = page_csrf(client)
    assert client.post("/settings/workspaces", data={"name": "docs", "csrf_token": csrf}).status_code == 200
    docs = next(w for w in svc.users.workspaces(svc.users.organization_id("default")) if w.name == "docs")
    assert 'id="workspace-switch"' in client.get("/settings").text
    switched = client.post(
        "/workspace",
        data={"workspace_id": docs.id, "next": "/settings", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert switched.headers["location"] == "/settings"
    assert "API keys of docs" in client.get("/settings").text


def test_production_requires_login_and_secure_cookies(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{tmp_path / 'prod.db'}",
        environment="production",
        embedding_provider="local",  # production refuses the fake one; the fake is passed in below
        secret_key=base64.b64encode(os.urandom(32)).decode(),
        host="0.0.0.0",
    )
    services = build_services(settings, embedder=FakeEmbedder(), tokenizer=WordTokenizer())
    try:
        services.workspaces.ensure_workspace_id()
        services.users.create_member("default", "owner@example.com", PASSWORD, "owner", actor=CLI)
        with TestClient(create_app(services), base_url="https://testserver") as client:
            assert client.get("/", follow_redirects=False).status_code == 303
            assert client.get("/settings", follow_redirects=False).headers["location"].startswith("/login")
            assert "continue as the local admin" not in client.get("/login").text
            answer = sign_in(client, "owner@example.com")
            cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("lf_session="))
            assert "secure" in [part.strip().lower() for part in cookie.split(";")]
            assert client.get("/settings").status_code == 200
    finally:
        services.close()


def test_oversized_fields_are_refused_naming_the_field(client: TestClient, svc: Services) -> None:
    token = login_token(client)
    data = {"email": "owner@example.com", "password": "p" * 5000, "next": "/", "csrf_token": token}
    answer = client.post("/login", data=data, follow_redirects=False)
    assert answer.status_code == 400
    assert "password is too long" in answer.text
    sign_in(client, "owner@example.com")
    csrf = page_csrf(client)
    too_long = client.post("/settings/keys", data={"name": "k" * 400, "csrf_token": csrf})
    assert too_long.status_code == 400
    assert "name is too long" in too_long.text
    switch = client.post("/workspace", data={"workspace_id": "w" * 5000, "csrf_token": csrf})
    assert switch.status_code == 400


def test_joining_through_a_link_ends_the_browsers_previous_session(client: TestClient, svc: Services) -> None:
    sign_in(client, "owner@example.com")
    first = client.cookies.get("lf_session")
    created = client.post("/settings/invitations", data={"role": "member", "csrf_token": page_csrf(client)})
    link = re.search(r"http://testserver(/invite/[A-Za-z0-9_-]+)", created.text)
    assert link
    token = login_token(client, link.group(1))
    form = {"email": "new@example.com", "password": PASSWORD, "confirm": PASSWORD, "csrf_token": token}
    assert client.post(link.group(1), data=form, follow_redirects=False).status_code == 303
    assert svc.users.resolve(first) is None
    assert "new@example.com" in client.get("/settings").text


def test_a_revoked_invitation_link_stops_working_at_once(client: TestClient, svc: Services) -> None:
    sign_in(client, "owner@example.com")
    created = client.post(
        "/settings/invitations",
        data={"role": "member", "email": "late@example.com", "csrf_token": page_csrf(client)},
    )
    link = re.search(r"http://testserver(/invite/[A-Za-z0-9_-]+)", created.text)
    assert link
    (invitation,) = svc.users.invitations(svc.users.organization_id("default"))
    settings = client.get("/settings").text
    assert 'aria-label="Revoke the member invitation for late@example.com"' in settings
    revoked = client.post(
        f"/settings/invitations/{invitation.id}/revoke",
        data={"csrf_token": page_csrf(client)},
        follow_redirects=False,
    )
    assert revoked.headers["location"] == "/settings?done=invitation-revoked"
    assert svc.users.invitations(svc.users.organization_id("default")) == []
    again = client.post(
        f"/settings/invitations/{invitation.id}/revoke", data={"csrf_token": page_csrf(client)}
    )
    assert again.status_code == 409
    with TestClient(create_app(svc)) as invited:
        dead = invited.get(link.group(1))
        assert dead.status_code == 410
        assert "revoked" in dead.text
    with svc.sessions() as session:
        recorded = session.scalars(
            select(Activity).where(Activity.action == "member.invitation_revoked")
        ).one()
    assert recorded.details == {"email": "late@example.com", "role": "member"}
    assert recorded.entity_id == invitation.id


def test_a_member_cannot_revoke_invitations(client: TestClient, svc: Services) -> None:
    owner = svc.users.invite(CLI, svc.users.organization_id("default"), "member")
    sign_in(client, "plain@example.com")
    answer = client.post(
        f"/settings/invitations/{owner.invitation.id}/revoke", data={"csrf_token": page_csrf(client)}
    )
    assert answer.status_code == 403
    assert len(svc.users.invitations(svc.users.organization_id("default"))) == 1


def test_a_user_of_two_organizations_switches_between_them(client: TestClient, svc: Services) -> None:
    svc.organizations.create("beta", name="Beta Labs")
    svc.users.create_member("beta", "owner@example.com", None, "member", actor=CLI)
    svc.organizations.create("gamma", name="Gamma")  # not theirs
    sign_in(client, "owner@example.com")
    page = client.get("/settings").text
    assert 'id="organization-switch"' in page
    assert "Beta Labs" in page
    assert "Gamma" not in page
    beta = svc.users.organization_id("beta")
    switched = client.post(
        "/organization",
        data={"organization_id": beta, "csrf_token": page_csrf(client)},
        follow_redirects=False,
    )
    assert switched.status_code == 303
    settings = client.get("/settings").text
    assert "beta/" in settings  # the header names the workspace of the other organization
    assert "Create invitation link" not in settings  # a member there, not an owner
    refused = client.post(
        "/organization",
        data={"organization_id": svc.users.organization_id("gamma"), "csrf_token": page_csrf(client)},
    )
    assert refused.status_code == 404
