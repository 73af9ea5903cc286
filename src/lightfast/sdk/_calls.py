"""What each SDK method sends: argument validation and request building, shared by the sync and async
clients so both send exactly the same requests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from lightfast.sdk.models import (
    ConnectedSource,
    ContentsResponse,
    DetectConfigResult,
    Job,
    JobDetail,
    JobList,
    JobPage,
    JobStatistics,
    LightfastModel,
    SearchResponse,
    SimilarResponse,
    SourceList,
)

M = TypeVar("M", bound=LightfastModel)

MAX_SEARCH_LIMIT = 100
MAX_CONTENT_IDS = 50
MAX_SIMILAR_LIMIT = 50
MAX_JOBS_LIMIT = 100


@dataclass(frozen=True)
class Call(Generic[M]):
    """One API request and the model its answer parses into."""

    method: str
    path: str
    model: type[M]
    json: dict[str, Any] | None = None
    params: dict[str, str | int] = field(default_factory=dict)
    mutating: bool = False  # gets an Idempotency-Key (the caller's or a generated one)
    idempotency_key: str | None = None


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


# -- search, contents, similar ---------------------------------------------------------------------


def search(
    query: str,
    *,
    limit: int,
    offset: int,
    mode: str,
    stores: str | Sequence[str] | None,
    source_types: str | Sequence[str] | None,
    path_prefix: str | None,
    date_from: datetime | date | str | None,
    date_to: datetime | date | str | None,
    include_highlights: bool,
) -> Call[SearchResponse]:
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
    return Call("POST", "/v1/search", SearchResponse, json=body)


def contents(ids: Sequence[str]) -> Call[ContentsResponse]:
    if isinstance(ids, str):
        raise ValueError("ids must be a list of document ids, not a single string")
    id_list = list(ids)
    if not 1 <= len(id_list) <= MAX_CONTENT_IDS:
        raise ValueError(f"ids must hold between 1 and {MAX_CONTENT_IDS} document ids, got {len(id_list)}")
    for item in id_list:
        _text("every id", item)
    return Call("POST", "/v1/contents", ContentsResponse, json={"ids": id_list})


def find_similar(id: str, *, limit: int, threshold: float) -> Call[SimilarResponse]:
    _text("id", id)
    _int_in("limit", limit, 1, MAX_SIMILAR_LIMIT)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a number between 0 and 1, got {threshold!r}")
    body = {"id": id, "limit": limit, "threshold": float(threshold)}
    return Call("POST", "/v1/findsimilar", SimilarResponse, json=body)


# -- jobs ------------------------------------------------------------------------------------------


def list_jobs(*, status: str | None, source: str | None, limit: int, cursor: str | None) -> Call[JobPage]:
    params: dict[str, str | int] = {"limit": _int_in("limit", limit, 1, MAX_JOBS_LIMIT)}
    if status is not None:
        params["status"] = _text("status", status)
    if source is not None:
        params["source"] = _text("source", source)
    if cursor is not None:
        params["cursor"] = _text("cursor", cursor)
    return Call("GET", "/v1/jobs", JobPage, params=params)


def recent_jobs(limit: int) -> Call[JobList]:
    params: dict[str, str | int] = {"limit": _int_in("limit", limit, 1, MAX_JOBS_LIMIT)}
    return Call("GET", "/v1/jobs/recent", JobList, params=params)


def get_job(id: str) -> Call[JobDetail]:
    return Call("GET", f"/v1/jobs/{_segment('id', id)}", JobDetail)


def job_statistics(hours: int) -> Call[JobStatistics]:
    params: dict[str, str | int] = {"hours": _int_in("hours", hours, 1)}
    return Call("GET", "/v1/jobs/statistics", JobStatistics, params=params)


def cancel_job(id: str, idempotency_key: str | None) -> Call[Job]:
    path = f"/v1/jobs/{_segment('id', id)}/cancel"
    return Call("POST", path, Job, mutating=True, idempotency_key=_key(idempotency_key))


def retry_job(id: str, idempotency_key: str | None) -> Call[Job]:
    path = f"/v1/jobs/{_segment('id', id)}/retry"
    return Call("POST", path, Job, mutating=True, idempotency_key=_key(idempotency_key))


def check_wait(timeout: float | None, poll: float) -> None:
    if timeout is not None and (not isinstance(timeout, int | float) or timeout < 0):
        raise ValueError(f"timeout must be a number of seconds >= 0 or None, got {timeout!r}")
    if not isinstance(poll, int | float) or poll <= 0:
        raise ValueError(f"poll must be a number of seconds > 0, got {poll!r}")


# -- sources ---------------------------------------------------------------------------------------


def list_sources() -> Call[SourceList]:
    return Call("GET", "/v1/sources", SourceList)


def sync_source(id: str, full: bool, idempotency_key: str | None) -> Call[Job]:
    path = f"/v1/sources/{_segment('id', id)}/sync"
    body = {"full": bool(full)}
    return Call("POST", path, Job, json=body, mutating=True, idempotency_key=_key(idempotency_key))


def detect_config(id: str, idempotency_key: str | None) -> Call[DetectConfigResult]:
    path = f"/v1/sources/{_segment('id', id)}/detect-config"
    return Call("POST", path, DetectConfigResult, mutating=True, idempotency_key=_key(idempotency_key))


def remove_source(id: str, idempotency_key: str | None) -> Call[Job]:
    path = f"/v1/sources/{_segment('id', id)}"
    return Call("DELETE", path, Job, mutating=True, idempotency_key=_key(idempotency_key))


def connect_github(
    repository: str, installation_id: int, idempotency_key: str | None
) -> Call[ConnectedSource]:
    owner, _, name = _text("repository", repository).partition("/")
    if not owner or not name or "/" in name:
        raise ValueError(f"repository must be OWNER/REPO, got {repository!r}")
    body = {
        "type": "github",
        "repository": repository,
        "installationId": _int_in("installation_id", installation_id, 1),
    }
    return Call(
        "POST",
        "/v1/sources",
        ConnectedSource,
        json=body,
        mutating=True,
        idempotency_key=_key(idempotency_key),
    )


def connect_path(
    kind: str, path: str, branch: str | None, idempotency_key: str | None
) -> Call[ConnectedSource]:
    body: dict[str, Any] = {"type": kind, "path": _text("path", path)}
    if branch is not None:
        body["branch"] = _text("branch", branch)
    return Call(
        "POST",
        "/v1/sources",
        ConnectedSource,
        json=body,
        mutating=True,
        idempotency_key=_key(idempotency_key),
    )
