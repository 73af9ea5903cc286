"""Typed answers of the Lightfast HTTP API v1.

The wire format is camelCase JSON; every model exposes snake_case attributes (``document_id`` for
``documentId``). Models are frozen and lenient: fields the SDK does not know yet are kept (in
``model_extra``) instead of failing, a missing optional field gets its default, and ``null`` in a list
field reads as an empty list, so an older SDK keeps working against a newer server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = [
    "ConnectedSource",
    "ContentsResponse",
    "DetectConfigResult",
    "Document",
    "Job",
    "JobDetail",
    "JobFailure",
    "JobPage",
    "JobPercentiles",
    "JobProgress",
    "JobStatistics",
    "JobStep",
    "LightfastModel",
    "SearchLatency",
    "SearchMeta",
    "SearchMode",
    "SearchRerank",
    "SearchResponse",
    "SearchResult",
    "SearchSource",
    "SimilarDocument",
    "SimilarResponse",
    "Source",
    "TimeSeries",
    "WorkspaceHealth",
    "WorkspaceStatistics",
]

T = TypeVar("T")

SearchMode = Literal["fast", "balanced", "dense", "rerank"]

#: Job statuses after which a job never changes again.
TERMINAL_STATUSES = frozenset({"completed", "completed_with_errors", "failed", "cancelled"})


def _empty_if_none(value: Any) -> Any:
    return [] if value is None else value


def _empty_dict_if_none(value: Any) -> Any:
    return {} if value is None else value


#: A list field that also accepts ``null`` (read as ``[]``).
Items = Annotated[list[T], BeforeValidator(_empty_if_none)]
#: A mapping field that also accepts ``null`` (read as ``{}``).
Mapping = Annotated[dict[str, T], BeforeValidator(_empty_dict_if_none)]


class LightfastModel(BaseModel):
    """Base of every SDK model: camelCase on the wire, snake_case in Python, frozen, lenient."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        frozen=True,
        coerce_numbers_to_str=True,
    )


# -- search ----------------------------------------------------------------------------------------


class SearchSource(LightfastModel):
    type: str | None = None
    path: str | None = None
    store: str | None = None


class SearchResult(LightfastModel):
    id: str
    document_id: str | None = None
    title: str | None = None
    url: str | None = None
    snippet: str = ""
    score: float = 0.0
    source: SearchSource = SearchSource()
    highlights: Items[str] = []
    related: Items[RelatedDocument] = []  # with search(related=True): a few related documents


class SearchMeta(LightfastModel):
    total: int = 0
    limit: int = 0
    offset: int = 0
    took: float | None = None
    mode: str | None = None


class SearchLatency(LightfastModel):
    """Milliseconds spent in each stage."""

    embedding: float | None = None
    retrieval: float | None = None
    fusion: float | None = None
    total: float | None = None


class SearchRerank(LightfastModel):
    """What the server's rerank stage did; ``applied`` false (``reason`` budget or error) means the
    results are in the fused order."""

    applied: bool = False
    reason: str | None = None
    provider: str | None = None
    model: str | None = None
    candidates: int = 0
    took: float | None = None
    detail: str | None = None


class SearchResponse(LightfastModel):
    data: Items[SearchResult] = []
    meta: SearchMeta = SearchMeta()
    latency: SearchLatency = SearchLatency()
    request_id: str | None = None
    rerank: SearchRerank | None = None  # present when the search asked for rerank


# -- contents and similar documents ----------------------------------------------------------------


class Document(LightfastModel):
    id: str
    title: str | None = None
    path: str | None = None
    source_type: str | None = None
    content: str = ""
    metadata: Mapping[Any] = {}
    updated_at: datetime | None = None


class ContentsResponse(LightfastModel):
    items: Items[Document] = []
    missing: Items[str] = []
    request_id: str | None = None


class SimilarDocument(LightfastModel):
    id: str
    document_id: str | None = None
    title: str | None = None
    path: str | None = None
    url: str | None = None
    source_type: str | None = None
    score: float = 0.0


class SimilarResponse(LightfastModel):
    data: Items[SimilarDocument] = []
    request_id: str | None = None


# -- jobs ------------------------------------------------------------------------------------------


class JobProgress(LightfastModel):
    processed: int = 0
    total: int | None = None


class Job(LightfastModel):
    id: str
    name: str | None = None
    status: str
    trigger: str | None = None
    source_id: str | None = None
    store_id: str | None = None
    retry_of: str | None = None
    progress: JobProgress = JobProgress()
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: float | None = None
    eta_seconds: float | None = None  # a running job's estimate of the time it still needs
    worker_id: str | None = None
    error: str | None = None
    output: Any = None

    @property
    def is_terminal(self) -> bool:
        """True once the job has finished (completed, completed with errors, failed or cancelled)."""
        return self.status in TERMINAL_STATUSES


class JobStep(LightfastModel):
    id: int | str
    name: str | None = None
    status: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: float | None = None
    error: str | None = None


class JobFailure(LightfastModel):
    path: str | None = None
    reason: str | None = None
    message: str | None = None


class JobDetail(Job):
    """A job with its step trace and per-document failures (``GET /v1/jobs/{id}``)."""

    steps: Items[JobStep] = []
    failures: Items[JobFailure] = []


class JobPage(LightfastModel):
    items: Items[Job] = []
    next_cursor: str | None = None
    has_more: bool = False


class JobList(LightfastModel):
    items: Items[Job] = []


