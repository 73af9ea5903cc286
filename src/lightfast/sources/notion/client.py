"""Notion's REST API (https://developers.notion.com/reference): ``Authorization: Bearer <token>`` and a
``Notion-Version``; lists paginated with ``start_cursor`` / ``page_size`` answered by ``has_more`` and
``next_cursor``; errors ``{"object": "error", "status", "code", "message"}``; 429 ``rate_limited`` with
``Retry-After`` (seconds), waited out (bounded) and retried."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from lightfast.errors import UpstreamError

NOTION_VERSION = "2022-06-28"
PAGE_SIZE = 100  # Notion's largest page
MAX_BLOCK_DEPTH = 12
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True)
class ListPage:
    results: list[dict[str, Any]]
    next_cursor: str | None
    has_more: bool


class NotionClient:
    def __init__(
        self,
        token: str,
        base_url: str = "https://api.notion.com",
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 5,
        max_wait: float = 300.0,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=TIMEOUT,
            headers={"Authorization": f"Bearer {token}", "Notion-Version": NOTION_VERSION},
        )
        self.sleep, self.max_retries, self.max_wait, self.page_size = sleep, max_retries, max_wait, page_size
        self.requests = 0

    def __repr__(self) -> str:
        return f"NotionClient(base_url={str(self._http.base_url)!r})"

    def close(self) -> None:
        self._http.close()

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> dict[str, Any] | None:
        """The answer's JSON object; None for 404 (gone, or not shared with the integration)."""
        for attempt in range(self.max_retries + 1):
            self.requests += 1
            try:
                answer = self._http.request(method, path, params=params, json=json)
            except httpx.HTTPError as exc:
                if attempt == self.max_retries:
                    raise UpstreamError(f"Notion could not be reached: {type(exc).__name__}") from exc
                self.sleep(min(2.0**attempt, self.max_wait))
                continue
            if answer.status_code == 429 or answer.status_code >= 500:
                retry_after = answer.headers.get("retry-after", "")
                wait = float(retry_after) if retry_after.isdigit() else min(2.0**attempt, self.max_wait)
                if attempt == self.max_retries or wait > self.max_wait:
                    raise UpstreamError(
                        f"Notion answered {answer.status_code}; try again later", status=answer.status_code
                    )
                self.sleep(wait)
                continue
            if answer.status_code == 404:
                return None
            try:
                body = answer.json()
            except ValueError:
                body = None
            if answer.status_code >= 400 or not isinstance(body, dict):
                code = body.get("code") if isinstance(body, dict) else None
                message = str(body.get("message") or "")[:200] if isinstance(body, dict) else ""
                raise UpstreamError(
                    f"Notion refused {method} {path.split('?')[0]} ({code or answer.status_code}): {message}",
                    status=answer.status_code,
                )
            return body
        raise UpstreamError("Notion could not be reached")  # pragma: no cover

    def _list(self, answer: dict[str, Any] | None) -> ListPage:
        if answer is None:
            return ListPage([], None, False)
        results = [r for r in answer.get("results") or [] if isinstance(r, dict)]
        cursor = answer.get("next_cursor") if isinstance(answer.get("next_cursor"), str) else None
        return ListPage(results, cursor, bool(answer.get("has_more")) and cursor is not None)

    def search_pages(self, start_cursor: str | None = None) -> Iterator[ListPage]:
        """Every page shared with the integration, a list page at a time."""
        while True:
            body: dict[str, Any] = {
                "filter": {"property": "object", "value": "page"},
                "page_size": self.page_size,
            }
            if start_cursor:
                body["start_cursor"] = start_cursor
            page = self._list(self.request("POST", "/v1/search", json=body))
            yield page
            if not page.has_more:
                return
            start_cursor = page.next_cursor

    def _all(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {**params, "page_size": self.page_size, **({"start_cursor": cursor} if cursor else {})}
            page = self._list(self.request("GET", path, params=query))
            found += page.results
            if not page.has_more:
                return found
            cursor = page.next_cursor

    def page(self, page_id: str) -> dict[str, Any] | None:
        return self.request("GET", f"/v1/pages/{page_id}")

    def blocks(self, block_id: str, depth: int = 0) -> list[dict[str, Any]]:
        """A block's children, each with its own children fetched under ``children`` (child pages and
        databases are not entered: they are documents of their own)."""
        blocks = self._all(f"/v1/blocks/{block_id}/children", {})
        for block in blocks:
            nested = block.get("has_children") and block.get("type") not in ("child_page", "child_database")
            if nested and depth < MAX_BLOCK_DEPTH:
                block["children"] = self.blocks(str(block["id"]), depth + 1)
        return blocks

    def comments(self, block_id: str) -> list[dict[str, Any]]:
        return self._all("/v1/comments", {"block_id": block_id})
