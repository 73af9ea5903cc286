"""The synchronous client, ``Lightfast`` (one ``httpx.Client``). Its methods are made from the
descriptions in ``_calls.py``, like those of ``AsyncLightfast``; only sending, sleeping, paging and waiting
are written here."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from lightfast.sdk import _calls, _events, _source_calls, _store_calls
from lightfast.sdk._base import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientCore,
    TimeoutTypes,
    WaitClock,
    api_error,
    connection_error,
    sync_method,
)
from lightfast.sdk._events import Event
from lightfast.sdk.models import Job, JobDetail, JobPage

R = TypeVar("R")

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

    def _request(self, call: _calls.Call[Any, R]) -> R:
        request = self._build(self._http, call)
        attempt = 0
        while True:
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                delay = self._retry_delay(attempt, exc)
            else:
                if response.is_success:
                    return self._parse(call, response)
                delay = self._retry_delay(attempt, response)
                response.close()
            self._sleep(delay)
            attempt += 1

    search = sync_method(_calls.search)
    contents = sync_method(_calls.contents)
    find_similar = sync_method(_calls.find_similar)
    related = sync_method(_calls.related)
    switch_embedding = sync_method(_store_calls.switch_embedding)
    find_documents = sync_method(_calls.find_documents)
    children = sync_method(_calls.document_children)
    statistics = sync_method(_calls.workspace_statistics)
    timeseries = sync_method(_calls.workspace_timeseries)
    health = sync_method(_calls.workspace_health)
    activity = sync_method(_calls.list_activity)
    notification_targets = sync_method(_calls.list_notification_targets)
    create_notification_target = sync_method(_calls.create_notification_target)
    delete_notification_target = sync_method(_calls.delete_notification_target)

    def events(self, *, timeout: int = 300, last_event_id: str | None = None) -> Iterator[Event]:
        """The workspace's live events (``GET /v1/events``) for ``timeout`` seconds: job progress and
        state changes, new activities. Pass the last event's ``id`` as ``last_event_id`` to resume::

            for event in client.events(timeout=60):
                if event.type == "job": print(event.data["status"], event.data["progress"])
        """
        request = _events.build_request(
            self._http, self.base_url, dict(self._headers), timeout, last_event_id
        )

        def stream() -> Iterator[Event]:
            try:
                response = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                raise connection_error(exc) from exc
            try:
                if not response.is_success:
                    response.read()
                    raise api_error(response)
                decoder = _events.EventDecoder()
                for line in response.iter_lines():
                    if (event := decoder.feed(line)) is not None:
                        yield event
            finally:
                response.close()

        return stream()


class _Namespace:
    def __init__(self, client: Lightfast) -> None:
        self._client = client

    def _request(self, call: _calls.Call[Any, R]) -> R:
        return self._client._request(call)


class Jobs(_Namespace):
    """``client.jobs``: ingestion jobs."""

    list = sync_method(_calls.list_jobs)
    recent = sync_method(_calls.recent_jobs)
    get = sync_method(_calls.get_job)
    statistics = sync_method(_calls.job_statistics)
    percentiles = sync_method(_calls.job_percentiles)
    cancel = sync_method(_calls.cancel_job)
    retry = sync_method(_calls.retry_job)

    def iter(
        self, *, status: str | None = None, source: str | None = None, page_size: int = 50
    ) -> Iterator[Job]:
        """Every matching job, newest first, fetching pages as needed (follows ``nextCursor``)."""
        pages = _calls.JobPages(status, source, page_size)  # checks the arguments now, not on next()

        def jobs() -> Iterator[Job]:
            call: _calls.Call[JobPage, JobPage] | None = pages.first
            while call is not None:
                page = self._request(call)
                yield from page.items
                call = pages.after(page)

        return jobs()

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
        clock = WaitClock(timeout, poll)
        while True:
            job = self.get(id)
            if on_update is not None:
                on_update(job)
            if job.is_terminal:
                return job
            self._client._sleep(clock.next_delay(job))


class Sources(_Namespace):
    """``client.sources``: connected sources."""

    list = sync_method(_calls.list_sources)
    sync = sync_method(_calls.sync_source)
    detect_config = sync_method(_calls.detect_config)
    remove = sync_method(_calls.remove_source)
    connect_github = sync_method(_calls.connect_github)
    connect_git = sync_method(_calls.connect_git)
    connect_local = sync_method(_calls.connect_local)
    connect_vendor = sync_method(_source_calls.connect_vendor)
