"""Who is looking at the console, and in which workspace.

A development install on a loopback address opens as its local admin without a password (the page says
so) as long as the browser sends no session cookie; anywhere else a login is required. A signed-in user is
found through the ``lf_session`` cookie: a random token whose SHA-256 names a session row
(lightfast.app.users), which also holds the user's CSRF token and current workspace."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response

from lightfast.app.container import Services
from lightfast.app.people import Actor, SessionView

SESSION_COOKIE = "lf_session"
# The local admin has no session row, so its chosen workspace lives in a cookie of its own (it grants
# nothing: the workspace must belong to the local admin's organization).
LOCAL_WORKSPACE_COOKIE = "lf_workspace"


class LoginRequired(Exception):
    """The page needs a signed-in user; answered with a redirect to /login."""


class CsrfRejected(Exception):
    """A mutating console request without this session's CSRF token; answered 403."""


# The local admin has no session row; its CSRF token is derived from a secret of this process.
_LOCAL_SECRET = secrets.token_bytes(32)


@dataclass(frozen=True)
class Viewer:
    organization_id: str
    workspace_id: str
    workspace_ref: str  # "org/name", shown in the header
    user_id: str | None  # None: the local admin of a development install
    name: str
    role: str  # owner | admin | member
    local_admin: bool
    csrf_token: str
    session_id: str | None = None  # the console session (None for the local admin)
    # The organization's workspaces, (id, name), for the header's switcher.
    workspaces: tuple[tuple[str, str], ...] = ()
    # The user's organizations, (id, name), for the header's organization switcher.
    organizations: tuple[tuple[str, str], ...] = ()

    @property
    def actor(self) -> str:
        """What jobs and activities record as who did it."""
        return f"user:{self.user_id}" if self.user_id else "local-admin"

    @property
    def can_administer(self) -> bool:
        return self.role in ("owner", "admin")

    @property
    def acting(self) -> Actor:
        """The viewer as the services' Actor: role checks and the activity log."""
        return Actor(self.user_id, self.role, self.workspace_id)


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def cookie_secure(services: Services) -> bool:
    """Secure cookies outside development: a browser then never sends them over plain HTTP."""
    return services.settings.environment != "development"


def set_session_cookie(response: Response, services: Services, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=services.settings.console_session_hours * 3600,
        path="/",
        httponly=True,  # no script, including an injected one, can read it
        samesite="lax",  # not sent with another site's POST
        secure=cookie_secure(services),
    )


def clear_session_cookie(response: Response, services: Services) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=cookie_secure(services)
    )


def _choices(services: Services, organization_id: str) -> tuple[tuple[str, str], ...]:
    return tuple((w.id, w.name) for w in services.users.workspaces(organization_id))


def _signed_in(services: Services, found: SessionView) -> Viewer:
    return Viewer(
        organization_id=found.organization_id,
        workspace_id=found.workspace_id,
        workspace_ref=services.workspaces.ref(found.workspace_id),
        user_id=found.user_id,
        name=found.display_name,
        role=found.role,
        local_admin=False,
        csrf_token=found.csrf_token,
        session_id=found.session_id,
        workspaces=_choices(services, found.organization_id),
        organizations=tuple((o.id, o.name) for o in services.memberships.organizations(found.user_id)),
    )


def _local_admin(services: Services, wanted: str | None) -> Viewer:
    default_id = services.workspaces.ensure_workspace_id()
    organization_id = services.workspaces.get(default_id).organization_id
    workspace_id = services.users.workspace_of(organization_id, wanted) if wanted else default_id
    return Viewer(
        organization_id=organization_id,
        workspace_id=workspace_id,
        workspace_ref=services.workspaces.ref(workspace_id),
        user_id=None,
        name="local admin",
        role="owner",
        local_admin=True,
        csrf_token=hmac.new(_LOCAL_SECRET, b"local-admin", hashlib.sha256).hexdigest(),
        workspaces=_choices(services, organization_id),
    )


def viewer(request: Request) -> Viewer:
    """The dependency of every page (FastAPI runs it in its thread pool: it reads the database)."""
    services = services_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = services.users.resolve(token)  # refreshes the session's last use
        if found is None:  # expired, ended or unknown: sign in again (the login page drops the cookie)
            raise LoginRequired()
        return _signed_in(services, found)
    if not services.settings.anonymous_allowed:
        raise LoginRequired()
    wanted = request.cookies.get(LOCAL_WORKSPACE_COOKIE)
    return _local_admin(services, wanted[:191] if wanted else None)


async def check_csrf(request: Request, who: Viewer) -> None:
    """Every form post and mutating fetch carries the session's token, as the form field ``csrf_token`` or
    the header ``X-CSRF-Token``; a page of another origin cannot read it, so cannot forge the request."""
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not who.csrf_token or not hmac.compare_digest(sent, who.csrf_token):
        raise CsrfRejected()
