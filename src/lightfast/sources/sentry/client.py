"""Sentry's REST API (``/api/0/``) over httpx.

* Auth: ``Authorization: Bearer <token>`` (an internal integration's token or a user auth token with
  ``org:read``, ``project:read`` and ``event:read``).
* Pagination: the ``Link`` header, one entry per direction, ``<url>; rel="next"; results="true";
  cursor="0:100:0"``. ``results="false"`` ends the listing. The client sends the cursor back as a
  parameter of its own request and never follows the header's URL: an answer does not get to send the
  token to another host.
* Rate limits: 429 with ``Retry-After`` (seconds) is waited out, bounded; a success whose
  ``X-Sentry-Rate-Limit-Remaining`` is 0 pauses until ``X-Sentry-Rate-Limit-Reset`` (Unix seconds).
  5xx and network errors are retried with exponential backoff; everything else is an UpstreamError
  naming the status, never the token.
* Every answer is validated before use (a JSON list of objects with ids, or an object)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from lightfast.errors import UpstreamError
from lightfast.sources.sentry.webhooks import as_id

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
PAGE_SIZE = 100  # Sentry's largest page
MAX_PAGE_ITEMS = 1000
MAX_CURSOR = 200
_LINK = re.compile(r"<[^>]*>\s*((?:;\s*[a-zA-Z]+=\"[^\"]*\"\s*)+)")
_PARAM = re.compile(r"([a-zA-Z]+)=\"([^\"]*)\"")
_CURSOR = re.compile(r"[0-9A-Za-z:._-]{1,200}")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


def next_cursor(link: str | None) -> str | None:
    """The cursor of the ``rel="next"`` entry of a ``Link`` header when it says ``results="true"``;
    None when the listing ends (or the header says nothing usable)."""
    if not link or len(link) > 4096:
        return None
    for match in _LINK.finditer(link):
        params = dict(_PARAM.findall(match.group(1)))
        if params.get("rel") == "next":
            cursor = str(params.get("cursor", ""))
            if params.get("results") == "true" and _CURSOR.fullmatch(cursor):
                return cursor
            return None
    return None


def retry_after(headers: httpx.Headers, now: float) -> float | None:
    """Seconds to wait that ``Retry-After`` (seconds) or ``X-Sentry-Rate-Limit-Reset`` (a Unix time)
    ask for; None when they say nothing usable."""
    value = (headers.get("retry-after") or "").strip()
    if value.isascii() and value.isdigit():
        return float(value)
    reset = (headers.get("x-sentry-rate-limit-reset") or "").strip()
    if reset.isascii() and reset.isdigit() and len(reset) <= 12:
        return max(float(reset) - now, 0.0)
    return None


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    cursor: str | None  # where the next page starts; None at the end


class SentryClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_retries: int = 5,
        max_wait: float = 900.0,
        page_size: int = PAGE_SIZE,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            follow_redirects=False,
        )
        self.sleep, self.clock = sleep, clock
        self.max_retries, self.max_wait, self.page_size = max_retries, max_wait, page_size
        self.requests = 0

    def __repr__(self) -> str:  # the token stays out of every repr and log line
        return f"SentryClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> tuple[Any, httpx.Headers] | None:
        """The JSON at ``path`` with the answer's headers; None for a 404 (gone upstream)."""
        for attempt in range(self.max_retries + 1):
            self.requests += 1
            try:
                answer = self._http.get(self.base_url + path, params=params)
            except httpx.HTTPError as exc:
                if attempt == self.max_retries:
                    raise UpstreamError(f"Sentry could not be reached: {type(exc).__name__}") from exc
                self.sleep(min(2.0**attempt, self.max_wait))
                continue
            status = answer.status_code
            if status == 429:
                wait = retry_after(answer.headers, self.clock())
                wait = 2.0**attempt if wait is None else wait
                if attempt == self.max_retries or wait > self.max_wait:
                    raise UpstreamError("Sentry's rate limit is exhausted; try again later", status=429)
                self.sleep(wait)
                continue
            if status >= 500:
                if attempt == self.max_retries:
                    raise UpstreamError(f"Sentry answered {status}", status=status)
                self.sleep(min(2.0**attempt, self.max_wait))
                continue
            if status == 404:
                return None
            if status >= 400:
                raise UpstreamError(f"Sentry refused {path[:100]} (HTTP {status})", status=status)
            remaining = (answer.headers.get("x-sentry-rate-limit-remaining") or "").strip()
            if remaining == "0":
                self.sleep(min(retry_after(answer.headers, self.clock()) or 1.0, self.max_wait))
            try:
                return answer.json(), answer.headers
            except ValueError as exc:
                raise UpstreamError("Sentry's answer is not JSON") from exc
        raise UpstreamError("Sentry could not be reached")  # pragma: no cover - the loop returns or raises

    def page(self, path: str, cursor: str | None, params: dict[str, Any] | None = None) -> Page | None:
        """One page of a listing; None when the listing itself is gone (404)."""
        query = {**(params or {}), "per_page": self.page_size}
        if cursor:
            query["cursor"] = cursor
        found = self.get(path, query)
        if found is None:
            return None
        body, headers = found
        return Page(_records(body, path), next_cursor(headers.get("link")))

    def pages(
        self, path: str, cursor: str | None = None, params: dict[str, Any] | None = None
    ) -> Iterator[Page]:
        while True:
            page = self.page(path, cursor, params)
            if page is None:
                return
            yield page
            if page.cursor is None:
                return
            cursor = page.cursor

    # -- the resources the backfill reads ------------------------------------------------------------

    def projects(self, organization: str) -> list[str]:
        """The slugs of every project of the organization."""
        found: list[str] = []
        for page in self.pages(f"/api/0/organizations/{quote(organization)}/projects/"):
            found += [
                p["slug"] for p in page.items if isinstance(p.get("slug"), str) and SLUG.fullmatch(p["slug"])
            ]
        if not found and self.get(f"/api/0/organizations/{quote(organization)}/") is None:
            raise UpstreamError(f"Sentry has no organization {organization!r} here (HTTP 404)", status=404)
        return sorted(set(found))

    def issues_page(self, organization: str, project: str, cursor: str | None) -> Page:
        """One page of a project's issues, every status (the API lists unresolved ones by default)."""
        path = f"/api/0/projects/{quote(organization)}/{quote(project)}/issues/"
        page = self.page(path, cursor, {"query": "", "statsPeriod": ""})
        if page is None:
            raise UpstreamError(f"Sentry has no project {organization}/{project} (HTTP 404)", status=404)
        return page

    def latest_event(self, organization: str, issue_id: str) -> dict[str, Any] | None:
        found = self.get(f"/api/0/organizations/{quote(organization)}/issues/{issue_id}/events/latest/")
        if found is None or not isinstance(found[0], dict):
            return None
        return found[0]

    def comments(self, issue_id: str, limit: int = 500) -> list[dict[str, Any]]:
        """An issue's comments (Sentry's notes), at most ``limit``."""
        found: list[dict[str, Any]] = []
        for page in self.pages(f"/api/0/issues/{issue_id}/comments/"):
            found += page.items
            if len(found) >= limit:
                break
        return found[:limit]

    def issue(self, organization: str, issue_id: str) -> dict[str, Any] | None:
        found = self.get(f"/api/0/organizations/{quote(organization)}/issues/{issue_id}/")
        if found is None or not isinstance(found[0], dict) or as_id(found[0].get("id")) is None:
            return None
        return found[0]


def _records(value: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise UpstreamError(f"Sentry's answer to {path[:100]} is not a list")
    if len(value) > MAX_PAGE_ITEMS:
        raise UpstreamError(f"Sentry's answer to {path[:100]} lists more than a page holds")
    return [r for r in value if isinstance(r, dict) and (as_id(r.get("id")) is not None or "slug" in r)]
