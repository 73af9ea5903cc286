"""The Activity page (seed 003 §5-8): the workspace's timeline with filters by category, source, actor,
dates and text, a cursor to read further, a live feed, and exports of exactly what the filters show."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from lightfast.app.live import activity_data
from lightfast.console.templating import render
from lightfast.console.viewer import Viewer, services_of, viewer
from lightfast.db.activities import ActivityFilters
from lightfast.errors import InvalidInput

router = APIRouter(include_in_schema=False)

CATEGORIES = (
    "job",
    "source",
    "config",
    "webhook",
    "api_key",
    "workspace",
    "store",
    "member",
    "auth",
    "notification",
    "health",
    "search",
)
LATEST = 50  # the polling fallback's window: more than a page shows between two polls
ACTORS = ("user", "api_key", "webhook", "scheduler", "system")


def _day(value: str, field: str, *, end: bool = False) -> datetime | None:
    """A date field of the form as a UTC moment: its start, or (``end``) the start of the next day."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput("must be a date such as 2026-11-28", field=field) from exc
    return datetime.combine(day + timedelta(days=1 if end else 0), time(), tzinfo=UTC)


def filters_of(category: str, source: str, actor: str, since: str, until: str, q: str) -> ActivityFilters:
    return ActivityFilters(
        category=category or None,
        source=source or None,
        actor=actor or None,
        since=_day(since, "from"),
        until=_day(until, "to", end=True),
        text=q.strip() or None,
    )


Text = Annotated[str, Query(max_length=200)]


@router.get("/activity", response_class=HTMLResponse)
async def activity_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    category: Text = "",
    source: Text = "",
    actor: Text = "",
    from_: Annotated[str, Query(alias="from", max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
    q: Text = "",
    cursor: Text = "",
) -> HTMLResponse:
    services = services_of(request)
    form = {"category": category, "source": source, "actor": actor, "from": from_, "to": to, "q": q}
    error = None
    try:
        filters = filters_of(category, source, actor, from_, to, q)
        page = await run_in_threadpool(
            services.activity.page, who.workspace_id, filters, limit=50, cursor=cursor or None
        )
        items = page.items
        next_cursor = page.next_cursor
    except InvalidInput as exc:
        error, items, next_cursor = str(exc), [], None
    sources = await run_in_threadpool(services.sources.list, who.workspace_id)
    days = [(day, list(rows)) for day, rows in groupby(items, key=lambda a: a.timestamp.date())]
    query = urlencode({name: value for name, value in form.items() if value})
    return render(
        request,
        "activity.html",
        who,
        form=form,
        days=days,
        error=error,
        next_cursor=next_cursor,
        sources=sources,
        categories=CATEGORIES,
        actors=ACTORS,
        filtered=bool(query),
        query=query,
        paged=bool(cursor),
        status_code=400 if error else 200,
    )


@router.get("/console/activity/latest")
async def latest(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> JSONResponse:
    """The newest activities, for the page's polling fallback when the event stream is unavailable (a
    proxy that buffers streams, a browser without EventSource): the same shape the stream sends."""
    services = services_of(request)
    page = await run_in_threadpool(
        services.activity.page, who.workspace_id, ActivityFilters(), limit=LATEST, cursor=None
    )
    return JSONResponse({"items": [activity_data(row) for row in page.items]})


@router.get("/activity/export.{kind}")
async def export(
    request: Request,
    kind: str,
    who: Annotated[Viewer, Depends(viewer)],
    category: Text = "",
    source: Text = "",
    actor: Text = "",
    from_: Annotated[str, Query(alias="from", max_length=10)] = "",
    to: Annotated[str, Query(max_length=10)] = "",
    q: Text = "",
) -> StreamingResponse:
    if kind not in ("csv", "json"):
        raise InvalidInput("must be csv or json", field="format")
    services = services_of(request)
    filters = filters_of(category, source, actor, from_, to, q)
    log = services.activity
    workspace = who.workspace_id
    rows = log.export_csv(workspace, filters) if kind == "csv" else log.export_json(workspace, filters)
    media = "text/csv; charset=utf-8" if kind == "csv" else "application/json"
    return StreamingResponse(
        rows, media_type=media, headers={"Content-Disposition": f'attachment; filename="activity.{kind}"'}
    )
