"""A document's page (issue 14): what it is, what it points at and what points at it across sources,
each edge with its kind and the words that said so. Server-rendered: reading needs no JavaScript."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from lightfast.app.relationships import DIRECTIONS, MAX_LIMIT, RelatedPage
from lightfast.console.templating import render
from lightfast.console.viewer import Viewer, services_of, viewer
from lightfast.errors import InvalidInput, NotFound

router = APIRouter(include_in_schema=False)
DOCUMENT_ID_MAX = 191  # the documents table's id column


@router.get("/documents/{document_id}", response_class=HTMLResponse)
async def document_page(
    request: Request,
    document_id: str,
    who: Annotated[Viewer, Depends(viewer)],
    direction: Annotated[str, Query(max_length=8)] = "both",
) -> HTMLResponse:
    services = services_of(request)
    if len(document_id) > DOCUMENT_ID_MAX:
        return render(request, "document.html", who, status_code=404, page=None, document_id=document_id[:40])
    if direction not in DIRECTIONS:
        direction = "both"
    try:
        page: RelatedPage = await run_in_threadpool(
            lambda: services.relationships.related(
                who.workspace_id, document_id, direction=direction, limit=MAX_LIMIT
            )
        )
    except (NotFound, InvalidInput):
        return render(request, "document.html", who, status_code=404, page=None, document_id=document_id)
    return render(
        request,
        "document.html",
        who,
        page=page,
        document_id=document_id,
        outgoing=[item for item in page.items if item.direction == "out"],
        incoming=[item for item in page.items if item.direction == "in"],
        direction=direction,
    )
