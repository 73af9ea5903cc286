"""The asynchronous client, ``AsyncLightfast`` (one ``httpx.AsyncClient``): the same surface as
``Lightfast``, every method a coroutine (``jobs.iter`` an async iterator). Its methods are made from the
descriptions in ``_calls.py``, like those of ``Lightfast``; only sending, sleeping, paging and waiting are
written here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
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
    async_method,
    connection_error,
)
from lightfast.sdk._events import Event
from lightfast.sdk.models import Job, JobDetail, JobPage

R = TypeVar("R")

__all__ = ["AsyncJobs", "AsyncLightfast", "AsyncSources"]


class AsyncLightfast(ClientCore):
    """An asynchronous client of the Lightfast HTTP API v1 (the same surface as ``Lightfast``).

    ::

        async with AsyncLightfast("lf_key") as lf:
            for hit in (await lf.search("rotate keys", limit=5)).data:
                print(hit.score, hit.title, hit.url)
            job = await lf.sources.sync("src_123", full=True)
            done = await lf.jobs.wait(job.id, timeout=600)

    Failed requests are retried up to ``max_retries`` times on 429 (after its Retry-After), 5xx and
    connection failures, with exponential backoff and jitter; other 4xx raise at once. ``sleep`` replaces
    ``asyncio.sleep`` (for tests), ``transport`` or ``http_client`` replace the HTTP layer (an
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
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        super().__init__(api_key, base_url, timeout, max_retries, default_headers)
        if http_client is not None and transport is not None:
            raise ValueError("pass http_client or transport, not both")
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(transport=transport)
        self._sleep: Callable[[float], Awaitable[object]] = sleep if sleep is not None else asyncio.sleep
        self.jobs = AsyncJobs(self)
        self.sources = AsyncSources(self)

    async def close(self) -> None:
        """Close the connection pool (unless the ``http_client`` was passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _request(self, call: _calls.Call[Any, R]) -> R:
        request = self._build(self._http, call)
        attempt = 0
        while True:
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                delay = self._retry_delay(attempt, exc)
            else:
                if response.is_success:
                    return self._parse(call, response)
                delay = self._retry_delay(attempt, response)
                await response.aclose()
            await self._sleep(delay)
            attempt += 1

    search = async_method(_calls.search)
    contents = async_method(_calls.contents)
    find_similar = async_method(_calls.find_similar)
    related = async_method(_calls.related)
    switch_embedding = async_method(_store_calls.switch_embedding)
    find_documents = async_method(_calls.find_documents)
    children = async_method(_calls.document_children)
    statistics = async_method(_calls.workspace_statistics)
    timeseries = async_method(_calls.workspace_timeseries)
    health = async_method(_calls.workspace_health)
    activity = async_method(_calls.list_activity)
    notification_targets = async_method(_calls.list_notification_targets)
    create_notification_target = async_method(_calls.create_notification_target)
    delete_notification_target = async_method(_calls.delete_notification_target)

    def events(self, *, timeout: int = 300, last_event_id: str | None = None) -> AsyncIterator[Event]:
        """The workspace's live events (``GET /v1/events``) for ``timeout`` seconds: job progress and
        state changes, new activities. Pass the last event's ``id`` as ``last_event_id`` to resume::

            async for event in client.events(timeout=60):
                if event.type == "job": print(event.data["status"], event.data["progress"])
        """
        request = _events.build_request(
            self._http, self.base_url, dict(self._headers), timeout, last_event_id
        )

        async def stream() -> AsyncIterator[Event]:
            try:
                response = await self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                raise connection_error(exc) from exc
            try:
                if not response.is_success:
                    await response.aread()
                    raise api_error(response)
                decoder = _events.EventDecoder()
                async for line in response.aiter_lines():
                    if (event := decoder.feed(line)) is not None:
                        yield event
            finally:
                await response.aclose()

        return stream()


class _AsyncNamespace:
    def __init__(self, client: AsyncLightfast) -> None:
        self._client = client

    async def _request(self, call: _calls.Call[Any, R]) -> R:
        return await self._client._request(call)


class AsyncJobs(_AsyncNamespace):
    """``client.jobs``: ingestion jobs."""

    list = async_method(_calls.list_jobs)
    recent = async_method(_calls.recent_jobs)
    get = async_method(_calls.get_job)
    statistics = async_method(_calls.job_statistics)
    percentiles = async_method(_calls.job_percentiles)
    cancel = async_method(_calls.cancel_job)
    retry = async_method(_calls.retry_job)

    def iter(
        self, *, status: str | None = None, source: str | None = None, page_size: int = 50
    ) -> AsyncIterator[Job]:
        """Every matching job, newest first, fetching pages as needed (follows ``nextCursor``)::

        async for job in client.jobs.iter(status="failed"): ...
        """
        pages = _calls.JobPages(status, source, page_size)  # checks the arguments now, not on next()

        async def jobs() -> AsyncIterator[Job]:
            call: _calls.Call[JobPage, JobPage] | None = pages.first
            while call is not None:
                page = await self._request(call)
                for job in page.items:
                    yield job
                call = pages.after(page)

        return jobs()

    async def wait(
        self,
        id: str,
        *,
        timeout: float | None = 300.0,
        poll: float = 1.0,
        on_update: Callable[[JobDetail], object] | None = None,
    ) -> JobDetail:
        """Poll a job every ``poll`` seconds until it finishes and return its final state (whatever the
        outcome: check ``status``). Raises ``JobWaitTimeoutError`` after ``timeout`` seconds (``None``:
        wait forever). ``on_update`` is called (not awaited) with every state seen."""
        clock = WaitClock(timeout, poll)
        while True:
            job = await self.get(id)
            if on_update is not None:
                on_update(job)
            if job.is_terminal:
                return job
            await self._client._sleep(clock.next_delay(job))


class AsyncSources(_AsyncNamespace):
    """``client.sources``: connected sources."""

    list = async_method(_calls.list_sources)
    sync = async_method(_calls.sync_source)
    detect_config = async_method(_calls.detect_config)
    remove = async_method(_calls.remove_source)
    connect_github = async_method(_calls.connect_github)
    connect_git = async_method(_calls.connect_git)
    connect_local = async_method(_calls.connect_local)
    connect_vendor = async_method(_source_calls.connect_vendor)
