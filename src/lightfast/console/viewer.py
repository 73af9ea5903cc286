"""Who is looking at the console, and in which workspace.

A development install on a loopback address opens as its local admin without a password (the page says
so); anywhere else a login is required."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request

from lightfast.app.container import Services


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

    @property
    def actor(self) -> str:
        """What jobs and activities record as who did it."""
        return f"user:{self.user_id}" if self.user_id else "local-admin"

    @property
    def can_administer(self) -> bool:
        return self.role in ("owner", "admin")


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def viewer(request: Request) -> Viewer:
    services = services_of(request)
    if not services.settings.anonymous_allowed:
        raise LoginRequired()
    workspace_id = services.workspaces.ensure_workspace_id()
    workspace = services.workspaces.get(workspace_id)
    return Viewer(
        organization_id=workspace.organization_id,
        workspace_id=workspace_id,
        workspace_ref=services.workspaces.ref(workspace_id),
        user_id=None,
        name="local admin",
        role="owner",
        local_admin=True,
        csrf_token=hmac.new(_LOCAL_SECRET, b"local-admin", hashlib.sha256).hexdigest(),
    )


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
