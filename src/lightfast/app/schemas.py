"""Request bodies (validated by pydantic, errors mapped to 400 naming the field) and the JSON shapes of
responses (camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from lightfast.app.keys import CreatedKey, key_payload
from lightfast.db.models import ConnectedSource, Workspace
from lightfast.db.types import iso
from lightfast.app.jobs_serialize import job_detail_payload, job_payload
from lightfast.app.search import DocumentContent, SearchResponse, SearchResult, SimilarDocument
from lightfast.app.workspaces import StoreView


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DateRange(Body):
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None


class Filters(Body):
    stores: list[str] = Field(default_factory=list, max_length=50)
    source_types: list[str] = Field(default_factory=list, alias="sourceTypes", max_length=10)
    path_prefix: str | None = Field(default=None, alias="pathPrefix", max_length=1024)
    date_range: DateRange | None = Field(default=None, alias="dateRange")


class SearchBody(Body):
    # The service rejects a blank query itself (with a clearer message); the pattern documents it.
    query: str = Field(min_length=1, max_length=1000, json_schema_extra={"pattern": r"\S"})
    limit: int = Field(default=10, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1000)
    # "balanced" fuses dense and lexical retrieval; "fast" skips the query embedding (lexical only).
    mode: Literal["fast", "balanced", "hybrid", "dense", "bm25"] = "balanced"
    filters: Filters = Field(default_factory=Filters)
    include_highlights: bool = Field(default=False, alias="includeHighlights")


class ContentsBody(Body):
    ids: list[str] = Field(min_length=1, max_length=50)


class FindSimilarBody(Body):
    id: str = Field(min_length=1, max_length=191)
    limit: int = Field(default=10, ge=1, le=50)
    threshold: float = Field(default=0.0, ge=0.0, le=1.0)


# The services check these names with their own messages; the patterns only document the rules.
class WorkspaceNameBody(Body):
    name: str = Field(
        min_length=1, max_length=64, json_schema_extra={"pattern": r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$"}
    )


class StoreNameBody(Body):
    name: str = Field(
        min_length=1, max_length=64, json_schema_extra={"pattern": r"^[a-z0-9-]{1,20}$", "maxLength": 20}
    )


class ConnectLocalBody(Body):
    """A directory on the server, under LIGHTFAST_LOCAL_SOURCE_ROOTS, read as it is at each sync."""

    type: Literal["local"]
    path: str = Field(min_length=1, max_length=4096)


class ConnectGitBody(Body):
    """A git repository on the server, under LIGHTFAST_LOCAL_SOURCE_ROOTS: each sync indexes the commits
    of ``branch`` (default: the checked-out one) since the last."""

    type: Literal["git"]
    path: str = Field(min_length=1, max_length=4096)
    branch: str | None = Field(default=None, min_length=1, max_length=255)


class ConnectGitHubBody(Body):
    """A repository the GitHub App's installation can read; pushes arrive at POST /webhooks/github."""

    type: Literal["github"]
    repository: str = Field(
        min_length=3, max_length=200, json_schema_extra={"pattern": r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"}
    )
    installation_id: int = Field(alias="installationId", ge=1, le=2**53)


ConnectSourceBody = Annotated[
    ConnectLocalBody | ConnectGitBody | ConnectGitHubBody, Field(discriminator="type")
]


class SyncBody(Body):
    full: bool = False


class CreateKeyBody(Body):
    name: str = Field(min_length=1, max_length=255)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, alias="expiresInDays")


# -- response models: what the OpenAPI document promises, and what FastAPI checks every answer against --

