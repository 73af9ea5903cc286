"""The Settings page (issue 12, page 6): the current workspace's API keys (a new key's secret shown once),
the organization's members and their roles, invitation links, the organization's workspaces, and the
notification targets when the notifications service is installed.

Everyone in the organization may read it; every change needs an owner or an admin (checked here and again
by the services), and the session's CSRF token. Plain forms: it all works without JavaScript."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lightfast.console.templating import render
from lightfast.console.viewer import Viewer, check_csrf, services_of, viewer
from lightfast.errors import Conflict, Forbidden, InvalidInput, LightfastError, NotFound

router = APIRouter(include_in_schema=False)
ID = Annotated[str, Path(min_length=1, max_length=191, pattern=r"^[A-Za-z0-9_-]+$")]
MAX_FIELD = 300
EXPIRY_CHOICES = ((None, "Never"), (30, "30 days"), (90, "90 days"), (365, "1 year"))
DONE = {
    "key-revoked": "The API key was revoked: requests with it are refused from now on.",
    "role-changed": "The role was changed.",
    "invitation-revoked": "The invitation was revoked: its link no longer works.",
    "member-removed": "The member was removed and signed out.",
    "workspace-created": "The workspace was created.",
    "workspace-renamed": "The workspace was renamed.",
    "workspace-default": "The default workspace was changed.",
}


def _status(exc: LightfastError) -> int:
    for kind, code in ((Forbidden, 403), (NotFound, 404), (Conflict, 409), (InvalidInput, 400)):
        if isinstance(exc, kind):
            return code
    return 400


def _notifications(services: Any, workspace_id: str) -> tuple[bool, list[Any]]:
    """Whatever the notifications service (another part of the console) lists for the workspace; the
    section says it is not installed when the service is missing."""
    notifications = getattr(services, "notifications", None)
    if notifications is None:
        return False, []
    for name in ("list_targets", "targets", "list"):
        lister = getattr(notifications, name, None)
        if callable(lister):
            try:
                return True, list(lister(workspace_id))
            except (LightfastError, TypeError):
                return True, []
    return True, []


def _page(request: Request, who: Viewer, *, status_code: int = 200, **extra: Any) -> Response:
    services = services_of(request)
    users = services.users
    installed, targets = _notifications(services, who.workspace_id)
    members = users.members(who.organization_id)
    context: dict[str, Any] = {
        "keys": services.api_keys.list(who.workspace_id),
        "members": members,
        # Keys record who made them as "user:<id>" (Viewer.actor); the page shows the address.
        "people": {f"user:{m.user_id}": m.email for m in members},
        "invitations": users.invitations(who.organization_id) if who.can_administer else [],
        "workspaces": users.workspaces(who.organization_id),
        "notifications_installed": installed,
        "targets": targets,
        "expiry_choices": EXPIRY_CHOICES,
        "roles": ("owner", "admin", "member"),
        "done": DONE.get(request.query_params.get("done", "")),
        "owners": sum(1 for m in members if m.role == "owner"),
    }
    context.update(extra)
    return render(request, "settings.html", who, status_code=status_code, **context)


async def _fields(request: Request, *names: str) -> dict[str, str]:
    form = await request.form()
    values: dict[str, str] = {}
    for name in names:
        value = form.get(name)
        text = value.strip() if isinstance(value, str) else ""
        if len(text) > MAX_FIELD:
            raise InvalidInput(f"{name} is too long (at most {MAX_FIELD} characters)", field=name)
        values[name] = text
    return values


async def _mutate(
    request: Request, who: Viewer, names: tuple[str, ...], change: Callable[[dict[str, str]], Any], done: str
) -> Response:
    """The shape of every change: CSRF, an admin, bounded fields, the change, then back to the page with
    what happened (or the page again with the error and its status)."""
    await check_csrf(request, who)
    try:
        fields = await _fields(request, *names)
        if not who.can_administer:
            raise Forbidden("only owners and admins may change settings; ask one of them")
        result = await run_in_threadpool(change, fields)
    except LightfastError as exc:
        status, message = _status(exc), exc.message
        return await run_in_threadpool(lambda: _page(request, who, status_code=status, error=message))
    if isinstance(result, Response):
        return result
    return RedirectResponse(f"/settings?done={done}", status_code=303)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    return _page(request, who)


# -- API keys ----------------------------------------------------------------------------------------


@router.post("/settings/keys", response_class=HTMLResponse)
async def create_key(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    services = services_of(request)

    def create(fields: dict[str, str]) -> Response:
        expiry = fields["expires_in_days"]
        if expiry and not expiry.isdigit():
            raise InvalidInput("expires_in_days must be a number of days", field="expires_in_days")
        created = services.api_keys.create(
            who.workspace_id,
            fields["name"],
            expires_in_days=int(expiry) if expiry else None,
            created_by=who.actor,
        )
        # Rendered in this answer, never stored: reloading the page does not show it again.
        return _page(request, who, status_code=201, new_key=created.key, new_secret=created.secret)

    return await _mutate(request, who, ("name", "expires_in_days"), create, "")


@router.post("/settings/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: ID, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    services = services_of(request)

    def revoke(_: dict[str, str]) -> None:
        services.api_keys.revoke(who.workspace_id, key_id, revoked_by=who.actor)

    return await _mutate(request, who, (), revoke, "key-revoked")


# -- members and invitations ---------------------------------------------------------------------------


@router.post("/settings/invitations", response_class=HTMLResponse)
async def invite(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    services = services_of(request)

    def create(fields: dict[str, str]) -> Response:
        created = services.users.invite(
            who.acting, who.organization_id, fields["role"] or "member", email=fields["email"] or None
        )
        link = f"{str(request.base_url).rstrip('/')}/invite/{created.token}"
        return _page(request, who, status_code=201, invite_link=link, invited=created.invitation)

    return await _mutate(request, who, ("role", "email"), create, "")


@router.post("/settings/invitations/{invitation_id}/revoke")
async def revoke_invitation(
    request: Request, invitation_id: ID, who: Annotated[Viewer, Depends(viewer)]
) -> Response:
    services = services_of(request)
    return await _mutate(
        request,
        who,
        (),
        lambda _: services.memberships.revoke_invitation(who.acting, who.organization_id, invitation_id),
        "invitation-revoked",
    )


@router.post("/settings/members/{user_id}/role")
async def change_role(request: Request, user_id: ID, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    services = services_of(request)
    return await _mutate(
        request,
        who,
        ("role",),
        lambda f: services.users.change_role(who.acting, who.organization_id, user_id, f["role"]),
        "role-changed",
    )


@router.post("/settings/members/{user_id}/remove")
async def remove_member(request: Request, user_id: ID, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    services = services_of(request)
    return await _mutate(
        request,
        who,
        (),
        lambda _: services.users.remove_member(who.acting, who.organization_id, user_id),
        "member-removed",
    )


# -- workspaces -----------------------------------------------------------------------------------------


def _own_workspace(request: Request, who: Viewer, workspace_id: str) -> None:
    """A workspace id from a form is trusted only inside the viewer's organization."""
    if workspace_id not in {w.id for w in services_of(request).users.workspaces(who.organization_id)}:
        raise NotFound("no such workspace in this organization", field="workspace")


@router.post("/settings/workspaces")
async def create_workspace(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    services = services_of(request)
    return await _mutate(
        request,
        who,
        ("name",),
        lambda f: services.workspaces.create(who.workspace_id, f["name"], who.actor),
        "workspace-created",
    )


@router.post("/settings/workspaces/{workspace_id}/rename")
async def rename_workspace(
    request: Request, workspace_id: ID, who: Annotated[Viewer, Depends(viewer)]
) -> Response:
    services = services_of(request)

    def rename(fields: dict[str, str]) -> None:
        _own_workspace(request, who, workspace_id)
        services.workspaces.rename(workspace_id, fields["name"], who.actor)

    return await _mutate(request, who, ("name",), rename, "workspace-renamed")


@router.post("/settings/workspaces/{workspace_id}/default")
async def default_workspace(
    request: Request, workspace_id: ID, who: Annotated[Viewer, Depends(viewer)]
) -> Response:
    services = services_of(request)

    def make_default(_: dict[str, str]) -> None:
        _own_workspace(request, who, workspace_id)
        services.workspaces.set_default(services.workspaces.ref(workspace_id))

    return await _mutate(request, who, (), make_default, "workspace-default")
