"""Zendesk's REST APIs (Support and Help Center) over httpx.

* Auth: an API token as HTTP Basic ``{email}/token:{token}`` when the connection names the agent's
  email, else the token as an OAuth bearer token.
* Pagination: the incremental ticket export (``/api/v2/incremental/tickets/cursor.json``:
  ``start_time`` then ``cursor``, answering ``after_cursor`` and ``end_of_stream``); cursor pagination
  elsewhere (``page[size]``, ``page[after]``; ``meta.has_more``, ``meta.after_cursor``). The client
  follows cursors, never ``links.next`` URLs: an answer does not get to send the token to another host.
* Rate limits: 429 with ``Retry-After`` (seconds) is waited out, bounded; a success whose
  ``X-Rate-Limit-Remaining`` / ``ratelimit-remaining`` says 0 pauses until ``ratelimit-reset``.
  5xx and network errors are retried with exponential backoff; everything else is an UpstreamError
  naming the status, never the token.
* Every answer is validated before use (JSON object, lists of objects with integer ids)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from lightfast.errors import UpstreamError
from lightfast.sources.zendesk.webhooks import as_id

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
PAGE_SIZE = 100  # Zendesk's largest cursor page
MAX_PAGE_ITEMS = 1000  # the incremental export's pages; anything larger is not Zendesk
REMAINING_HEADERS = ("x-rate-limit-remaining", "ratelimit-remaining")


def authorization(token: str, email: str | None) -> str:
    if email:
        pair = f"{email}/token:{token}".encode()
        return "Basic " + base64.b64encode(pair).decode()
    return f"Bearer {token}"


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds ``Retry-After`` (or ``ratelimit-reset``) asks for; None when it says nothing usable."""
    for name in ("retry-after", "ratelimit-reset"):
        value = (headers.get(name) or "").strip()
        if value.isdigit():
            return float(value)
    return None


def remaining(headers: httpx.Headers) -> int | None:
    for name in REMAINING_HEADERS:
        value = (headers.get(name) or "").strip()
        if value.isdigit():
            return int(value)
    return None


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    cursor: str | None  # where the next page starts
    has_more: bool


class ZendeskClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        email: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 5,
        max_wait: float = 900.0,
        page_size: int = PAGE_SIZE,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout,
            headers={"Authorization": authorization(token, email), "Accept": "application/json"},
            follow_redirects=False,
        )
        self.sleep, self.max_retries, self.max_wait, self.page_size = sleep, max_retries, max_wait, page_size
        self.requests = 0

    def __repr__(self) -> str:  # the token stays out of every repr and log line
        return f"ZendeskClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The JSON object at ``path``; None for a 404 (deleted upstream). UpstreamError otherwise."""
        for attempt in range(self.max_retries + 1):
            self.requests += 1
            try:
                answer = self._http.get(self.base_url + path, params=params)
            except httpx.HTTPError as exc:
                if attempt == self.max_retries:
                    raise UpstreamError(f"Zendesk could not be reached: {type(exc).__name__}") from exc
                self.sleep(min(2.0**attempt, self.max_wait))
                continue
            if answer.status_code == 429:
                wait = retry_after(answer.headers)
                wait = 2.0**attempt if wait is None else wait
                if attempt == self.max_retries or wait > self.max_wait:
                    raise UpstreamError("Zendesk's rate limit is exhausted; try again later", status=429)
                self.sleep(wait)
                continue
            if answer.status_code >= 500:
                if attempt == self.max_retries:
                    raise UpstreamError(f"Zendesk answered {answer.status_code}", status=answer.status_code)
                self.sleep(min(2.0**attempt, self.max_wait))
                continue
            if answer.status_code == 404:
                return None
            if answer.status_code >= 400:
                raise UpstreamError(
                    f"Zendesk refused {path.split('?')[0][:100]} (HTTP {answer.status_code})",
                    status=answer.status_code,
                )
            if remaining(answer.headers) == 0:
                self.sleep(min(retry_after(answer.headers) or 1.0, self.max_wait))
            try:
                body = answer.json()
            except ValueError as exc:
                raise UpstreamError("Zendesk's answer is not JSON") from exc
            if not isinstance(body, dict):
                raise UpstreamError("Zendesk's answer is not a JSON object")
            return body
        raise UpstreamError("Zendesk could not be reached")  # pragma: no cover - the loop returns or raises

    # -- listings ------------------------------------------------------------------------------------

    def ticket_export_page(self, cursor: str | None, start_time: int = 0) -> Page:
        """One page of the incremental ticket export (every ticket, deleted ones with status deleted)."""
        params: dict[str, Any] = {"cursor": cursor} if cursor else {"start_time": start_time}
        body = self._require(self.get("/api/v2/incremental/tickets/cursor.json", params), "the export")
        tickets = _records(body.get("tickets"), "tickets")
        after = body.get("after_cursor")
        after = after if isinstance(after, str) and 0 < len(after) <= 2048 else None
        end = body.get("end_of_stream") is True or after is None
        return Page(tickets, after, not end)

    def _cursor_page(self, path: str, key: str, after: str | None) -> Page:
        params: dict[str, Any] = {"page[size]": self.page_size}
        if after:
            params["page[after]"] = after
        body = self.get(path, params)
        if body is None:  # a help center that is not turned on lists nothing
            return Page([], None, False)
        items = _records(body.get(key), key)
        meta = body.get("meta")
        meta = meta if isinstance(meta, dict) else {}
        cursor = meta.get("after_cursor")
        cursor = cursor if isinstance(cursor, str) and 0 < len(cursor) <= 2048 else None
        return Page(items, cursor, meta.get("has_more") is True and cursor is not None)

    def pages(self, path: str, key: str, after: str | None = None) -> Iterator[Page]:
        while True:
            page = self._cursor_page(path, key, after)
            yield page
            if not page.has_more:
                return
            after = page.cursor

    def comments(
        self, ticket_id: int, limit: int = 5000, *, newest: bool = False
    ) -> list[dict[str, Any]] | None:
        """A ticket's comments, oldest first (Zendesk caps a ticket at 5000); with ``newest``, only the
        newest ``limit`` (read newest first, returned oldest first). None when the ticket is gone."""
        found: list[dict[str, Any]] = []
        path = f"/api/v2/tickets/{ticket_id}/comments.json"
        after: str | None = None
        while len(found) < limit:
            params: dict[str, Any] = {"page[size]": min(self.page_size, limit - len(found))}
            if newest:
                params["sort_order"] = "desc"
            if after:
                params["page[after]"] = after
            body = self.get(path, params)
            if body is None:
                return None
            found += _records(body.get("comments"), "comments")
            given = body.get("meta")
            meta: dict[str, Any] = given if isinstance(given, dict) else {}
            cursor = meta.get("after_cursor")
            if meta.get("has_more") is not True or not isinstance(cursor, str):
                break
            after = cursor
        found = found[:limit]
        return found[::-1] if newest else found

    def ticket(self, ticket_id: int) -> dict[str, Any] | None:
        body = self.get(f"/api/v2/tickets/{ticket_id}.json")
        return _record(body.get("ticket")) if body is not None else None

    def article(self, article_id: int) -> dict[str, Any] | None:
        body = self.get(f"/api/v2/help_center/articles/{article_id}.json")
        return _record(body.get("article")) if body is not None else None

    def names(self, path: str, key: str) -> dict[int, dict[str, Any]]:
        """Every section or category (id -> record), to name an article's place."""
        found: dict[int, dict[str, Any]] = {}
        for page in self.pages(path, key):
            for item in page.items:
                found[int(item["id"])] = item
        return found

    def _require(self, body: dict[str, Any] | None, what: str) -> dict[str, Any]:
        if body is None:
            raise UpstreamError(f"Zendesk has no {what} here (HTTP 404): check the subdomain")
        return body


def _record(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict) and as_id(value.get("id")) is not None:
        return {**value, "id": as_id(value["id"])}
    return None


def _records(value: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise UpstreamError(f"Zendesk's answer has no {key} list")
    if len(value) > MAX_PAGE_ITEMS:
        raise UpstreamError(f"Zendesk's answer lists more {key} than a page holds")
    return [r for r in (_record(v) for v in value) if r is not None]
