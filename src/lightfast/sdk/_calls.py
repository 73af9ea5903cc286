"""Every SDK method that is one request, described once: its signature, defaults and docstring, the
argument checks, the request it sends and what it returns from the answer. ``Lightfast`` and
``AsyncLightfast`` turn each description into a method in one line (``sync_method`` / ``async_method`` in
``_base.py``), so both clients send the same requests and expose the same signatures."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from lightfast.sdk.models import (
    ActivityPage,
    ConnectedSource,
    ContentsResponse,
    DetectConfigResult,
    DocumentList,
    DocumentRef,
    Job,
    JobDetail,
    JobList,
    JobPage,
    JobPercentiles,
    JobStatistics,
    LightfastModel,
    NotificationTarget,
    NotificationTargetList,
    RelatedResponse,
    SearchMode,
    SearchResponse,
    SimilarResponse,
    Source,
    SourceList,
    TimeSeries,
    WorkspaceHealth,
    WorkspaceStatistics,
)

M = TypeVar("M", bound=LightfastModel)
R = TypeVar("R")
MetadataScalar = str | int | float | bool
MetadataValue = MetadataScalar | Sequence[MetadataScalar]

MAX_SEARCH_LIMIT = 100
MAX_CONTENT_IDS = 50
MAX_SIMILAR_LIMIT = 50
MAX_JOBS_LIMIT = 100
MAX_RELATED_LIMIT = 100
RELATED_DIRECTIONS = ("out", "in", "both")


@dataclass(frozen=True)
class Call(Generic[M, R]):
    """One API request, the model its answer parses into, and what the method returns from that model.
    (Annotations of the describing functions are read at run time to build the methods' signatures, so
    every name they use is imported at run time.)"""

    method: str
    path: str
    model: type[M]
    result: Callable[[M], R]
    json: dict[str, Any] | None = None
    params: dict[str, str | int] = field(default_factory=dict)
    mutating: bool = False  # gets an Idempotency-Key (the caller's or a generated one)
    idempotency_key: str | None = None


def _whole(answer: M) -> M:
    return answer


def _document_items(answer: DocumentList) -> list[DocumentRef]:
    return list(answer.items)


def _job_items(answer: JobList) -> list[Job]:
    return answer.items


def _source_items(answer: SourceList) -> list[Source]:
    return answer.items


def _target_items(answer: NotificationTargetList) -> list[NotificationTarget]:
    return answer.items


# -- validation helpers ----------------------------------------------------------------------------


def _int_in(name: str, value: int, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def _text(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _strings(name: str, values: str | Sequence[str] | None) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    items = list(values)
    for item in items:
        _text(f"every item of {name}", item)
    return items


def _segment(name: str, value: str) -> str:
    """An id as one URL path segment (quoted, so an id can never reach another route)."""
    return quote(_text(name, value), safe="")


def _iso(name: str, value: datetime | date | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return _text(name, value)


def _key(idempotency_key: str | None) -> str | None:
    return None if idempotency_key is None else _text("idempotency_key", idempotency_key)


def _mutation(
    method: str, path: str, model: type[M], idempotency_key: str | None, json: dict[str, Any] | None = None
) -> Call[M, M]:
    return Call(method, path, model, _whole, json=json, mutating=True, idempotency_key=_key(idempotency_key))


# -- search, contents, similar (the client itself) -------------------------------------------------


def search(
    query: str,
    *,
    limit: int = 10,
    offset: int = 0,
    mode: SearchMode = "balanced",
    stores: str | Sequence[str] | None = None,
    source_types: str | Sequence[str] | None = None,
    path_prefix: str | None = None,
    date_from: datetime | date | str | None = None,
    date_to: datetime | date | str | None = None,
    include_highlights: bool = False,
    rerank: bool = False,
    related: bool = False,
    metadata: Mapping[str, MetadataValue] | None = None,
) -> Call[SearchResponse, SearchResponse]:
    """Search the indexed documents (``POST /v1/search``). ``rerank``: reorder the top candidates with
    the server's reranker (the answer's ``rerank`` says whether it did, within the server's budget).
    ``related``: each result with a few of its related documents (``result.related``). ``metadata``:
    only documents whose source metadata has these values (``{"state": "In Progress", "teamKey":
    ["ENG", "OPS"]}``: a list takes any of its values)."""
    _text("query", query)
    _int_in("limit", limit, 1, MAX_SEARCH_LIMIT)
    _int_in("offset", offset, 0)
    _text("mode", mode)
    filters: dict[str, Any] = {}
    if (store_list := _strings("stores", stores)) is not None:
        filters["stores"] = store_list
    if (type_list := _strings("source_types", source_types)) is not None:
        filters["sourceTypes"] = type_list
    if path_prefix is not None:
        filters["pathPrefix"] = _text("path_prefix", path_prefix)
    if metadata is not None:
        filters["metadata"] = _metadata(metadata)
    start, end = _iso("date_from", date_from), _iso("date_to", date_to)
    if start is not None or end is not None:
        if isinstance(date_from, datetime | date) and isinstance(date_to, datetime | date):
            try:
                if date_from > date_to:
                    raise ValueError("date_from must not be after date_to")
            except TypeError:  # naive vs aware, or date vs datetime: leave it to the server
                pass
        filters["dateRange"] = {key: value for key, value in (("from", start), ("to", end)) if value}
    body: dict[str, Any] = {"query": query, "limit": limit, "offset": offset, "mode": mode}
    if filters:
        body["filters"] = filters
    body["includeHighlights"] = bool(include_highlights)
    if rerank:
        body["rerank"] = True
    if related:
        body["related"] = True
    return Call("POST", "/v1/search", SearchResponse, _whole, json=body)


def _metadata(metadata: Mapping[str, MetadataValue]) -> dict[str, Any]:
    """The filter as JSON; the server checks its bounds (and names the field it refuses)."""
    if not isinstance(metadata, Mapping):
        raise ValueError("metadata must be a mapping of key to value (or list of values)")
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        _text("every metadata key", key)
        out[key] = list(value) if isinstance(value, list | tuple) else value
    return out


def contents(ids: Sequence[str]) -> Call[ContentsResponse, ContentsResponse]:
    """The full content of 1-50 documents (``POST /v1/contents``); unknown ids are in ``missing``."""
    if isinstance(ids, str):
        raise ValueError("ids must be a list of document ids, not a single string")
    id_list = list(ids)
    if not 1 <= len(id_list) <= MAX_CONTENT_IDS:
        raise ValueError(f"ids must hold between 1 and {MAX_CONTENT_IDS} document ids, got {len(id_list)}")
    for item in id_list:
        _text("every id", item)
    return Call("POST", "/v1/contents", ContentsResponse, _whole, json={"ids": id_list})


def find_similar(
    id: str, *, limit: int = 10, threshold: float = 0.0
) -> Call[SimilarResponse, SimilarResponse]:
    """Documents similar to a document (``POST /v1/findsimilar``)."""
    _text("id", id)
    _int_in("limit", limit, 1, MAX_SIMILAR_LIMIT)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a number between 0 and 1, got {threshold!r}")
    body = {"id": id, "limit": limit, "threshold": float(threshold)}
    return Call("POST", "/v1/findsimilar", SimilarResponse, _whole, json=body)


def related(
    id: str,
    *,
    direction: str = "both",
    kind: str | None = None,
    source_type: str | None = None,
    limit: int = 25,
) -> Call[RelatedResponse, RelatedResponse]:
    """A document's related documents (``GET /v1/documents/{id}/related``): what it points at
    (``direction="out"``), what points at it (``"in"``) or both, with each edge's kind and evidence."""
    if direction not in RELATED_DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(RELATED_DIRECTIONS)}, got {direction!r}")
    params: dict[str, str | int] = {
        "direction": direction,
        "limit": _int_in("limit", limit, 1, MAX_RELATED_LIMIT),
    }
    if kind is not None:
        params["kind"] = _text("kind", kind)
    if source_type is not None:
        params["sourceType"] = _text("source_type", source_type)
    return Call("GET", f"/v1/documents/{_segment('id', id)}/related", RelatedResponse, _whole, params=params)


