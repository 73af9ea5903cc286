"""The /v1 routes: a thin layer over the services. Every handler takes the caller's workspace from its API
key (``principal``) and passes it down; nothing in a request can name another workspace, and a resource
of another workspace is answered exactly like a missing one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from lightfast.api.deps import principal, services_of
from lightfast.app import schemas
from lightfast.app.container import Services
from lightfast.app.keys import Principal
from lightfast.app.search import SearchRequest
from lightfast.app.usage import SearchUsage
from lightfast.db.models import SOURCE_TYPES
from lightfast.db.statuses import JobStatus
from lightfast.errors import InvalidInput, NotFound


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return {"model": schemas.ErrorOut, "description": description, **extra}


_RATE_HEADERS = {
    name: {"description": text, "schema": {"type": "integer"}}
    for name, text in (
        ("X-RateLimit-Limit", "Requests a key may make a minute."),
        ("X-RateLimit-Remaining", "Requests left in the current window."),
        ("X-RateLimit-Reset", "Seconds until the window is full again."),
    )
}

# Every /v1 answer that is not a success is an ErrorOut; these are the statuses any route can give.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The request is not valid (malformed JSON, a bad field, an unknown parameter)."),
    401: _error("No API key, or one that is not valid, was revoked, or has expired."),
    404: _error("The resource does not exist in the caller's workspace."),
    409: _error(
        "The resource already exists, is in a state that forbids this, or the Idempotency-Key "
        "was used with another request."
    ),
    413: _error("The request body is larger than LIGHTFAST_MAX_REQUEST_BYTES."),
    429: _error(
        "Too many requests for this API key.",
        headers={
            **_RATE_HEADERS,
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}},
        },
    ),
    500: _error("An unexpected error; the message never carries details."),
}


async def known_query(request: Request) -> None:
    """Refuse query parameters the operation does not document, as bodies refuse unknown fields: a typo
    (``?stauts=failed``) must not silently list everything, and no parameter can name a workspace."""
    path = getattr(request.scope.get("route"), "path", None)
    if path is None:
        return
    allowed = documented_query_parameters(request.app).get((request.method, path), frozenset())
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in allowed]
    if unknown:
        raise InvalidInput("unknown query parameter", field=unknown[0])


def documented_query_parameters(app: Any) -> dict[tuple[str, str], frozenset[str]]:
    """(method, path template) -> the query parameters its OpenAPI operation declares."""
    known: dict[tuple[str, str], frozenset[str]] | None = getattr(app.state, "query_parameters", None)
    if known is None:
        known = {
            (method.upper(), path): frozenset(
                p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"
            )
            for path, item in app.openapi()["paths"].items()
            for method, operation in item.items()
        }
        app.state.query_parameters = known
    return known


router = APIRouter(prefix="/v1", responses=ERRORS, dependencies=[Depends(known_query)])
Caller = Depends(principal)
Svc = Depends(services_of)


# -- search --------------------------------------------------------------------------------------


@router.post("/search", tags=["search"])
async def search(
    body: schemas.SearchBody, request: Request, who: Principal = Caller, svc: Services = Svc
) -> schemas.SearchOut:
    date_range = body.filters.date_range

    def run() -> schemas.SearchOut:
        response = svc.search.search(
            SearchRequest(
                workspace_id=who.workspace_id,
                query=body.query,
                limit=body.limit,
                offset=body.offset,
                stores=tuple(body.filters.stores),
                source_types=tuple(body.filters.source_types),
                path_prefix=body.filters.path_prefix,
                updated_from=date_range.from_ if date_range else None,
                updated_to=date_range.to if date_range else None,
                mode=body.mode,
                request_id=request.state.request_id,
                rerank=body.rerank,
                metadata=body.filters.metadata,
            )
        )
        # Recorded with the API call's own metric, in its transaction (api/middleware.record_usage).
        request.state.search_usage = SearchUsage(response.latency.total, response.mode)
        related = (
            svc.relationships.related_many(who.workspace_id, [r.document_id for r in response.results])
            if body.related
            else None
        )
        return schemas.SearchOut.from_response(response, body.include_highlights, related)

    return await run_in_threadpool(run)


@router.post("/contents", tags=["search"])
async def contents(
    body: schemas.ContentsBody, request: Request, who: Principal = Caller, svc: Services = Svc
) -> schemas.ContentsOut:
    items, missing = await run_in_threadpool(svc.documents.contents, who.workspace_id, body.ids)
    return schemas.ContentsOut.from_found(items, missing, request.state.request_id)


@router.post("/findsimilar", tags=["search"])
async def find_similar(
    body: schemas.FindSimilarBody, request: Request, who: Principal = Caller, svc: Services = Svc
) -> schemas.SimilarOut:
    items = await run_in_threadpool(
        svc.documents.find_similar, who.workspace_id, body.id, body.limit, body.threshold
    )
    return schemas.SimilarOut(
        data=[schemas.SimilarItemOut.from_similar(i) for i in items], request_id=request.state.request_id
    )


@router.get("/documents", tags=["search"])
def find_documents(
    source_type: str = Query(
        alias="sourceType", max_length=32, json_schema_extra={"enum": [*SOURCE_TYPES, "git"]}
    ),
    source_id: str = Query(alias="sourceId", min_length=1, max_length=1024),
    who: Principal = Caller,
    svc: Services = Svc,
) -> schemas.DocumentRefListOut:
    """Documents by their source's own id (seed 004): ``sourceType=linear&sourceId=ENG-123`` finds the
    issue by its identifier or its Linear id; ``sourceType=github&sourceId=...`` a file."""
    found = svc.vendors.lookup.by_source(who.workspace_id, source_type, source_id)
    return schemas.DocumentRefListOut(items=[schemas.DocumentRefOut.from_row(row) for row in found])


@router.get("/documents/{id}/children", tags=["search"], responses={404: _error("No such document.")})
def document_children(id: str, who: Principal = Caller, svc: Services = Svc) -> schemas.DocumentRefListOut:
    """A document's children, oldest first: a Linear issue's comments."""
    found = svc.vendors.lookup.children(who.workspace_id, id)
    return schemas.DocumentRefListOut(items=[schemas.DocumentRefOut.from_row(row) for row in found])


# -- jobs ----------------------------------------------------------------------------------------


@router.get("/jobs", tags=["jobs"])
def list_jobs(
    status: str | None = Query(
        default=None, max_length=32, json_schema_extra={"enum": [str(s) for s in JobStatus]}
    ),
    source: str | None = Query(default=None, max_length=191),
    limit: int = Query(default=20, ge=1, le=100),
    cursor: str | None = Query(default=None, max_length=512),
    who: Principal = Caller,
    svc: Services = Svc,
) -> schemas.JobPageOut:
    jobs, next_cursor = svc.jobs.list_jobs(
        who.workspace_id, status=status, source_id=source, limit=limit, cursor=cursor
    )
    return schemas.JobPageOut.from_page(jobs, next_cursor)


@router.get("/jobs/recent", tags=["jobs"])
def recent_jobs(
    limit: int = Query(default=10, ge=1, le=100), who: Principal = Caller, svc: Services = Svc
) -> schemas.JobListOut:
    jobs, _ = svc.jobs.list_jobs(who.workspace_id, limit=limit)
    return schemas.JobListOut(items=[schemas.JobOut.from_row(j) for j in jobs])


@router.get("/jobs/statistics", tags=["jobs"])
def job_statistics(
    hours: int = Query(default=24, ge=1, le=2160), who: Principal = Caller, svc: Services = Svc
) -> schemas.JobStatisticsOut:
    return schemas.JobStatisticsOut.model_validate(svc.jobs.statistics(who.workspace_id, hours))


@router.get("/jobs/{id}", tags=["jobs"])
def get_job(id: str, who: Principal = Caller, svc: Services = Svc) -> schemas.JobDetailOut:
    return schemas.JobDetailOut.from_detail(svc.jobs.detail(who.workspace_id, id))


@router.post("/jobs/{id}/cancel", tags=["jobs"])
def cancel_job(id: str, who: Principal = Caller, svc: Services = Svc) -> schemas.JobOut:
    return schemas.JobOut.from_row(svc.jobs.cancel(who.workspace_id, id, cancelled_by=who.key_id))


@router.post("/jobs/{id}/retry", status_code=201, tags=["jobs"])
def retry_job(id: str, who: Principal = Caller, svc: Services = Svc) -> schemas.JobOut:
    return schemas.JobOut.from_row(svc.jobs.retry(who.workspace_id, id, triggered_by=who.key_id))


# -- workspaces and stores -------------------------------------------------------------------------


@router.get("/workspaces", tags=["workspaces"])
def list_workspaces(who: Principal = Caller, svc: Services = Svc) -> schemas.WorkspaceListOut:
    workspace = schemas.WorkspaceOut.model_validate(svc.workspaces.get(who.workspace_id))
    return schemas.WorkspaceListOut(items=[workspace])


@router.post("/workspaces", status_code=201, tags=["workspaces"])
def create_workspace(
    body: schemas.WorkspaceNameBody, who: Principal = Caller, svc: Services = Svc
) -> schemas.WorkspaceOut:
    return schemas.WorkspaceOut.model_validate(svc.workspaces.create(who.workspace_id, body.name, who.key_id))


@router.get("/workspaces/{id}", tags=["workspaces"])
def get_workspace(id: str, who: Principal = Caller, svc: Services = Svc) -> schemas.WorkspaceOut:
    return schemas.WorkspaceOut.model_validate(svc.workspaces.get(own(who, id)))


@router.patch("/workspaces/{id}", tags=["workspaces"])
def rename_workspace(
    id: str, body: schemas.WorkspaceNameBody, who: Principal = Caller, svc: Services = Svc
) -> schemas.WorkspaceOut:
    return schemas.WorkspaceOut.model_validate(svc.workspaces.rename(own(who, id), body.name, who.key_id))


@router.get("/stores", tags=["stores"])
def list_stores(who: Principal = Caller, svc: Services = Svc) -> schemas.StoreListOut:
    views = svc.workspaces.stores(who.workspace_id)
    return schemas.StoreListOut(items=[schemas.StoreOut.from_view(v) for v in views])


@router.post("/stores", status_code=201, tags=["stores"])
def create_store(
    body: schemas.StoreNameBody, who: Principal = Caller, svc: Services = Svc
) -> schemas.StoreOut:
    return schemas.StoreOut.from_view(svc.workspaces.create_store(who.workspace_id, body.name, who.key_id))


@router.get("/stores/{id}", tags=["stores"])
def get_store(id: str, who: Principal = Caller, svc: Services = Svc) -> schemas.StoreOut:
    return schemas.StoreOut.from_view(svc.workspaces.store(who.workspace_id, id))


@router.patch("/stores/{id}", tags=["stores"])
def rename_store(
    id: str, body: schemas.StoreNameBody, who: Principal = Caller, svc: Services = Svc
) -> schemas.StoreOut:
    return schemas.StoreOut.from_view(
        svc.workspaces.rename_store(who.workspace_id, id, body.name, who.key_id)
    )


# -- sources -------------------------------------------------------------------------------------


@router.get("/sources", tags=["sources"])
def list_sources(who: Principal = Caller, svc: Services = Svc) -> schemas.SourceListOut:
    sources = svc.sources.list(who.workspace_id)
    ingesting = svc.sources.ingesting([s.id for s in sources])
    return schemas.SourceListOut(
        items=[schemas.SourceOut.from_row(s, ingesting=s.id in ingesting) for s in sources]
    )


@router.post(
    "/sources",
    status_code=201,
    tags=["sources"],
    responses={
        403: _error("The workspace's organization was not granted this installation or directory."),
        502: _error("GitHub answered with an error."),
        503: _error("The GitHub App is not configured on this server."),
    },
)
def connect_source(
    body: schemas.ConnectSourceBody, who: Principal = Caller, svc: Services = Svc
) -> schemas.ConnectedSourceOut:
    """Connect a source and queue its first, full sync (``jobId``). A vendor's source (Linear, Notion,
    Sentry, Vercel, Zendesk) answers with its ``webhookUrl`` too, and is synced only when given a
    ``token``."""
    if isinstance(body, schemas.VendorConnectBody):
        vendor = svc.vendors.connections.connect(
            who.workspace_id,
            body.type,
            name=body.connection_name(),
            webhook_secret=body.signing_secret(),
            token=body.token,
            triggered_by=who.key_id,
            options=body.options(),
        )
        return schemas.ConnectedSourceOut.from_row(
            vendor.source,
            job_id=vendor.job_id,
            webhook_url=vendor.webhook_url,
            webhook_secret=vendor.generated_webhook_secret,
            credentials=vendor.credentials,
            mode=vendor.mode,
            notice=vendor.notice,
        )
    if isinstance(body, schemas.ConnectGitHubBody):
        connected = svc.sources.connect_github(
            who.workspace_id, body.repository, body.installation_id, triggered_by=who.key_id
        )
        return schemas.ConnectedSourceOut.from_row(connected.source, job_id=connected.job_id)
    connected = svc.sources.connect_server_path(
        who.workspace_id,
        body.path,
        git_repository=isinstance(body, schemas.ConnectGitBody),
        branch=body.branch if isinstance(body, schemas.ConnectGitBody) else None,
        triggered_by=who.key_id,
    )
    return schemas.ConnectedSourceOut.from_row(connected.source, job_id=connected.job_id)


@router.post("/sources/{id}/sync", status_code=202, tags=["sources"])
def sync_source(
    id: str, body: schemas.SyncBody | None = None, who: Principal = Caller, svc: Services = Svc
) -> schemas.JobOut:
    """Queue a sync. Git and GitHub sources index the commits since the last sync unless ``full``; a
    local directory is always read in full (unchanged files are skipped by content hash)."""
    svc.sources.get(who.workspace_id, id)
    mode = "full" if body is not None and body.full else "incremental"
    enqueued = svc.jobs.enqueue_sync(who.workspace_id, id, mode=mode, triggered_by=who.key_id)
    return schemas.JobOut.from_row(svc.jobs.get_job(who.workspace_id, enqueued.job_id))


@router.post("/sources/{id}/detect-config", tags=["sources"])
def detect_config(id: str, who: Principal = Caller, svc: Services = Svc) -> schemas.DetectConfigOut:
    return schemas.DetectConfigOut.from_report(id, svc.sources.detect_config(who.workspace_id, id))


@router.delete("/sources/{id}", status_code=202, tags=["sources"])
def remove_source(id: str, who: Principal = Caller, svc: Services = Svc) -> schemas.JobOut:
    """Disconnect a source: it stops syncing at once, and the returned job removes its documents,
    chunks and vectors, then the source."""
    enqueued = svc.sources.disconnect(who.workspace_id, id, triggered_by=who.key_id)
    return schemas.JobOut.from_row(svc.jobs.get_job(who.workspace_id, enqueued.job_id))


# -- API keys ------------------------------------------------------------------------------------


@router.get("/api-keys", tags=["api-keys"])
def list_keys(who: Principal = Caller, svc: Services = Svc) -> schemas.ApiKeyListOut:
    keys = svc.api_keys.list(who.workspace_id)
    return schemas.ApiKeyListOut(items=[schemas.ApiKeyOut.model_validate(k) for k in keys])


@router.post("/api-keys", status_code=201, tags=["api-keys"])
def create_key(
    body: schemas.CreateKeyBody, who: Principal = Caller, svc: Services = Svc
) -> schemas.CreatedKeyOut:
    created = svc.api_keys.create(
        who.workspace_id, body.name, expires_in_days=body.expires_in_days, created_by=who.key_id
    )
    return schemas.CreatedKeyOut.from_created(created)


@router.delete("/api-keys/{id}", tags=["api-keys"])
def revoke_key(id: str, who: Principal = Caller, svc: Services = Svc) -> schemas.ApiKeyOut:
    return schemas.ApiKeyOut.model_validate(svc.api_keys.revoke(who.workspace_id, id, revoked_by=who.key_id))


@router.post("/api-keys/{id}/rotate", status_code=201, tags=["api-keys"])
def rotate_key(id: str, who: Principal = Caller, svc: Services = Svc) -> schemas.CreatedKeyOut:
    return schemas.CreatedKeyOut.from_created(
        svc.api_keys.rotate(who.workspace_id, id, created_by=who.key_id)
    )


def own(who: Principal, workspace_id: str) -> str:
    """A workspace id from the path must be the caller's own; any other is answered as missing."""
    if workspace_id != who.workspace_id:
        raise NotFound(f"workspace {workspace_id!r} does not exist")
    return workspace_id
