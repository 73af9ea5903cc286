"""The synchronous client, ``Lightfast`` (one ``httpx.Client``)."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Self, TypeVar

import httpx

from lightfast.sdk import _calls
from lightfast.sdk._base import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientCore,
    TimeoutTypes,
    api_error,
    connection_error,
    retry_delay,
    retryable_status,
)
from lightfast.sdk.errors import JobWaitTimeoutError
from lightfast.sdk.models import (
    ConnectedSource,
    ContentsResponse,
    DetectConfigResult,
    Job,
    JobDetail,
    JobPage,
    JobStatistics,
    LightfastModel,
    SearchMode,
    SearchResponse,
    SimilarResponse,
    Source,
)

M = TypeVar("M", bound=LightfastModel)

__all__ = ["Jobs", "Lightfast", "Sources"]


class Lightfast(ClientCore):
    """A client of the Lightfast HTTP API v1.

    ::

        with Lightfast("lf_key") as lf:
            for hit in lf.search("rotate keys", limit=5).data:
                print(hit.score, hit.title, hit.url)
            job = lf.sources.sync("src_123", full=True)
            done = lf.jobs.wait(job.id, timeout=600)

    Failed requests are retried up to ``max_retries`` times on 429 (after its Retry-After), 5xx and
    connection failures, with exponential backoff and jitter; other 4xx raise at once. ``sleep`` replaces
    ``time.sleep`` (for tests), ``transport`` or ``http_client`` replace the HTTP layer (an
    ``http_client`` passed in is not closed by ``close()``).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        *,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        super().__init__(api_key, base_url, timeout, max_retries, default_headers)
        if http_client is not None and transport is not None:
            raise ValueError("pass http_client or transport, not both")
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(transport=transport)
        self._sleep: Callable[[float], object] = sleep if sleep is not None else time.sleep
        self.jobs = Jobs(self)
        self.sources = Sources(self)

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool (unless the ``http_client`` was passed in)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- sending ---------------------------------------------------------------------------------

    def _request(self, call: _calls.Call[M]) -> M:
        request = self._build(self._http, call)
        attempt = 0
        while True:
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                if isinstance(exc, httpx.UnsupportedProtocol) or not self._can_retry(attempt):
                    raise connection_error(exc) from exc
                self._sleep(retry_delay(attempt, None))
                attempt += 1
                continue
            if response.is_success:
                return self._parse(call, response)
            if retryable_status(response.status_code) and self._can_retry(attempt):
                delay = retry_delay(attempt, response)
                response.close()
                self._sleep(delay)
                attempt += 1
                continue
            raise api_error(response)

    # -- search ----------------------------------------------------------------------------------

    def search(
        self,
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
    ) -> SearchResponse:
        """Search the indexed documents (``POST /v1/search``)."""
        return self._request(
            _calls.search(
                query,
                limit=limit,
                offset=offset,
                mode=mode,
                stores=stores,
                source_types=source_types,
                path_prefix=path_prefix,
                date_from=date_from,
                date_to=date_to,
                include_highlights=include_highlights,
            )
        )

    def contents(self, ids: Sequence[str]) -> ContentsResponse:
        """The full content of 1-50 documents (``POST /v1/contents``); unknown ids are in ``missing``."""
        return self._request(_calls.contents(ids))

    def find_similar(self, id: str, *, limit: int = 10, threshold: float = 0.0) -> SimilarResponse:
        """Documents similar to a document (``POST /v1/findsimilar``)."""
        return self._request(_calls.find_similar(id, limit=limit, threshold=threshold))