def find_documents(source_type: str, source_id: str) -> Call[DocumentList, list[DocumentRef]]:
    """Documents by their source's own id (``GET /v1/documents?sourceType=&sourceId=``): a Linear issue
    by its identifier (``ENG-7``) or id, a Notion page by its id; empty when none is indexed."""
    params: dict[str, str | int] = {
        "sourceType": _text("source_type", source_type),
        "sourceId": _text("source_id", source_id),
    }
    return Call("GET", "/v1/documents", DocumentList, _document_items, params=params)


def document_children(id: str) -> Call[DocumentList, list[DocumentRef]]:
    """A document's children, oldest first (``GET /v1/documents/{id}/children``): an issue's comments."""
    return Call("GET", f"/v1/documents/{_segment('id', id)}/children", DocumentList, _document_items)


# -- client.jobs -----------------------------------------------------------------------------------


def list_jobs(
    *, status: str | None = None, source: str | None = None, limit: int = 20, cursor: str | None = None
) -> Call[JobPage, JobPage]:
    """One page of jobs, newest first; pass ``page.next_cursor`` as ``cursor`` for the next."""
    params: dict[str, str | int] = {"limit": _int_in("limit", limit, 1, MAX_JOBS_LIMIT)}
    if status is not None:
        params["status"] = _text("status", status)
    if source is not None:
        params["source"] = _text("source", source)
    if cursor is not None:
        params["cursor"] = _text("cursor", cursor)
    return Call("GET", "/v1/jobs", JobPage, _whole, params=params)