# Timestamps are rendered by ``iso`` (offset included), so they stay strings; the schema says date-time.
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class Out(BaseModel):
    """A response object: snake_case here, camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class ErrorOut(Out):
    error: str = Field(description="A stable machine-readable code, e.g. not_found or invalid_input.")
    message: str
    request_id: str


class HealthOut(Out):
    status: str
    version: str


class SearchSourceOut(Out):
    type: str
    path: str
    store: str


class SearchHitOut(Out):
    id: str
    document_id: str
    title: str
    url: str | None
    snippet: str
    score: float
    source: SearchSourceOut
    highlights: list[str]


class SearchMetaOut(Out):
    total: int
    limit: int
    offset: int
    took: float
    mode: Literal["fast", "balanced", "hybrid", "dense", "bm25"]


class LatencyOut(Out):
    embedding: float
    retrieval: float
    fusion: float
    total: float


class SearchOut(Out):
    data: list[SearchHitOut]
    meta: SearchMetaOut
    latency: LatencyOut
    request_id: str


class ContentItemOut(Out):
    id: str
    title: str
    path: str
    source_type: str
    url: str | None
    content: str
    metadata: dict[str, Any]
    updated_at: Timestamp | None


class ContentsOut(Out):
    items: list[ContentItemOut]
    missing: list[str]
    request_id: str


class SimilarItemOut(Out):
    id: str
    document_id: str
    title: str
    path: str
    url: str | None
    source_type: str
    score: float


class SimilarOut(Out):
    data: list[SimilarItemOut]
    request_id: str


class ProgressOut(Out):
    processed: int
    total: int | None


class JobOut(Out):
    id: str
    name: str
    status: str
    trigger: str
    source_id: str | None
    store_id: str | None
    retry_of: str | None
    progress: ProgressOut
    created_at: Timestamp | None
    started_at: Timestamp | None
    completed_at: Timestamp | None
    duration_ms: int | None
    error: str | None
    output: dict[str, Any] | None


class JobStepOut(Out):
    id: int
    name: str
    status: Literal["completed", "failed", "running"]
    started_at: Timestamp | None
    completed_at: Timestamp | None
    duration_ms: int | None
    error: str | None


class JobFailureOut(Out):
    path: str
    reason: str
    message: str


class JobDetailOut(JobOut):
    steps: list[JobStepOut]
    failures: list[JobFailureOut]


class JobPageOut(Out):
    items: list[JobOut]
    next_cursor: str | None
    has_more: bool


class JobListOut(Out):
    items: list[JobOut]


class JobStatisticsOut(Out):
    hours: int
    total: int
    by_status: dict[str, int]
    average_duration_ms: float | None
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    success_rate: float | None


class WorkspaceOut(Out):
    id: str
    name: str
    slug: str
    is_default: bool
    created_at: Timestamp | None


class WorkspaceListOut(Out):
    items: list[WorkspaceOut]


class StoreOut(Out):
    id: str
    name: str
    embedding_model: str
    embedding_dim: int
    chunk_max_tokens: int
    chunk_overlap: int
    document_count: int
    chunk_count: int
    created_at: Timestamp | None


class StoreListOut(Out):
    items: list[StoreOut]


class SourceOut(Out):
    id: str
    type: str
    name: str
    is_active: bool
    config_status: str
    document_count: int
    last_synced_at: Timestamp | None
    created_at: Timestamp | None
    config_message: str | None = None
    last_commit: str | None = None
    external_key: str | None = None


class ConnectedSourceOut(SourceOut):
    job_id: str


class SourceListOut(Out):
    items: list[SourceOut]


class SourceConfigOut(Out):
    version: int
    store: str
    include: list[str]
    exclude: list[str]


class DetectConfigOut(Out):
    source_id: str
    status: Literal["configured", "unconfigured", "error"]
    path: str | None
    config: SourceConfigOut | None
    problems: list[str]


class ApiKeyOut(Out):
    id: str
    name: str
    preview: str
    created_at: Timestamp | None
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None


class CreatedKeyOut(ApiKeyOut):
    key: str = Field(description="The secret, shown only in this response.")


class ApiKeyListOut(Out):
    items: list[ApiKeyOut]


MODE_OF = {"fast": "bm25", "balanced": "hybrid", "hybrid": "hybrid", "dense": "dense", "bm25": "bm25"}


def search_result(result: SearchResult, include_highlights: bool) -> dict[str, Any]:
    return {
        "id": result.id,
        "documentId": result.document_id,
        "title": result.title,
        "url": result.url,
        "snippet": result.snippet,
        "score": result.score,
        "source": {"type": result.source_type, "path": result.path, "store": result.store},
        "highlights": [result.snippet] if include_highlights and "<mark>" in result.snippet else [],
    }


def search_response(response: SearchResponse, mode: str, include_highlights: bool) -> dict[str, Any]:
    return {
        "data": [search_result(r, include_highlights) for r in response.results],
        "meta": {
            "total": response.total,
            "limit": response.limit,
            "offset": response.offset,
            "took": response.latency.total,
            "mode": mode,
        },
        "latency": {
            "embedding": response.latency.embedding,
            "retrieval": response.latency.retrieval,
            "fusion": response.latency.fusion,
            "total": response.latency.total,
        },
        "requestId": response.request_id,
    }


def content_item(item: DocumentContent) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "path": item.path,
        "sourceType": item.source_type,
        "url": item.url,
        "content": item.content,
        "metadata": item.metadata,
        "updatedAt": iso(item.updated_at),
    }


def similar_item(item: SimilarDocument) -> dict[str, Any]:
    return {
        "id": item.document_id,
        "documentId": item.document_id,
        "title": item.title,
        "path": item.path,
        "url": item.url,
        "sourceType": item.source_type,
        "score": item.score,
    }


job = job_payload
job_detail = job_detail_payload


def workspace(item: Workspace) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "slug": item.slug,
        "isDefault": item.is_default,
        "createdAt": iso(item.created_at),
    }


def store(view: StoreView) -> dict[str, Any]:
    s = view.store
    return {
        "id": s.id,
        "name": s.name,
        "embeddingModel": s.embedding_model,
        "embeddingDim": s.embedding_dim,
        "chunkMaxTokens": s.chunk_max_tokens,
        "chunkOverlap": s.chunk_overlap,
        "documentCount": view.documents,
        "chunkCount": view.chunks,
        "createdAt": iso(s.created_at),
    }


def source(item: ConnectedSource) -> dict[str, Any]:
    return {
        "id": item.id,
        "type": item.source_type,
        "name": item.display_name,
        "isActive": item.is_active,
        "configStatus": item.config_status,
        "documentCount": item.document_count,
        "lastSyncedAt": iso(item.last_synced_at),
        "createdAt": iso(item.created_at),
        "configMessage": item.config_message,
        "lastCommit": (item.source_metadata or {}).get("lastCommit"),
        "externalKey": item.external_key,
    }


api_key = key_payload


def created_key(created: CreatedKey) -> dict[str, Any]:
    return {**api_key(created.key), "key": created.secret}
