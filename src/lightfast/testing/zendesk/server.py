"""A local stand-in for Zendesk's REST APIs, speaking their documented wire format:

* auth: ``Authorization: Basic base64({email}/token:{token})`` or ``Bearer {token}``; anything else
  401 ``{"error": "Couldn't authenticate you"}``;
* ``GET /api/v2/incremental/tickets/cursor.json`` (``start_time`` then ``cursor``): ``tickets``,
  ``after_cursor``, ``before_cursor``, ``end_of_stream``; soft-deleted tickets listed with status
  ``deleted``, purged ones not at all;
* ``GET /api/v2/tickets/{id}.json``, ``/api/v2/tickets/{id}/comments.json`` and the Help Center's
  ``articles``, ``sections``, ``categories`` (lists and single records) with cursor pagination:
  ``page[size]`` (at most 100), ``page[after]``; ``meta.has_more``, ``meta.after_cursor``,
  ``links.next``; 404 ``{"error": "RecordNotFound"}``;
* rate limits: ``X-Rate-Limit-Remaining`` / ``ratelimit-remaining`` on every answer, and a 429 with
  ``Retry-After`` when ``rate_limit_next`` asks for one.

Use ``transport()`` with an ``httpx.Client`` (no socket), as the product's client accepts one."""

from __future__ import annotations

import base64
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx

MAX_PAGE = 100
EXPORT_PAGE = 1000  # Zendesk's incremental export page
_TICKET = re.compile(r"^/api/v2/tickets/(\d+)\.json$")
_COMMENTS = re.compile(r"^/api/v2/tickets/(\d+)/comments\.json$")
_HC_ONE = re.compile(r"^/api/v2/help_center/(articles|sections|categories)/(\d+)\.json$")
_HC_LIST = re.compile(r"^/api/v2/help_center/(articles|sections|categories)\.json$")
_SINGULAR = {"articles": "article", "sections": "section", "categories": "category"}


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"pos:{index}".encode()).decode()