class JobPages:
    """The requests of ``jobs.iter``: the first page, then the next one after each page, until the last
    page (or a cursor seen before: a server that loops does not make the iteration endless)."""

    def __init__(self, status: str | None, source: str | None, page_size: int) -> None:
        self._status, self._source, self._page_size = status, source, page_size
        self.first = list_jobs(status=status, source=source, limit=page_size)  # checks the arguments now
        self._seen: set[str] = set()

    def after(self, page: JobPage) -> Call[JobPage, JobPage] | None:
        cursor = page.next_cursor
        if not page.has_more or not cursor or cursor in self._seen:
            return None
        self._seen.add(cursor)
        return list_jobs(status=self._status, source=self._source, limit=self._page_size, cursor=cursor)


def recent_jobs(limit: int = 10) -> Call[JobList, list[Job]]:
    """The most recent jobs (``GET /v1/jobs/recent``)."""
    params: dict[str, str | int] = {"limit": _int_in("limit", limit, 1, MAX_JOBS_LIMIT)}
    return Call("GET", "/v1/jobs/recent", JobList, _job_items, params=params)


def get_job(id: str) -> Call[JobDetail, JobDetail]:
    """A job with its step trace and per-document failures."""
    return Call("GET", f"/v1/jobs/{_segment('id', id)}", JobDetail, _whole)


def job_statistics(hours: int = 24) -> Call[JobStatistics, JobStatistics]:
    """Counts by status, average duration and success rate over the last ``hours``."""
    params: dict[str, str | int] = {"hours": _int_in("hours", hours, 1)}
    return Call("GET", "/v1/jobs/statistics", JobStatistics, _whole, params=params)


#: The periods the dashboard's figures cover (``period`` and ``range`` of /v1/workspace/...).
PERIODS = ("24h", "7d", "30d")


def _period(name: str, value: str) -> str:
    if value not in PERIODS:
        raise ValueError(f"{name} must be one of {', '.join(PERIODS)}, got {value!r}")
    return value


def job_percentiles(range: str = "24h") -> Call[JobPercentiles, JobPercentiles]:
    """Nearest-rank p50, p95, p99 and maximum duration of the completed jobs of the ``range`` (24h, 7d,
    30d) (``GET /v1/workspace/jobs/percentiles``)."""
    params: dict[str, str | int] = {"range": _period("range", range)}
    return Call("GET", "/v1/workspace/jobs/percentiles", JobPercentiles, _whole, params=params)


def workspace_statistics(period: str = "24h") -> Call[WorkspaceStatistics, WorkspaceStatistics]:
    """Sources, stores, documents, chunks, jobs, success rate and average duration of the ``period``
    (24h, 7d, 30d), each against the period before (``GET /v1/workspace/statistics``)."""
    params: dict[str, str | int] = {"period": _period("period", period)}
    return Call("GET", "/v1/workspace/statistics", WorkspaceStatistics, _whole, params=params)


def workspace_timeseries(range: str = "24h") -> Call[TimeSeries, TimeSeries]:
    """Hourly points of the ``range`` (24h, 7d, 30d), empty hours included: jobs, average duration,
    success rate, query count and latency (``GET /v1/workspace/timeseries``)."""
    params: dict[str, str | int] = {"range": _period("range", range)}
    return Call("GET", "/v1/workspace/timeseries", TimeSeries, _whole, params=params)


