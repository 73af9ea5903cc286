"""GET /v1/documents/{id}/related: the relationship graph around one document of the caller's workspace
(issue 14)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from lightfast.api.deps import principal, services_of
from lightfast.api.routes import ERRORS, _error, known_query
from lightfast.app.container import Services
from lightfast.app.keys import Principal
from lightfast.app.relationships import DEFAULT_LIMIT, DIRECTIONS, MAX_LIMIT
from lightfast.app.schemas.relationships import RelatedOut
from lightfast.db.models import SOURCE_TYPES
from lightfast.relationships import EDGE_KINDS

router = APIRouter(prefix="/v1", tags=["search"], responses=ERRORS, dependencies=[Depends(known_query)])
Caller = Depends(principal)
Svc = Depends(services_of)


@router.get("/documents/{id}/related", responses={404: _error("No such document.")})
def related_documents(
    id: str,
    direction: str = Query(default="both", max_length=8, json_schema_extra={"enum": list(DIRECTIONS)}),
    kind: str | None = Query(default=None, max_length=16, json_schema_extra={"enum": list(EDGE_KINDS)}),
    source_type: str | None = Query(
        default=None, alias="sourceType", max_length=32, json_schema_extra={"enum": [*SOURCE_TYPES, "git"]}
    ),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    who: Principal = Caller,
    svc: Services = Svc,
) -> RelatedOut:
    """What a document points at (``out``: the pull request that fixed it, the commit it deployed) and
    what points at it (``in``: the issues it fixes, the errors of its release), with the edge's kind and
    the words that said so; ``unresolved`` lists its edges to keys nothing indexed has yet."""
    page = svc.relationships.related(
        who.workspace_id, id, direction=direction, kind=kind, source_type=source_type, limit=limit
    )
    return RelatedOut.from_page(page)