class Activity(LightfastModel):
    """Something that happened in the workspace: who (``actor_type``, ``actor_id``) did ``action`` to
    which entity, how it ended (``status``), in one line (``summary``), with what it changed in
    ``details``."""

    id: str
    timestamp: datetime
    category: str
    action: str
    actor_type: str
    actor_id: str | None = None
    entity_type: str
    entity_id: str | None = None
    status: str = "ok"
    summary: str = ""
    source_id: str | None = None
    details: dict[str, Any] = {}


class ActivityPage(LightfastModel):
    items: Items[Activity] = []
    next_cursor: str | None = None


class JobStatistics(LightfastModel):
    hours: int | None = None
    total: int = 0
    by_status: Mapping[int] = {}
    average_duration_ms: float | None = None
    success_rate: float | None = None


# -- sources ---------------------------------------------------------------------------------------


class Source(LightfastModel):
    id: str
    type: str | None = None
    name: str | None = None
    is_active: bool = True
    config_status: str | None = None
    document_count: int = 0
    last_synced_at: datetime | None = None
    created_at: datetime | None = None
    config_message: str | None = None
    last_commit: str | None = None
    external_key: str | None = None
    last_error: str | None = None


class SourceList(LightfastModel):
    items: Items[Source] = []


class DetectConfigResult(LightfastModel):
    source_id: str | None = None
    status: str | None = None
    path: str | None = None
    config: Any = None
    problems: Items[str] = []


class ConnectedSource(Source):
    """A source just connected, with its first sync's job id (None for a vendor connection without an
    API token: it indexes what its webhooks deliver). Vendor connections also say where their webhook
    goes, the signing secret Lightfast generated (shown once), and the credentials' previews."""

    job_id: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    credentials: dict[str, str] | None = None
    mode: str | None = None  # webhook-only | api
    notice: str | None = None


# -- the dashboard's figures (/v1/workspace/...) -----------------------------------------------------


class Comparison(LightfastModel):
    """A figure now and in the previous period; ``change_percent`` is None when it has no finite value."""

    current: float | None = None
    previous: float | None = None
    change_percent: float | None = None


class TimeWindow(LightfastModel):
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


class StoreFigures(LightfastModel):
    id: str
    name: str | None = None
    documents: int = 0
    chunks: int = 0


class WorkspaceStatistics(LightfastModel):
    period: str | None = None
    current: TimeWindow | None = None
    previous: TimeWindow | None = None
    sources: Comparison = Comparison()
    sources_by_type: Mapping[int] = {}
    stores: Items[StoreFigures] = []
    documents: Comparison = Comparison()
    chunks: Comparison = Comparison()
    jobs: Comparison = Comparison()
    jobs_by_status: Mapping[int] = {}
    success_rate: Comparison = Comparison()
    average_duration_ms: Comparison = Comparison()


class JobPercentiles(LightfastModel):
    range: str | None = None
    count: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None


class HourPoint(LightfastModel):
    hour: datetime
    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    average_duration_ms: float | None = None
    success_rate: float | None = None
    query_count: int = 0
    query_latency_avg_ms: float | None = None
    query_latency_max_ms: float | None = None


class TimeSeries(LightfastModel):
    range: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    points: Items[HourPoint] = []


class WorkspaceHealth(LightfastModel):
    """A node of the health tree (the workspace at the root, then stores, then sources)."""

    kind: str | None = None
    id: str
    name: str | None = None
    status: str | None = None  # healthy | unknown | degraded | down
    reason: str | None = None
    success_rate: float | None = None
    succeeded: int = 0
    failed: int = 0
    children: Items[WorkspaceHealth] = []


class NotificationTarget(LightfastModel):
    """An outgoing webhook of the workspace: job failures and health changes are sent there."""

    id: str
    kind: str | None = None  # generic | slack
    name: str | None = None
    url: str | None = None  # a Slack webhook URL is shown redacted
    events: Items[str] = []
    has_secret: bool = False
    created_at: datetime | None = None
    created_by: str | None = None
    secret: str | None = None  # a generic target's signing secret, only in the answer that created it


class NotificationTargetList(LightfastModel):
    items: Items[NotificationTarget] = []


# -- relationships (issue 14) ----------------------------------------------------------------------


class DocumentRef(LightfastModel):
    id: str
    title: str = ""
    source_type: str = ""
    source_id: str = ""
    url: str | None = None
    parent_doc_id: str | None = None
    source_metadata: dict[str, Any] = {}
    updated_at: datetime | None = None


class DocumentList(LightfastModel):
    items: Items[DocumentRef] = []


class EdgeTarget(LightfastModel):
    type: str
    key: str


class RelatedDocument(LightfastModel):
    document: DocumentRef
    direction: str  # "out": the document points at it; "in": it points at the document
    kind: str
    target: EdgeTarget
    evidence: str = ""


class UnresolvedEdge(LightfastModel):
    kind: str
    target: EdgeTarget
    evidence: str = ""


class RelatedResponse(LightfastModel):
    document: DocumentRef
    items: Items[RelatedDocument] = []
    unresolved: Items[UnresolvedEdge] = []


class EmbeddingModel(LightfastModel):
    provider: str
    model: str
    dimensions: int


class EmbeddingEstimate(LightfastModel):
    """What switching a store's embedding model embeds and costs (issue 15)."""

    store: str
    current: EmbeddingModel
    target: EmbeddingModel
    chunks: int
    texts: int
    tokens: int
    requests: int
    cost_usd: float | None = None


class EmbeddingSwitch(LightfastModel):
    """The estimate, and the switch job unless it was a dry run (``job_id`` None then)."""

    estimate: EmbeddingEstimate
    job_id: str | None = None
