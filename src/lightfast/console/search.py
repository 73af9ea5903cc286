"""The search page (seed 002): the prompt "What should we code next?", result cards with highlights,
filters, the latency breakdown, and under the prompt the tabs [Chat] [Jobs]. Rendered on the server
from a GET form, so it works without JavaScript; a script keeps the session's queries as a conversation
and switches tabs in place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from lightfast.app.search import SearchRequest, SearchResponse
from lightfast.console.jobs_page import load_board
from lightfast.console.templating import render
from lightfast.console.viewer import Viewer, services_of, viewer
from lightfast.errors import InvalidInput, LightfastError
from lightfast.sources.registry import SOURCE_TYPES

router = APIRouter(include_in_schema=False)
MAX_FILTER_VALUES = 20  # stores or source types one search may name
SUGGESTIONS = (
    "Use fewer or more general words.",
    "Remove a filter: a store, a source type, the path prefix or the dates.",
    "Search for a file name or a heading you know is there.",
)


@dataclass(frozen=True)
class Filters:
    stores: tuple[str, ...]
    source_types: tuple[str, ...]
    path_prefix: str
    date_from: date | None
    date_to: date | None

    @property
    def any(self) -> bool:
        return bool(self.stores or self.source_types or self.path_prefix or self.date_from or self.date_to)


def _day(value: str, field: str) -> date | None:
    """A date field of the filter form: empty is no bound; anything but YYYY-MM-DD is refused."""
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput(f"{field} must be a date (YYYY-MM-DD)", field=field) from exc


def _day_start(day: date | None) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=UTC) if day else None


def _day_end(day: date | None) -> datetime | None:
    """The end of ``day``: a search "to 2026-01-31" includes that whole day."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC) if day else None


@router.get("/", response_class=HTMLResponse)
async def search_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    q: Annotated[str, Query(max_length=1000)] = "",
    store: Annotated[list[str] | None, Query(max_length=MAX_FILTER_VALUES)] = None,
    type: Annotated[list[str] | None, Query(max_length=MAX_FILTER_VALUES)] = None,
    path: Annotated[str, Query(max_length=1024)] = "",
    # Text, not dates: an empty date field of the form sends "from=" and must mean "no bound".
    date_from: Annotated[str, Query(alias="from", max_length=32)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=32)] = "",
    tab: Annotated[Literal["chat", "jobs"], Query()] = "chat",
) -> HTMLResponse:
    services = services_of(request)
    error: str | None = None
    try:
        day_from, day_to = _day(date_from, "from"), _day(date_to, "to")
    except InvalidInput as exc:
        error, day_from, day_to = str(exc), None, None
    filters = Filters(
        stores=tuple(s[:64] for s in store or () if s),
        source_types=tuple(t[:32] for t in type or () if t),
        path_prefix=path.strip(),
        date_from=day_from,
        date_to=day_to,
    )
    response: SearchResponse | None = None
    query = q.strip()
    stores = await run_in_threadpool(services.workspaces.stores, who.workspace_id)
    documents = sum(view.documents for view in stores)
    if query and error is None:
        try:
            response = await run_in_threadpool(
                services.search.search,
                SearchRequest(
                    workspace_id=who.workspace_id,
                    query=query,
                    limit=10,
                    stores=filters.stores,
                    source_types=filters.source_types,
                    path_prefix=filters.path_prefix or None,
                    updated_from=_day_start(filters.date_from),
                    updated_to=_day_end(filters.date_to),
                ),
            )
        except LightfastError as exc:
            error = str(exc)
    board = await run_in_threadpool(load_board, request, who)
    # Each card lists a few of its document's related documents (issue 14).
    related = (
        await run_in_threadpool(
            services.relationships.related_many, who.workspace_id, [r.document_id for r in response.results]
        )
        if response is not None and response.results
        else {}
    )
    return render(
        request,
        "search.html",
        who,
        query=query,
        response=response,
        error=error,
        filters=filters,
        stores=stores,
        documents=documents,
        source_types=(*SOURCE_TYPES, *sorted(services.vendors.connections.kinds)),
        suggestions=SUGGESTIONS,
        tab=tab,
        board=board,
        related=related,
    )