class Jobs:
    """``client.jobs``: ingestion jobs."""

    def __init__(self, client: Lightfast) -> None:
        self._client = client

    def list(
        self,
        *,
        status: str | None = None,
        source: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> JobPage:
        """One page of jobs, newest first; pass ``page.next_cursor`` as ``cursor`` for the next."""
        call = _calls.list_jobs(status=status, source=source, limit=limit, cursor=cursor)
        return self._client._request(call)

    def iter(
        self, *, status: str | None = None, source: str | None = None, page_size: int = 50
    ) -> Iterator[Job]:
        """Every matching job, newest first, fetching pages as needed (follows ``nextCursor``)."""
        first = _calls.list_jobs(status=status, source=source, limit=page_size, cursor=None)  # validates

        def pages() -> Iterator[Job]:
            page = self._client._request(first)
            seen: set[str] = set()
            while True:
                yield from page.items
                cursor = page.next_cursor
                if not page.has_more or not cursor or cursor in seen:
                    return
                seen.add(cursor)
                page = self.list(status=status, source=source, limit=page_size, cursor=cursor)

        return pages()

    def recent(self, limit: int = 10) -> builtins.list[Job]:
        """The most recent jobs (``GET /v1/jobs/recent``)."""
        return self._client._request(_calls.recent_jobs(limit)).items

    def get(self, id: str) -> JobDetail:
        """A job with its step trace and per-document failures."""
        return self._client._request(_calls.get_job(id))

    def statistics(self, hours: int = 24) -> JobStatistics:
        """Counts by status, average duration and success rate over the last ``hours``."""
        return self._client._request(_calls.job_statistics(hours))

    def cancel(self, id: str, *, idempotency_key: str | None = None) -> Job:
        """Cancel a queued or running job (it stops at the next step boundary)."""
        return self._client._request(_calls.cancel_job(id, idempotency_key))

    def retry(self, id: str, *, idempotency_key: str | None = None) -> Job:
        """A new job for a failed or cancelled one, resuming after its last finished step."""
        return self._client._request(_calls.retry_job(id, idempotency_key))

    def wait(
        self,
        id: str,
        *,
        timeout: float | None = 300.0,
        poll: float = 1.0,
        on_update: Callable[[JobDetail], object] | None = None,
    ) -> JobDetail:
        """Poll a job every ``poll`` seconds until it finishes and return its final state (whatever the
        outcome: check ``status``). Raises ``JobWaitTimeoutError`` after ``timeout`` seconds (``None``:
        wait forever)."""
        _calls.check_wait(timeout, poll)
        started, slept = time.monotonic(), 0.0
        while True:
            job = self.get(id)
            if on_update is not None:
                on_update(job)
            if job.is_terminal:
                return job
            delay = poll
            if timeout is not None:
                remaining = timeout - max(time.monotonic() - started, slept)
                if remaining <= 0:
                    raise JobWaitTimeoutError(job, timeout)
                delay = min(poll, remaining)
            self._client._sleep(delay)
            slept += delay


class Sources:
    """``client.sources``: connected sources."""

    def __init__(self, client: Lightfast) -> None:
        self._client = client

    def list(self) -> builtins.list[Source]:
        """Every connected source."""
        return self._client._request(_calls.list_sources()).items

    def sync(self, id: str, full: bool = False, *, idempotency_key: str | None = None) -> Job:
        """Queue a sync of a source (incremental unless ``full``); returns the job."""
        return self._client._request(_calls.sync_source(id, full, idempotency_key))

    def detect_config(self, id: str, *, idempotency_key: str | None = None) -> DetectConfigResult:
        """Look for the source's lightfast.yml again and report what was found and its problems."""
        return self._client._request(_calls.detect_config(id, idempotency_key))

    def remove(self, id: str, *, idempotency_key: str | None = None) -> Job:
        """Disconnect a source: it stops syncing at once; the returned job removes its documents."""
        return self._client._request(_calls.remove_source(id, idempotency_key))

    def connect_github(
        self, repository: str, installation_id: int, *, idempotency_key: str | None = None
    ) -> ConnectedSource:
        """Connect OWNER/REPO through the server's GitHub App installation; its full sync is queued."""
        return self._client._request(_calls.connect_github(repository, installation_id, idempotency_key))

    def connect_git(
        self, path: str, branch: str | None = None, *, idempotency_key: str | None = None
    ) -> ConnectedSource:
        """Connect a git repository on the server (under LIGHTFAST_LOCAL_SOURCE_ROOTS)."""
        return self._client._request(_calls.connect_path("git", path, branch, idempotency_key))

    def connect_local(self, path: str, *, idempotency_key: str | None = None) -> ConnectedSource:
        """Connect a directory on the server (under LIGHTFAST_LOCAL_SOURCE_ROOTS)."""
        return self._client._request(_calls.connect_path("local", path, None, idempotency_key))
