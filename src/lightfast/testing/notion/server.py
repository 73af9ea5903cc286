"""A local stand-in for Notion's REST API, speaking its documented wire format: Bearer token and the
``Notion-Version`` header required; ``POST /v1/search``, ``GET /v1/pages/{id}``, ``GET
/v1/blocks/{id}/children``, ``GET /v1/comments?block_id=``, ``POST /v1/databases/{id}/query``; lists
with ``start_cursor``/``page_size`` (at most 100) answered ``{"object": "list", "results", "next_cursor",
"has_more"}``; errors ``{"object": "error", "status", "code", "message"}``; ``rate_limit_next`` answers
429 ``rate_limited`` with ``Retry-After``. Use ``transport()`` with an ``httpx.Client``."""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

MAX_PAGE = 100


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"object": "error", "status": status, "code": code, "message": message}
    return httpx.Response(status, json=body, headers=headers or {})


def text(content: str) -> list[dict[str, Any]]:
    """Rich text as Notion writes it."""
    return [
        {"type": "text", "text": {"content": content}, "plain_text": content, "annotations": {}, "href": None}
    ]


def block(
    kind: str, content: str = "", children: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    """A block in Notion's shape; ``children`` are served by /v1/blocks/{id}/children."""
    value: dict[str, Any] = {"rich_text": text(content), **extra} if content or kind != "divider" else {}
    found: dict[str, Any] = {"object": "block", "id": str(uuid.uuid4()), "type": kind, kind: value}
    found["has_children"] = bool(children)
    found["_children"] = children or []
    return found


class NotionStandIn:
    def __init__(self, token: str = "secret_standin_integration_token") -> None:
        self.token = token
        self.pages: dict[str, dict[str, Any]] = {}
        self.blocks: dict[str, list[dict[str, Any]]] = {}  # parent id -> its child blocks
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[str] = []
        self._limited = 0
        self._lock = threading.Lock()
        self._clock = datetime(2026, 1, 1, tzinfo=UTC)

    def _tick(self) -> str:
        self._clock += timedelta(minutes=1)
        return self._clock.strftime("%Y-%m-%dT%H:%M:00.000Z")

    def add_page(
        self,
        title: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        database_id: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            page_id = str(uuid.uuid4())
            now = self._tick()
            parent = (
                {"type": "database_id", "database_id": database_id}
                if database_id
                else {"type": "workspace", "workspace": True}
            )
            page = {
                "object": "page",
                "id": page_id,
                "created_time": now,
                "last_edited_time": now,
                "archived": False,
                "in_trash": False,
                "url": f"https://www.notion.so/{title.replace(' ', '-')}-{page_id.replace('-', '')}",
                "parent": parent,
                "last_edited_by": {"object": "user", "id": "user-1"},
                "properties": {
                    "Name": {"id": "title", "type": "title", "title": text(title)},
                    **(properties or {}),
                },
            }
            self.pages[page_id] = page
            self._store_blocks(page_id, blocks or [])
            return page

    def _store_blocks(self, parent_id: str, blocks: list[dict[str, Any]]) -> None:
        self.blocks[parent_id] = blocks
        for child in blocks:
            self._store_blocks(child["id"], child.get("_children") or [])

    def edit_page(self, page_id: str, blocks: list[dict[str, Any]]) -> None:
        with self._lock:
            self.pages[page_id]["last_edited_time"] = self._tick()
            self._store_blocks(page_id, blocks)

    def add_comment(self, page_id: str, content: str) -> None:
        with self._lock:
            self.comments.setdefault(page_id, []).append(
                {
                    "object": "comment",
                    "id": str(uuid.uuid4()),
                    "rich_text": text(content),
                    "created_time": self._tick(),
                }
            )

    def delete_page(self, page_id: str) -> None:
        with self._lock:
            del self.pages[page_id]

    def rate_limit_next(self, requests: int = 1) -> None:
        self._limited += requests

    # -- the wire ------------------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        with self._lock:
            self.requests.append(f"{request.method} {re.sub(r'[0-9a-f-]{36}', '{id}', path)}")
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return _error(401, "unauthorized", "API token is invalid.")
            if not request.headers.get("notion-version"):
                return _error(400, "missing_version", "Notion-Version header failed validation.")
            if self._limited:
                self._limited -= 1
                return _error(429, "rate_limited", "You have been rate limited.", {"Retry-After": "1"})
            params = dict(request.url.params)
            body = json.loads(request.content) if request.content else {}
            if request.method == "POST" and path == "/v1/search":
                pages = [p for p in self.pages.values() if not p["archived"]]
                return self._list(sorted(pages, key=lambda p: p["id"]), body)
            found = re.fullmatch(r"/v1/pages/([0-9a-f-]{36})", path)
            if request.method == "GET" and found:
                page = self.pages.get(found.group(1))
                if page is None:
                    return _error(404, "object_not_found", "Could not find page.")
                return httpx.Response(200, json=page)
            found = re.fullmatch(r"/v1/blocks/([0-9a-f-]{36})/children", path)
            if request.method == "GET" and found:
                children = self.blocks.get(found.group(1))
                if children is None:
                    return _error(404, "object_not_found", "Could not find block.")
                shown = [{k: v for k, v in b.items() if k != "_children"} for b in children]
                return self._list(shown, params)
            if request.method == "GET" and path == "/v1/comments":
                return self._list(self.comments.get(params.get("block_id", ""), []), params)
            found = re.fullmatch(r"/v1/databases/([0-9a-f-]{36})/query", path)
            if request.method == "POST" and found:
                rows = [p for p in self.pages.values() if p["parent"].get("database_id") == found.group(1)]
                return self._list(rows, body)
            return _error(400, "invalid_request_url", "Invalid request URL.")

    def _list(self, items: list[dict[str, Any]], query: dict[str, Any]) -> httpx.Response:
        size = int(query.get("page_size") or MAX_PAGE)
        if not 0 < size <= MAX_PAGE:
            return _error(400, "validation_error", "page_size should be ≤ 100")
        start = 0
        cursor = query.get("start_cursor")
        if cursor:
            if not str(cursor).startswith("c-") or not str(cursor)[2:].isdigit():
                return _error(400, "validation_error", "start_cursor is not valid")
            start = int(str(cursor)[2:])
        chunk = items[start : start + size]
        more = start + size < len(items)
        return httpx.Response(
            200,
            json={
                "object": "list",
                "results": chunk,
                "next_cursor": f"c-{start + size}" if more else None,
                "has_more": more,
            },
        )
