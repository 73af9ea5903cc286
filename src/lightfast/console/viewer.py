"""Who is looking at the console, and in which workspace.

A development install on a loopback address opens as its local admin without a password (the page says
so); anywhere else a login is required."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from lightfast.app.container import Services


class LoginRequired(Exception):
    """The page needs a signed-in user; answered with a redirect to /login."""


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
        csrf_token="",
    )
