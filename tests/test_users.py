"""Console users (issue 12, "Who uses it"): argon2id hashes, roles and the last-owner rule, one-time
invitations that expire, the sign-in rate limit, sessions that end when idle or at their end, and the
``lightfast users`` commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from typer.testing import CliRunner, Result

from lightfast.app.container import Services
from lightfast.app.people import Actor, normalize_email, retry_after
from lightfast.cli import app
from lightfast.db.models import Activity, ConsoleSession, Invitation, User
from lightfast.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited, Unauthenticated
from lightfast.testing.clock import FakeClock
from tests.test_cli import as_json, cli_env

PASSWORD = "correct horse battery"
CLI = Actor(None, "owner", None, "cli")


@pytest.fixture
def svc(lightfast_services: Services) -> Services:
    lightfast_services.workspaces.ensure_workspace_id()  # the default organization and workspace
    return lightfast_services


def org_id(svc: Services) -> str:
    return svc.users.organization_id("default")


def member(svc: Services, email: str, role: str | None = None) -> str:
    return svc.users.create_member("default", email, PASSWORD, role, actor=CLI).id


def acting(svc: Services, user_id: str) -> Actor:
    role = next(m.role for m in svc.users.members(org_id(svc)) if m.user_id == user_id)
    return Actor(user_id, role, svc.workspaces.workspace_id())


# -- users and hashing --------------------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id_hashes_only(svc: Services) -> None:
    user_id = member(svc, "Ada@Example.COM ")
    with svc.sessions() as session:
        user = session.get(User, user_id)
        assert user is not None
        assert user.email == "ada@example.com"  # one address, however typed
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
    assert svc.users.verify_password(user.password_hash, PASSWORD)
    assert not svc.users.verify_password(user.password_hash, PASSWORD + "x")
    assert not svc.users.verify_password(None, PASSWORD)  # a user without a password never signs in


def test_one_user_per_email_and_bounded_passwords(svc: Services) -> None:
    svc.users.create_user("ada@example.com", PASSWORD)
    with pytest.raises(Conflict):
        svc.users.create_user(" ADA@example.com", PASSWORD)
    for bad in ("short", "x" * 257):
        with pytest.raises(InvalidInput) as caught:
            svc.users.create_user("bob@example.com", bad)
        assert caught.value.field == "password"
    with pytest.raises(InvalidInput) as caught:
        svc.users.create_user("not an address", PASSWORD)
    assert caught.value.field == "email"


def test_first_member_of_an_organization_is_its_owner(svc: Services) -> None:
    first, second = member(svc, "ada@example.com"), member(svc, "bob@example.com")
    roles = {m.user_id: m.role for m in svc.users.members(org_id(svc))}
    assert roles == {first: "owner", second: "member"}
    with pytest.raises(Conflict):
        member(svc, "bob@example.com")
    with pytest.raises(NotFound):
        svc.users.create_member("nowhere", "carol@example.com", PASSWORD, None, actor=CLI)


# -- roles ----------------------------------------------------------------------------------------------


def test_members_cannot_manage_and_admins_cannot_touch_owners(svc: Services) -> None:
    owner = member(svc, "owner@example.com")
    admin = member(svc, "admin@example.com", "admin")
    plain = member(svc, "plain@example.com", "member")
    with pytest.raises(Forbidden):
        svc.users.change_role(acting(svc, plain), org_id(svc), admin, "member")
    with pytest.raises(Forbidden):
        svc.users.invite(acting(svc, plain), org_id(svc))
    with pytest.raises(Forbidden):
        svc.users.remove_member(acting(svc, plain), org_id(svc), admin)
    with pytest.raises(Forbidden):  # an admin cannot make an owner, nor demote one
        svc.users.change_role(acting(svc, admin), org_id(svc), plain, "owner")
    with pytest.raises(Forbidden):
        svc.users.change_role(acting(svc, admin), org_id(svc), owner, "member")
    svc.users.change_role(acting(svc, admin), org_id(svc), plain, "admin")
    assert {m.email: m.role for m in svc.users.members(org_id(svc))}["plain@example.com"] == "admin"


def test_the_last_owner_cannot_be_demoted_removed_or_disabled(svc: Services) -> None:
    owner = member(svc, "owner@example.com")
    me = acting(svc, owner)
    with pytest.raises(Conflict, match="last owner"):
        svc.users.change_role(me, org_id(svc), owner, "admin")
    with pytest.raises(Conflict, match="last owner"):
        svc.users.remove_member(me, org_id(svc), owner)
    with pytest.raises(Conflict, match="last owner"):
        svc.users.disable("owner@example.com")
    second = member(svc, "second@example.com", "owner")
    svc.users.change_role(me, org_id(svc), owner, "admin")  # another owner remains
    with pytest.raises(Conflict, match="last owner"):
        svc.users.remove_member(acting(svc, second), org_id(svc), second)


def test_member_changes_are_activities_naming_the_actor(svc: Services) -> None:
    owner = member(svc, "owner@example.com")
    plain = member(svc, "plain@example.com")
    svc.users.change_role(acting(svc, owner), org_id(svc), plain, "admin")
    svc.users.remove_member(acting(svc, owner), org_id(svc), plain)
    with svc.sessions() as session:
        rows = list(session.scalars(select(Activity).where(Activity.category == "member")))
    actions = [(a.action, a.actor_type, a.actor_id, a.entity_id) for a in rows]
    assert ("member.added", "user", "cli", plain) in actions
    assert ("member.role_changed", "user", owner, plain) in actions
    assert ("member.removed", "user", owner, plain) in actions


def test_removing_a_member_ends_their_sessions(svc: Services) -> None:
    owner = member(svc, "owner@example.com")
    member(svc, "plain@example.com")
    signed = svc.users.login("plain@example.com", PASSWORD)
    svc.users.remove_member(acting(svc, owner), org_id(svc), signed.view.user_id)
    assert svc.users.resolve(signed.token) is None
    with pytest.raises(Unauthenticated):  # no organization left to sign in to
        svc.users.login("plain@example.com", PASSWORD)


# -- invitations ----------------------------------------------------------------------------------------


def test_an_invitation_works_once(svc: Services) -> None:
    owner = member(svc, "owner@example.com")
    created = svc.users.invite(acting(svc, owner), org_id(svc), "admin")
    with svc.sessions() as session:  # only the hash is stored
        stored = session.scalars(select(Invitation)).one()
        assert created.token not in stored.token_hash
    signed = svc.users.accept(created.token, email="new@example.com", password=PASSWORD)
    assert signed.view.role == "admin"
    assert signed.view.email == "new@example.com"
    with pytest.raises(Conflict, match="used already"):
        svc.users.accept(created.token, email="other@example.com", password=PASSWORD)
    with pytest.raises(NotFound):
        svc.users.invitation("not-a-token-at-all")


def test_an_invitation_expires(svc: Services, lightfast_clock: FakeClock) -> None:
    owner = member(svc, "owner@example.com")
    created = svc.users.invite(acting(svc, owner), org_id(svc))
    lightfast_clock.advance(timedelta(days=svc.settings.invitation_days, seconds=1))
    with pytest.raises(Conflict, match="expired"):
        svc.users.accept(created.token, email="late@example.com", password=PASSWORD)


def test_an_invitation_for_an_address_is_only_for_it(svc: Services) -> None:
    owner = member(svc, "owner@example.com")
    created = svc.users.invite(acting(svc, owner), org_id(svc), email="Dana@Example.com")
    with pytest.raises(Forbidden):
        svc.users.accept(created.token, email="eve@example.com", password=PASSWORD)
    signed = svc.users.accept(created.token, email="dana@example.com", password=PASSWORD)
    assert signed.view.role == "member"


def test_an_existing_user_joins_with_their_current_password(svc: Services) -> None:
    owner = member(svc, "owner@example.com")
    svc.users.create_user("known@example.com", PASSWORD)
    created = svc.users.invite(acting(svc, owner), org_id(svc))
    with pytest.raises(Unauthenticated):  # a link cannot take over someone's account
        svc.users.accept(created.token, email="known@example.com", password="another password")
    assert svc.users.accept(created.token, email="known@example.com", password=PASSWORD).view.role == "member"


def test_an_invitation_cannot_be_used_to_guess_a_password_past_the_limit(svc: Services) -> None:
    owner = member(svc, "owner@example.com")
    svc.users.create_user("known@example.com", PASSWORD)
    created = svc.users.invite(acting(svc, owner), org_id(svc))
    for n in range(svc.settings.login_failures_per_email):
        with pytest.raises(Unauthenticated):
            svc.users.accept(created.token, email="known@example.com", password=f"guess number {n}")
    with pytest.raises(RateLimited):
        svc.users.accept(created.token, email="known@example.com", password=PASSWORD)


# -- sign-in and its rate limit ------------------------------------------------------------------------


def test_login_says_the_same_for_a_wrong_email_and_a_wrong_password(svc: Services) -> None:
    member(svc, "ada@example.com")
    with pytest.raises(Unauthenticated) as wrong_password:
        svc.users.login("ada@example.com", "wrong password")
    with pytest.raises(Unauthenticated) as wrong_email:
        svc.users.login("nobody@example.com", PASSWORD)
    assert wrong_password.value.message == wrong_email.value.message


def test_five_failures_refuse_even_the_right_password_until_the_window_passes(
    svc: Services, lightfast_clock: FakeClock
) -> None:
    member(svc, "ada@example.com")
    for _ in range(svc.settings.login_failures_per_email):
        with pytest.raises(Unauthenticated):
            svc.users.login("ada@example.com", "wrong password", address="10.0.0.1")
    with pytest.raises(RateLimited) as caught:
        svc.users.login("ada@example.com", PASSWORD, address="10.0.0.2")
    assert "too many failed sign-ins for this email" in caught.value.message
    assert 0 < caught.value.retry_after <= svc.settings.login_window_minutes * 60
    lightfast_clock.advance(timedelta(minutes=svc.settings.login_window_minutes, seconds=1))
    assert svc.users.login("ada@example.com", PASSWORD).view.email == "ada@example.com"


def test_failures_from_one_address_are_limited_across_emails(svc: Services) -> None:
    member(svc, "ada@example.com")
    for n in range(svc.settings.login_failures_per_address):
        with pytest.raises(Unauthenticated):
            svc.users.login(f"guess{n}@example.com", "wrong password", address="203.0.113.9")
    with pytest.raises(RateLimited, match="from this address"):
        svc.users.login("ada@example.com", PASSWORD, address="203.0.113.9")
    assert svc.users.login("ada@example.com", PASSWORD, address="198.51.100.1").token


def test_a_new_password_ends_every_session(svc: Services) -> None:
    member(svc, "ada@example.com")
    signed = svc.users.login("ada@example.com", PASSWORD)
    svc.users.set_password("ada@example.com", "a new passphrase")
    assert svc.users.resolve(signed.token) is None
    with pytest.raises(Unauthenticated):
        svc.users.login("ada@example.com", PASSWORD)
    assert svc.users.login("ada@example.com", "a new passphrase").token


def test_a_disabled_user_cannot_sign_in_and_is_signed_out(svc: Services) -> None:
    member(svc, "owner@example.com")
    member(svc, "ada@example.com")
    signed = svc.users.login("ada@example.com", PASSWORD)
    svc.users.disable("ada@example.com")
    assert svc.users.resolve(signed.token) is None
    with pytest.raises(Unauthenticated):
        svc.users.login("ada@example.com", PASSWORD)


# -- sessions -------------------------------------------------------------------------------------------


def test_sessions_store_only_a_hash_and_end_at_logout(svc: Services) -> None:
    member(svc, "ada@example.com")
    signed = svc.users.login("ada@example.com", PASSWORD)
    with svc.sessions() as session:
        row = session.scalars(select(ConsoleSession)).one()
        assert row.token_hash != signed.token
        assert signed.token not in row.token_hash
    assert svc.users.resolve(signed.token) == signed.view
    svc.users.logout(signed.token)
    assert svc.users.resolve(signed.token) is None


def test_an_idle_session_expires(svc: Services, lightfast_clock: FakeClock) -> None:
    member(svc, "ada@example.com")
    signed = svc.users.login("ada@example.com", PASSWORD)
    lightfast_clock.advance(timedelta(minutes=svc.settings.console_idle_minutes - 1))
    assert svc.users.resolve(signed.token) is not None  # used: the idle clock starts again
    lightfast_clock.advance(timedelta(minutes=svc.settings.console_idle_minutes - 1))
    assert svc.users.resolve(signed.token) is not None
    lightfast_clock.advance(timedelta(minutes=svc.settings.console_idle_minutes))
    assert svc.users.resolve(signed.token) is None


def test_a_session_in_use_still_ends_at_its_absolute_end(svc: Services, lightfast_clock: FakeClock) -> None:
    member(svc, "ada@example.com")
    signed = svc.users.login("ada@example.com", PASSWORD)
    step = timedelta(minutes=svc.settings.console_idle_minutes // 2)
    end = lightfast_clock.now() + timedelta(hours=svc.settings.console_session_hours)
    while lightfast_clock.now() + step < end:
        lightfast_clock.advance(step)
        assert svc.users.resolve(signed.token) is not None
    lightfast_clock.advance_to(end)
    assert svc.users.resolve(signed.token) is None


def test_switching_workspace_stays_inside_the_organization(svc: Services) -> None:
    member(svc, "ada@example.com")
    signed = svc.users.login("ada@example.com", PASSWORD)
    other = svc.workspaces.create(signed.view.workspace_id, "other")
    svc.users.switch_workspace(signed.view.session_id, other.id)
    resolved = svc.users.resolve(signed.token)
    assert resolved is not None
    assert resolved.workspace_id == other.id
    svc.organizations.create("acme")
    foreign = svc.workspaces.workspace_id("acme/default")
    with pytest.raises(NotFound):
        svc.users.switch_workspace(signed.view.session_id, foreign)


# -- pure parts -----------------------------------------------------------------------------------------

NOW = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
times = st.lists(st.integers(min_value=0, max_value=3600), max_size=30).map(
    lambda seconds: sorted(NOW - timedelta(seconds=s) for s in seconds)
)


@given(times, st.integers(min_value=1, max_value=10))
def test_retry_after_refuses_exactly_when_the_window_holds_the_limit(
    failures: list[datetime], limit: int
) -> None:
    inside = [at for at in failures if NOW - WINDOW < at <= NOW]
    wait = retry_after(failures, limit, WINDOW, NOW)
    assert (wait is not None) == (len(inside) >= limit)
    if wait is not None:
        assert 1 <= wait <= WINDOW.total_seconds()
        # once the wait is over, fewer than ``limit`` failures remain in the window
        later = NOW + timedelta(seconds=wait)
        assert retry_after(failures, limit, WINDOW, later) is None


@given(st.emails())
def test_normalize_email_is_idempotent_and_lowercase(email: str) -> None:
    try:
        once = normalize_email(email)
    except InvalidInput:
        return
    assert once == once.lower().strip()
    assert normalize_email(once) == once


# -- the CLI ----------------------------------------------------------------------------------------------


def invoke(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, input=input)


def ok(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    result = invoke(env, *args, input=input)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def test_cli_creates_lists_invites_and_disables(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    created = ok(
        env, "users", "create", "Ada@Example.com", "--org", "default", "--password-stdin", input=PASSWORD
    )
    assert "ada@example.com: owner of default" in created.stdout
    ok(env, "users", "create", "bob@example.com", "--org", "default", "--role", "admin", "--password-stdin",
       input=PASSWORD + "\n")  # fmt: skip
    listed = as_json(ok(env, "users", "list", "--org", "default", "--json"))
    assert {(m["email"], m["role"]) for m in listed} == {
        ("ada@example.com", "owner"),
        ("bob@example.com", "admin"),
    }
    link = ok(env, "users", "invite", "--org", "default", "--role", "member").stdout.strip()
    assert link.startswith("http://127.0.0.1:8000/invite/")
    assert len(link.rsplit("/", 1)[1]) >= 40
    changed = ok(env, "users", "set-password", "ada@example.com", "--password-stdin", input="new passphrase")
    assert "password changed" in changed.stdout
    assert "bob@example.com: disabled" in ok(env, "users", "disable", "bob@example.com").stdout
    refused = invoke(env, "users", "disable", "ada@example.com")  # the last owner
    assert refused.exit_code != 0
    assert "last owner" in refused.stderr
    bad = invoke(env, "users", "create", "carol@example.com", "--org", "default", "--role", "king",
                 "--password-stdin", input=PASSWORD)  # fmt: skip
    assert bad.exit_code == 2
    assert "role must be one of" in bad.stderr


def test_cli_never_reads_a_password_without_a_terminal_or_stdin_flag(tmp_path: Path) -> None:
    result = invoke(cli_env(tmp_path), "users", "create", "ada@example.com", "--org", "default")
    assert result.exit_code == 2
    assert "--password-stdin" in result.stderr


# -- both databases ----------------------------------------------------------------------------------------


def test_roles_invitations_and_sessions_on_each_database(services: Services) -> None:
    """The same rules on SQLite and PostgreSQL (row locks, unique constraints, time comparisons)."""
    services.workspaces.ensure_workspace_id()
    owner = services.users.create_member("default", "owner@example.com", PASSWORD, None, actor=CLI).id
    organization = services.users.organization_id("default")
    me = Actor(owner, "owner", services.workspaces.workspace_id())
    with pytest.raises(Conflict, match="last owner"):
        services.users.change_role(me, organization, owner, "member")
    created = services.users.invite(me, organization, "admin")
    signed = services.users.accept(created.token, email="new@example.com", password=PASSWORD)
    with pytest.raises(Conflict):
        services.users.accept(created.token, email="other@example.com", password=PASSWORD)
    assert services.users.resolve(signed.token) == signed.view
    services.users.remove_member(me, organization, signed.view.user_id)
    assert services.users.resolve(signed.token) is None