def _position(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except ValueError:
        return None
    return int(text[4:]) if text.startswith("pos:") and text[4:].isdigit() else None


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _not_found() -> httpx.Response:
    return httpx.Response(404, json={"error": "RecordNotFound", "description": "Not found"})


class ZendeskStandIn:
    def __init__(
        self,
        token: str = "zd_standin_token_0123456789",
        email: str = "agent@acme.example",
        *,
        export_page: int = EXPORT_PAGE,
        base_url: str = "https://acme.zendesk.com",
    ) -> None:
        self.token, self.email, self.export_page, self.base_url = token, email, export_page, base_url
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.help_center: dict[str, dict[int, dict[str, Any]]] = {
            "articles": {},
            "sections": {},
            "categories": {},
        }
        self.requests: list[str] = []  # paths asked for
        self._rate_limited = 0
        self._lock = threading.Lock()
        self._clock = datetime(2026, 1, 1, tzinfo=UTC)
        self._next_id = 1000

    # -- state ---------------------------------------------------------------------------------------

    def _tick(self) -> str:
        self._clock += timedelta(seconds=1)
        return self._clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_ticket(
        self, subject: str, description: str = "", *, status: str = "open", tags: list[str] | None = None
    ) -> dict[str, Any]:
        with self._lock:
            number = len(self.tickets) + 1
            now = self._tick()
            ticket: dict[str, Any] = {
                "id": number,
                "url": f"{self.base_url}/api/v2/tickets/{number}.json",
                "subject": subject,
                "raw_subject": subject,
                "description": description,
                "status": status,
                "priority": "normal",
                "type": "question",
                "requester_id": 501,
                "submitter_id": 501,
                "assignee_id": 601,
                "group_id": 701,
                "organization_id": 801,
                "brand_id": 901,
                "tags": list(tags or []),
                "satisfaction_rating": {"score": "unoffered"},
                "via": {"channel": "web"},
                "created_at": now,
                "updated_at": now,
            }
            self.tickets[number] = ticket
            self.comments[number] = []
            if description:
                self._comment(number, description, public=True)
            return ticket

    def _comment(self, ticket_id: int, body: str, *, public: bool) -> dict[str, Any]:
        comment = {
            "id": self._id(),
            "type": "Comment",
            "author_id": 501,
            "body": body,
            "plain_body": body,
            "html_body": f"<p>{body}</p>",
            "public": public,
            "audit_id": self._id(),
            "via": {"channel": "web"},
            "created_at": self._tick(),
        }
        self.comments[ticket_id].append(comment)
        self.tickets[ticket_id]["updated_at"] = comment["created_at"]
        return comment

    def add_comment(self, ticket_id: int, body: str, *, public: bool = True) -> dict[str, Any]:
        with self._lock:
            return self._comment(ticket_id, body, public=public)

    def make_private(self, ticket_id: int, comment_id: int) -> None:
        """``PUT /api/v2/tickets/{id}/comments/{id}/make_private``: an audit of the ticket, which moves
        its ``updated_at``; the comment keeps its id and ``created_at``."""
        with self._lock:
            comment = next(c for c in self.comments[ticket_id] if c["id"] == comment_id)
            comment["public"] = False
            self.tickets[ticket_id]["updated_at"] = self._tick()

    def update_ticket(self, ticket_id: int, **fields: Any) -> dict[str, Any]:
        with self._lock:
            ticket = self.tickets[ticket_id]
            ticket.update(fields, updated_at=self._tick())
            return ticket

    def soft_delete(self, ticket_id: int) -> None:
        """Deleted in Zendesk: the export lists it with status ``deleted``, the ticket API answers 404."""
        self.update_ticket(ticket_id, status="deleted")

    def purge(self, ticket_id: int) -> None:
        with self._lock:
            del self.tickets[ticket_id]
            del self.comments[ticket_id]

    def add_category(self, name: str) -> dict[str, Any]:
        with self._lock:
            number = self._id()
            category = {"id": number, "name": name, "locale": "en-us", "updated_at": self._tick()}
            self.help_center["categories"][number] = category
            return category

    def add_section(self, name: str, category: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            number = self._id()
            section = {"id": number, "name": name, "category_id": category["id"], "locale": "en-us"}
            self.help_center["sections"][number] = section
            return section

    def add_article(
        self, title: str, body_html: str, section: dict[str, Any], labels: list[str] | None = None
    ) -> dict[str, Any]:
        with self._lock:
            now = self._tick()
            number = self._id()
            article = {
                "id": number,
                "title": title,
                "body": body_html,
                "html_url": f"{self.base_url}/hc/en-us/articles/{number}",
                "locale": "en-us",
                "section_id": section["id"],
                "label_names": list(labels or []),
                "promoted": False,
                "vote_sum": 3,
                "draft": False,
                "created_at": now,
                "updated_at": now,
                "edited_at": now,
            }
            self.help_center["articles"][number] = article
            return article

    def update_article(self, article_id: int, **fields: Any) -> dict[str, Any]:
        with self._lock:
            article = self.help_center["articles"][article_id]
            article.update(fields, updated_at=self._tick())
            return article

    def rate_limit_next(self, requests: int = 1) -> None:
        self._rate_limited += requests

    # -- the wire ------------------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def _authorised(self, header: str | None) -> bool:
        basic = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        return header in (f"Basic {basic}", f"Bearer {self.token}")

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        with self._lock:
            self.requests.append(path)
            if request.method != "GET":
                return httpx.Response(405, json={"error": "MethodNotAllowed"})
            if not self._authorised(request.headers.get("authorization")):
                return httpx.Response(401, json={"error": "Couldn't authenticate you"})
            if self._rate_limited:
                self._rate_limited -= 1
                return httpx.Response(
                    429,
                    json={"error": "APIRateLimitExceeded"},
                    headers={"Retry-After": "7", "X-Rate-Limit-Remaining": "0"},
                )
            answer = self._route(path, parse_qs(request.url.query.decode()))
            answer.headers["X-Rate-Limit"] = "700"
            answer.headers["X-Rate-Limit-Remaining"] = "699"
            answer.headers["ratelimit-remaining"] = "699"
            return answer

    def _route(self, path: str, query: dict[str, list[str]]) -> httpx.Response:
        if path == "/api/v2/incremental/tickets/cursor.json":
            return self._export(query)
        if found := _TICKET.match(path):
            ticket = self.tickets.get(int(found.group(1)))
            if ticket is None or ticket["status"] == "deleted":
                return _not_found()
            return httpx.Response(200, json={"ticket": ticket})
        if found := _COMMENTS.match(path):
            number = int(found.group(1))
            if number not in self.tickets or self.tickets[number]["status"] == "deleted":
                return _not_found()
            ordered = self.comments[number]
            if _first(query, "sort_order") == "desc":
                ordered = ordered[::-1]
            return self._cursor_page(path, "comments", ordered, query)
        if found := _HC_ONE.match(path):
            record = self.help_center[found.group(1)].get(int(found.group(2)))
            if record is None:
                return _not_found()
            return httpx.Response(200, json={_SINGULAR[found.group(1)]: record})
        if found := _HC_LIST.match(path):
            records = sorted(self.help_center[found.group(1)].values(), key=lambda r: r["id"])
            return self._cursor_page(path, found.group(1), records, query)
        return _not_found()

    def _export(self, query: dict[str, list[str]]) -> httpx.Response:
        cursor = _first(query, "cursor")
        if cursor is None:
            start = _first(query, "start_time")
            if start is None or not start.isdigit():
                return httpx.Response(400, json={"error": "InvalidPaginationParameter"})
            position = 0
        else:
            found = _position(cursor)
            if found is None:
                return httpx.Response(400, json={"error": "InvalidCursor"})
            position = found
        records = sorted(self.tickets.values(), key=lambda t: (t["updated_at"], t["id"]))
        chunk = records[position : position + self.export_page]
        end = position + len(chunk)
        return httpx.Response(
            200,
            json={
                "tickets": chunk,
                "after_cursor": _cursor(end),
                "before_cursor": _cursor(position),
                "end_of_stream": end >= len(records),
                "count": len(chunk),
            },
        )

    def _cursor_page(
        self, path: str, key: str, records: list[dict[str, Any]], query: dict[str, list[str]]
    ) -> httpx.Response:
        size_text = (query.get("page[size]") or ["100"])[0]
        if not size_text.isdigit() or not 0 < int(size_text) <= MAX_PAGE:
            return httpx.Response(400, json={"error": "InvalidPaginationParameter"})
        size = int(size_text)
        after = _first(query, "page[after]")
        start = 0
        if after is not None:
            found = _position(after)
            if found is None:
                return httpx.Response(400, json={"error": "InvalidPaginationParameter"})
            start = found
        chunk = records[start : start + size]
        has_more = start + size < len(records)
        cursor = _cursor(start + len(chunk))
        return httpx.Response(
            200,
            json={
                key: chunk,
                "meta": {"has_more": has_more, "after_cursor": cursor, "before_cursor": _cursor(start)},
                "links": {
                    "next": f"{self.base_url}{path}?page[size]={size}&page[after]={cursor}"
                    if has_more
                    else None,
                    "prev": None,
                },
            },
        )