def list_activity(
    *,
    category: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Call[ActivityPage, ActivityPage]:
    """One page of the workspace's activity log, newest first (``GET /v1/activity``); pass
    ``page.next_cursor`` as ``cursor`` for the next. ``since`` is inclusive, ``until`` exclusive."""
    params: dict[str, str | int] = {"limit": _int_in("limit", limit, 1, 200)}
    for name, value in (("category", category), ("source", source), ("actor", actor), ("q", q)):
        if value is not None:
            params[name] = _text(name, value)
    for name, moment in (("from", since), ("to", until)):
        if moment is not None:
            params[name] = moment.isoformat()
    if cursor is not None:
        params["cursor"] = _text("cursor", cursor)
    return Call("GET", "/v1/activity", ActivityPage, _whole, params=params)


def workspace_health() -> Call[WorkspaceHealth, WorkspaceHealth]:
    """The health tree workspace -> stores -> sources with the reason of each node that is not healthy
    (``GET /v1/workspace/health``)."""
    return Call("GET", "/v1/workspace/health", WorkspaceHealth, _whole)


def list_notification_targets() -> Call[NotificationTargetList, list[NotificationTarget]]:
    """The workspace's notification targets (``GET /v1/notifications/targets``); never their secrets."""
    return Call("GET", "/v1/notifications/targets", NotificationTargetList, _target_items)


def create_notification_target(
    kind: str,
    url: str,
    *,
    events: Sequence[str] | None = None,
    name: str | None = None,
    secret: str | None = None,
    idempotency_key: str | None = None,
) -> Call[NotificationTarget, NotificationTarget]:
    """Send job failures and health changes to ``url``: ``kind`` "generic" (a signed JSON POST; the
    answer's ``secret`` is its signing secret, shown this once) or "slack" (an incoming webhook)."""
    if kind not in ("generic", "slack"):
        raise ValueError(f"kind must be 'generic' or 'slack', got {kind!r}")
    body: dict[str, Any] = {"kind": kind, "url": _text("url", url)}
    if events is not None:
        body["events"] = [_text("events", e) for e in events]
    if name is not None:
        body["name"] = _text("name", name)
    if secret is not None:
        body["secret"] = _text("secret", secret)
    return _mutation("POST", "/v1/notifications/targets", NotificationTarget, idempotency_key, json=body)


def delete_notification_target(
    id: str, *, idempotency_key: str | None = None
) -> Call[NotificationTarget, NotificationTarget]:
    """Stop sending to a target; returns it as it was."""
    path = f"/v1/notifications/targets/{_segment('id', id)}"
    return _mutation("DELETE", path, NotificationTarget, idempotency_key)


def cancel_job(id: str, *, idempotency_key: str | None = None) -> Call[Job, Job]:
    """Cancel a queued or running job (it stops at the next step boundary)."""
    return _mutation("POST", f"/v1/jobs/{_segment('id', id)}/cancel", Job, idempotency_key)


def retry_job(id: str, *, idempotency_key: str | None = None) -> Call[Job, Job]:
    """A new job for a failed or cancelled one, resuming after its last finished step."""
    return _mutation("POST", f"/v1/jobs/{_segment('id', id)}/retry", Job, idempotency_key)


# -- client.sources --------------------------------------------------------------------------------


def list_sources() -> Call[SourceList, list[Source]]:
    """Every connected source."""
    return Call("GET", "/v1/sources", SourceList, _source_items)


def sync_source(id: str, full: bool = False, *, idempotency_key: str | None = None) -> Call[Job, Job]:
    """Queue a sync of a source (incremental unless ``full``); returns the job."""
    path = f"/v1/sources/{_segment('id', id)}/sync"
    return _mutation("POST", path, Job, idempotency_key, json={"full": bool(full)})


def detect_config(
    id: str, *, idempotency_key: str | None = None
) -> Call[DetectConfigResult, DetectConfigResult]:
    """Look for the source's lightfast.yml again and report what was found and its problems."""
    path = f"/v1/sources/{_segment('id', id)}/detect-config"
    return _mutation("POST", path, DetectConfigResult, idempotency_key)


def remove_source(id: str, *, idempotency_key: str | None = None) -> Call[Job, Job]:
    """Disconnect a source: it stops syncing at once; the returned job removes its documents."""
    return _mutation("DELETE", f"/v1/sources/{_segment('id', id)}", Job, idempotency_key)


def connect_github(
    repository: str, installation_id: int, *, idempotency_key: str | None = None
) -> Call[ConnectedSource, ConnectedSource]:
    """Connect OWNER/REPO through the server's GitHub App installation; its full sync is queued."""
    owner, _, name = _text("repository", repository).partition("/")
    if not owner or not name or "/" in name:
        raise ValueError(f"repository must be OWNER/REPO, got {repository!r}")
    body = {
        "type": "github",
        "repository": repository,
        "installationId": _int_in("installation_id", installation_id, 1),
    }
    return _mutation("POST", "/v1/sources", ConnectedSource, idempotency_key, json=body)


def connect_git(
    path: str, branch: str | None = None, *, idempotency_key: str | None = None
) -> Call[ConnectedSource, ConnectedSource]:
    """Connect a git repository on the server (under LIGHTFAST_LOCAL_SOURCE_ROOTS)."""
    body: dict[str, Any] = {"type": "git", "path": _text("path", path)}
    if branch is not None:
        body["branch"] = _text("branch", branch)
    return _mutation("POST", "/v1/sources", ConnectedSource, idempotency_key, json=body)


def connect_local(path: str, *, idempotency_key: str | None = None) -> Call[ConnectedSource, ConnectedSource]:
    """Connect a directory on the server (under LIGHTFAST_LOCAL_SOURCE_ROOTS)."""
    body = {"type": "local", "path": _text("path", path)}
    return _mutation("POST", "/v1/sources", ConnectedSource, idempotency_key, json=body)
