"""Connecting a vendor source from the console (issue 13): ``/sources/connect`` lists the registered
vendor kinds (``VendorSourceService.kinds``: Linear and Notion built in, Sentry, Vercel and Zendesk when
their modules register), and ``/sources/connect?type=T`` is that kind's form: a name, the webhook signing
secret (asked for only when the vendor issues it), an optional API token, and the kind's own option
fields (``VendorKind.options``), each with its label, pattern and help.

The form posts to the same ``VendorSourceService.connect`` the API and the CLI call, so a value refused
there is refused here with the same field named. The answer is a page, not a redirect: it shows the
connection's webhook URL and, once, the signing secret Lightfast generated (it is in no URL, no log,
and the page is not cached). Only admins and owners connect, as only they disconnect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from lightfast.app.vendor_sources import MAX_CREDENTIAL, VendorConnected, VendorKind
from lightfast.console.templating import render
from lightfast.console.viewer import Viewer, check_csrf, services_of, viewer
from lightfast.errors import InvalidInput, LightfastError

router = APIRouter(include_in_schema=False)

Who = Annotated[Viewer, Depends(viewer)]
OPTION_PREFIX = "option_"
MAX_FIELD = MAX_CREDENTIAL  # no form field is longer than a credential may be
# The service names fields as the API does; the form's inputs are named for HTML.
FORM_FIELDS = {"name": "name", "webhookSecret": "webhook_secret", "token": "token", "type": "type"}


def _kinds(request: Request) -> list[VendorKind]:
    kinds = services_of(request).vendors.connections.kinds
    return sorted(kinds.values(), key=lambda kind: kind.display.lower())


def _page(
    request: Request,
    who: Viewer,
    chosen: VendorKind | None,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    error_field: str | None = None,
    connected: VendorConnected | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    page = render(
        request,
        "vendor_connect.html",
        who,
        kinds=_kinds(request),
        chosen=chosen,
        values=values or {},
        error=error,
        error_field=error_field,
        connected=connected,
        option_prefix=OPTION_PREFIX,
        max_field=MAX_FIELD,
        status_code=status_code,
    )
    page.headers["Cache-Control"] = "no-store"  # the answer may hold a secret shown once
    return page


@router.get("/sources/connect", response_class=HTMLResponse)
async def connect_page(request: Request, who: Who, type: str = "") -> HTMLResponse:
    chosen = services_of(request).vendors.connections.kinds.get(type[:32]) if type else None
    if type and chosen is None:
        return _page(
            request, who, None, error=f"no source type {type[:32]!r} can be connected here", status_code=404
        )
    return _page(request, who, chosen)


@router.post("/sources/connect", response_class=HTMLResponse)
async def connect(request: Request, who: Who) -> HTMLResponse:
    await check_csrf(request, who)
    form = await request.form()
    values = {key: str(value)[: MAX_FIELD + 1] for key, value in form.items() if isinstance(value, str)}
    values.pop("csrf_token", None)
    chosen = services_of(request).vendors.connections.kinds.get(values.get("type", "")[:32])
    if chosen is None:
        return _page(request, who, None, error="choose a source type", error_field="type", status_code=400)
    if not who.can_administer:
        return _page(
            request,
            who,
            chosen,
            values=_kept(values),
            error="only an admin or an owner of the organization may connect a source",
            status_code=403,
        )
    options = {
        key.removeprefix(OPTION_PREFIX): value
        for key, value in values.items()
        if key.startswith(OPTION_PREFIX) and value.strip()
    }
    services = services_of(request)

    def run() -> VendorConnected:
        return services.vendors.connections.connect(
            who.workspace_id,
            chosen.source_type,
            name=values.get("name") or None,
            webhook_secret=values.get("webhook_secret") or None,
            token=values.get("token") or None,
            triggered_by=who.actor,
            options=options,
        )

    try:
        connected = await run_in_threadpool(run)
    except InvalidInput as exc:
        field = _form_field(chosen, exc.field)
        return _page(
            request, who, chosen, values=_kept(values), error=str(exc), error_field=field, status_code=400
        )
    except LightfastError as exc:
        return _page(request, who, chosen, values=_kept(values), error=str(exc), status_code=400)
    return _page(request, who, chosen, connected=connected)


def _kept(values: dict[str, str]) -> dict[str, str]:
    """What the form shows again after a refusal: never the credentials (retyped, not echoed)."""
    return {key: value for key, value in values.items() if key not in ("token", "webhook_secret")}


def _form_field(kind: VendorKind, field: str | None) -> str | None:
    if field is None:
        return None
    if field in FORM_FIELDS:
        return FORM_FIELDS[field]
    if any(option.name == field for option in kind.options):
        return OPTION_PREFIX + field
    return None
