"""Notification targets in the console (seed 003 §8): /settings/notifications lists the workspace's
outgoing webhooks and serves the forms that add and remove them (the settings page links here). Admins
and owners change them; a generic target's signing secret is shown once, on the page that answers the
form that created it (never in a URL, never again)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lightfast.app.notifications import EVENTS, CreatedTarget
from lightfast.console.templating import render
from lightfast.console.viewer import Viewer, check_csrf, services_of, viewer
from lightfast.errors import LightfastError

router = APIRouter(include_in_schema=False)
Who = Annotated[Viewer, Depends(viewer)]
ADMINS_ONLY = "only an admin or an owner of the organization may change notification targets"


async def _page(
    request: Request,
    who: Viewer,
    *,
    created: CreatedTarget | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    services = services_of(request)
    targets = await run_in_threadpool(services.notifications.list_targets, who.workspace_id)
    return render(
        request,
        "notifications.html",
        who,
        targets=targets,
        events=EVENTS,
        created=created,
        error=error,
        note=request.query_params.get("note", "")[:300],
        status_code=status_code,
    )


@router.get("/settings/notifications", response_class=HTMLResponse)
async def notifications_page(request: Request, who: Who) -> HTMLResponse:
    return await _page(request, who)


@router.post("/settings/notifications")
async def add_target(
    request: Request,
    who: Who,
    kind: Annotated[str, Form(max_length=16)],
    url: Annotated[str, Form(max_length=2048)],
    name: Annotated[str, Form(max_length=255)] = "",
    events: Annotated[list[str] | None, Form(max_length=2)] = None,
) -> Response:
    await check_csrf(request, who)
    if not who.can_administer:
        return await _page(request, who, error=ADMINS_ONLY, status_code=403)
    services = services_of(request)
    try:
        created = await run_in_threadpool(
            lambda: services.notifications.create_target(
                who.workspace_id,
                kind=kind,
                url=url.strip(),
                events=events or list(EVENTS),
                name=name.strip() or None,
                created_by=who.actor,
            )
        )
    except LightfastError as exc:
        return await _page(request, who, error=str(exc), status_code=400)
    return await _page(request, who, created=created, status_code=201)


@router.post("/settings/notifications/{target_id}/delete")
async def remove_target(request: Request, who: Who, target_id: str) -> Response:
    await check_csrf(request, who)
    if not who.can_administer:
        return await _page(request, who, error=ADMINS_ONLY, status_code=403)
    services = services_of(request)
    try:
        removed = await run_in_threadpool(
            lambda: services.notifications.delete_target(who.workspace_id, target_id, deleted_by=who.actor)
        )
    except LightfastError as exc:
        return await _page(request, who, error=str(exc), status_code=404)
    return RedirectResponse(f"/settings/notifications?note=Removed {removed.name}.", status_code=303)
