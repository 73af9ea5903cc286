"""The search page (seed 002): the prompt, result cards with highlights, filters and the latency
breakdown. Rendered on the server from a GET form, so it works without JavaScript."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from lightfast.app.search import SearchRequest, SearchResponse
from lightfast.console.templating import render
from lightfast.console.viewer import Viewer, services_of, viewer
from lightfast.errors import LightfastError

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def search_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    q: Annotated[str, Query(max_length=1000)] = "",
) -> HTMLResponse:
    services = services_of(request)
    response: SearchResponse | None = None
    error: str | None = None
    query = q.strip()
    if query:
        try:
            response = await run_in_threadpool(
                services.search.search, SearchRequest(workspace_id=who.workspace_id, query=query, limit=10)
            )
        except LightfastError as exc:
            error = str(exc)
    return render(request, "search.html", who, query=query, response=response, error=error)
