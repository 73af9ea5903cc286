"""GET /v1/activity: the caller's workspace's activity log, filtered, paged, or exported (CSV, JSON)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from lightfast.api.deps import principal, services_of
from lightfast.api.routes import ERRORS, known_query
from lightfast.app.container import Services
from lightfast.app.keys import Principal
from lightfast.app.schemas.activity import ActivityListOut
from lightfast.db.activities import ActivityFilters

router = APIRouter(prefix="/v1", tags=["activity"], responses=ERRORS, dependencies=[Depends(known_query)])

_EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


@router.get(
    "/activity",
    response_model=ActivityListOut,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def activity(
    category: str | None = Query(default=None, max_length=32),
    source: str | None = Query(default=None, max_length=191, description="A source id."),
    actor: str | None = Query(
        default=None,
        max_length=191,
        description="An actor id, or a type: user, api_key, webhook, scheduler, system.",
    ),
    from_: datetime | None = Query(default=None, alias="from", description="Inclusive, ISO 8601."),
    to: datetime | None = Query(default=None, description="Exclusive, ISO 8601."),
    q: str | None = Query(default=None, max_length=200, description="Text in the action, entity or details."),
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50, ge=1, le=200),
    format: Literal["page", "csv", "json"] = Query(
        default="page", description="page: one page of ActivityList; csv or json: every filtered row."
    ),
    who: Principal = Depends(principal),
    svc: Services = Depends(services_of),
) -> ActivityListOut | StreamingResponse:
    """What happened in the workspace, newest first: who (a user, an API key, a webhook sender, the
    scheduler, the system) did what to which entity, with what it changed. ``format=csv|json`` exports
    exactly the filtered rows (at most 100,000)."""
    filters = ActivityFilters(category, source, actor, _utc(from_), _utc(to), q or None)
    if format == "page":
        return ActivityListOut.from_page(
            svc.activity.page(who.workspace_id, filters, limit=limit, cursor=cursor)
        )
    rows = (
        svc.activity.export_csv(who.workspace_id, filters)
        if format == "csv"
        else svc.activity.export_json(who.workspace_id, filters)
    )
    return StreamingResponse(
        rows,
        media_type=_EXPORT_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="activity.{format}"'},
    )


def _utc(moment: datetime | None) -> datetime | None:
    """A moment without an offset is read as UTC, the log's own time."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
