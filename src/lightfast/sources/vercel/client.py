"""Vercel's REST API (``https://api.vercel.com``) over httpx.

* Auth: ``Authorization: Bearer <token>`` (an access token of the account or team; ``teamId`` is added
  to every request for a team's projects).
* Deployments: ``GET /v6/deployments?projectId=&limit=&until=`` answers ``{deployments, pagination:
  {count, next, prev}}``, newest first; ``next`` (a time in ms) is the ``until`` of the next page, null
  at the end. ``GET /v13/deployments/{id}`` one deployment (its error message), ``GET
  /v3/deployments/{id}/events`` its build log (``direction=backward`` and a ``limit``: the end of the
  log, where a failure is said).
* Rate limits: ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset`` (Unix seconds) on every answer: a
  success with nothing remaining pauses until the reset; a 429 is waited out the same way (bounded).
  5xx and network errors are retried with exponential backoff; anything else is an UpstreamError naming
  the status, never the token.
* Every answer is validated before use (a hostile or broken upstream cannot make us index garbage)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from lightfast.errors import UpstreamError
from lightfast.sources.vercel.webhooks import DEPLOYMENT_ID, MAX_MS

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
PAGE_SIZE = 100  # Vercel's largest page of deployments
MAX_PAGE_ITEMS = 1000
MAX_EVENTS = 2000  # of a build log, read backwards from its end
MAX_ANSWER_BYTES = 8 * 1024 * 1024


def reset_wait(headers: httpx.Headers, now: float) -> float | None:
    """Seconds until ``X-RateLimit-Reset`` (Unix seconds) or that ``Retry-After`` asks; None when the
    headers say nothing usable."""
    reset = (headers.get("x-ratelimit-reset") or "").strip()
    if reset.isascii() and reset.isdigit() and len(reset) <= 12:
        return max(float(reset) - now, 0.0)
    value = (headers.get("retry-after") or "").strip()
    if value.isascii() and value.isdigit() and len(value) <= 6:
        return float(value)
    return None


def next_until(pagination: Any) -> int | None:
    """The ``until`` of the next page from a listing's ``pagination``; None at the end (or when it says
    nothing usable)."""
    if not isinstance(pagination, dict):
        return None
    found = pagination.get("next")
    if isinstance(found, bool) or not isinstance(found, int) or not 0 < found < MAX_MS:
        return None
    return found


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    until: int | None  # where the next page starts; None at the end


class VercelClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        team_id: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_retries: int = 5,
        max_wait: float = 900.0,
        page_size: int = PAGE_SIZE,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.team_id = team_id
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
        return f"VercelClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any | None:
        """The JSON at ``path``; None for a 404 (gone upstream)."""
        query = {**(params or {}), **({"teamId": self.team_id} if self.team_id else {})}
        for attempt in range(self.max_retries + 1):
            self.requests += 1
            try:
                status, headers, body = self._fetch(path, query)
            except httpx.HTTPError as exc:
                if attempt == self.max_retries:
                    raise UpstreamError(f"Vercel could not be reached: {type(exc).__name__}") from exc
                self.sleep(min(2.0**attempt, self.max_wait))
                continue
            if status == 429:
                wait = reset_wait(headers, self.clock())
                wait = 2.0**attempt if wait is None else wait
                if attempt == self.max_retries or wait > self.max_wait:
                    raise UpstreamError("Vercel's rate limit is exhausted; try again later", status=429)
                self.sleep(wait)
                continue
            if status >= 500:
                if attempt == self.max_retries:
                    raise UpstreamError(f"Vercel answered {status}", status=status)
                self.sleep(min(2.0**attempt, self.max_wait))
                continue
            if status == 404:
                return None
            if status >= 400:
                raise UpstreamError(f"Vercel refused {path[:100]} (HTTP {status})", status=status)
            if (headers.get("x-ratelimit-remaining") or "").strip() == "0":
                self.sleep(min(reset_wait(headers, self.clock()) or 1.0, self.max_wait))
            try:
                return json.loads(body)
            except (ValueError, RecursionError) as exc:
                raise UpstreamError("Vercel's answer is not JSON") from exc
        raise UpstreamError("Vercel could not be reached")  # pragma: no cover - the loop returns or raises

    def _fetch(self, path: str, query: dict[str, Any]) -> tuple[int, httpx.Headers, bytes]:
        """One request, its body read up to MAX_ANSWER_BYTES: a build log's events can be large, and an
        answer is not allowed to fill the memory."""
        with self._http.stream("GET", self.base_url + path, params=query) as answer:
            body = bytearray()
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise UpstreamError(
                        f"Vercel's answer to {path[:100]} is larger than {MAX_ANSWER_BYTES} bytes"
                    )
            return answer.status_code, answer.headers, bytes(body)

    def deployments_page(self, project: str, until: int | None, limit: int | None = None) -> Page:
        """One page of a project's deployments, newest first."""
        params: dict[str, Any] = {"projectId": project, "limit": min(limit or self.page_size, self.page_size)}
        if until is not None:
            params["until"] = until
        found = self.get("/v6/deployments", params)
        if found is None:
            raise UpstreamError(f"Vercel has no project {project[:100]!r} here (HTTP 404)", status=404)
        if not isinstance(found, dict) or not isinstance(found.get("deployments"), list):
            raise UpstreamError("Vercel's answer to /v6/deployments has no deployments list")
        items = found["deployments"]
        if len(items) > MAX_PAGE_ITEMS:
            raise UpstreamError("Vercel's answer to /v6/deployments lists more than a page holds")
        records = [d for d in items if isinstance(d, dict) and DEPLOYMENT_ID.fullmatch(str(d.get("uid", "")))]
        return Page(records, next_until(found.get("pagination")) if records else None)

    def deployment(self, deployment_id: str) -> dict[str, Any] | None:
        found = self.get(f"/v13/deployments/{quote(deployment_id)}")
        if not isinstance(found, dict) or not DEPLOYMENT_ID.fullmatch(str(found.get("id", ""))):
            return None
        return found

    def events(self, deployment_id: str, limit: int = MAX_EVENTS) -> list[Any]:
        """The end of a deployment's build log (oldest first), at most ``limit`` events."""
        found = self.get(
            f"/v3/deployments/{quote(deployment_id)}/events",
            {"direction": "backward", "limit": limit, "follow": 0, "builds": 1},
        )
        if not isinstance(found, list):
            return []
        events = found[:limit]
        created = [e.get("created") for e in events if isinstance(e, dict)]
        times = [float(c) for c in created if isinstance(c, int | float)]
        if len(times) == len(events) and times != sorted(times):
            events = list(reversed(events))  # backward: newest first, and a log reads oldest first
        return events
