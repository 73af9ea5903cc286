"""A local stand-in for Linear's GraphQL API, speaking its documented wire format: one POST with
``{"query", "variables"}``; ``Authorization`` the API key; connections ``issues``, ``comments`` and
``projects`` with ``first``/``after`` and ``pageInfo { hasNextPage endCursor }`` (opaque cursors);
archived records only with ``includeArchived: true``; errors as ``{"errors": [{"message", "extensions":
{"code"}}]}``; a rate-limited request answered ``RATELIMITED`` with the reset headers (Unix ms).

Both of Linear's leaky buckets are modelled (requests and complexity, refilled at ``limit`` an hour on the
stand-in's clock, ``now_ms``): every answer carries ``X-Complexity`` and the ``X-RateLimit-*-Limit``,
``-Remaining`` and ``-Reset`` headers, and a query that does not fit is answered ``RATELIMITED``. A page
costs its ``first`` times the node's cost (Linear's scoring: 0.1 a field, 1 an object, connections
multiplied by ``first``; the constants below are that scoring applied to the client's fields).

It reads the connection a query asks for from the query text (it does not parse GraphQL), so it answers
the queries ``lightfast.sources.linear.client`` sends, and refuses others as Linear refuses an invalid
query. Use ``transport()`` with an ``httpx.Client`` (no socket), as the product's client accepts one."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

CONNECTION = re.compile(r"\{\s*(issues|comments|projects)\s*\(([^)]*)\)")
TYPES = {"issues": "Issue", "comments": "Comment", "projects": "Project"}
MAX_FIRST = 250  # Linear refuses larger pages
NODE_COST = {"issues": 8, "comments": 4, "projects": 2}  # per node of a page, by Linear's scoring
HOUR_MS = 3_600_000


def _error(
    code: str, message: str, status: int = 400, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return httpx.Response(status, json=body, headers=headers or {})


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"idx:{index}".encode()).decode()


def _position(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except ValueError:
        return None
    return int(text[4:]) if text.startswith("idx:") and text[4:].isdigit() else None


class LinearStandIn:
    def __init__(
        self,
        api_key: str = "lin_api_standin_key_0123456789",
        team_key: str = "ENG",
        *,
        complexity_limit: int = 250_000,
        requests_limit: int = 5_000,
        now_ms: Any = None,
    ) -> None:
        self.api_key, self.team_key = api_key, team_key
        self.team = {"id": str(uuid.uuid4()), "key": team_key, "name": "Engineering"}
        self.records: dict[str, dict[str, dict[str, Any]]] = {"issues": {}, "comments": {}, "projects": {}}
        self.requests: list[str] = []  # connection asked for, per request
        self.webhooks: list[dict[str, Any]] = []  # created by webhookCreate (url, secret, resourceTypes...)
        self._rate_limited = 0
        self._lock = threading.Lock()
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.limits = {"requests": float(requests_limit), "complexity": float(complexity_limit)}
        self.left = dict(self.limits)
        self._refilled = self.now_ms()
        self.limited = 0  # queries answered RATELIMITED because a bucket ran dry
        self._clock = datetime(2026, 1, 1, tzinfo=UTC)

    # -- state ---------------------------------------------------------------------------------------

    def _tick(self) -> str:
        self._clock += timedelta(seconds=1)
        return self._clock.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def add_issue(self, title: str, description: str = "", state: str = "Todo") -> dict[str, Any]:
        with self._lock:
            number = len(self.records["issues"]) + 1
            now = self._tick()
            issue: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "identifier": f"{self.team_key}-{number}",
                "number": number,
                "title": title,
                "description": description,
                "url": f"https://linear.app/acme/issue/{self.team_key}-{number}",
                "priority": 2,
                "priorityLabel": "High",
                "createdAt": now,
                "updatedAt": now,
                "archivedAt": None,
                "trashed": None,
                "state": {"id": str(uuid.uuid4()), "name": state, "type": "unstarted"},
                "team": dict(self.team),
                "assignee": None,
                "project": None,
                "labels": {"nodes": []},
            }
            self.records["issues"][issue["id"]] = issue
            return issue

    def add_comment(self, issue: dict[str, Any], body: str) -> dict[str, Any]:
        with self._lock:
            now = self._tick()
            comment: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "body": body,
                "url": f"{issue['url']}#comment-{len(self.records['comments'])}",
                "createdAt": now,
                "updatedAt": now,
                "archivedAt": None,
                "issue": {"id": issue["id"], "identifier": issue["identifier"], "title": issue["title"]},
                "user": {"id": "user-1", "name": "Ada"},
            }
            self.records["comments"][comment["id"]] = comment
            return comment

    def add_project(self, name: str, description: str = "") -> dict[str, Any]:
        with self._lock:
            now = self._tick()
            project: dict[str, Any] = {
                "id": str(uuid.uuid4()),
                "name": name,
                "description": description,
                "content": description,
                "url": f"https://linear.app/acme/project/{name.lower().replace(' ', '-')}",
                "state": "started",
                "createdAt": now,
                "updatedAt": now,
                "archivedAt": None,
            }
            self.records["projects"][project["id"]] = project
            return project

    def update(self, connection: str, record_id: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            record = self.records[connection][record_id]
            record.update(fields, updatedAt=self._tick())
            return record

    def delete(self, connection: str, record_id: str) -> None:
        """Gone for good (deleted, not archived): no listing returns it."""
        with self._lock:
            del self.records[connection][record_id]

    def rate_limit_next(self, requests: int = 1) -> None:
        self._rate_limited += requests

    def _refill(self) -> None:
        now = self.now_ms()
        elapsed, self._refilled = max(0, now - self._refilled), now
        for kind, limit in self.limits.items():
            self.left[kind] = min(limit, self.left[kind] + elapsed * limit / HOUR_MS)

    def _budget_headers(self, cost: float) -> dict[str, str]:
        now = self.now_ms()
        headers = {"X-Complexity": str(int(cost))}
        for kind, limit in self.limits.items():
            name = kind.capitalize()
            empty_in = (limit - self.left[kind]) * HOUR_MS / limit  # until the bucket is full again
            headers[f"X-RateLimit-{name}-Limit"] = str(int(limit))
            headers[f"X-RateLimit-{name}-Remaining"] = str(int(self.left[kind]))
            headers[f"X-RateLimit-{name}-Reset"] = str(int(now + empty_in))
        return headers

    # -- the wire ------------------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return httpx.Response(405)
        if request.headers.get("authorization") not in (self.api_key, f"Bearer {self.api_key}"):
            return _error("AUTHENTICATION_ERROR", "Authentication required, not authenticated")
        try:
            payload = json.loads(request.content)
        except ValueError:
            return _error("BAD_USER_INPUT", "Body is not valid JSON")
        query = payload.get("query") if isinstance(payload, dict) else None
        variables = payload.get("variables") or {}
        found = CONNECTION.search(query) if isinstance(query, str) else None
        with self._lock:
            self.requests.append(found.group(1) if found else "?")
            if self._rate_limited:
                self._rate_limited -= 1
                reset = str(int(time.time() * 1000))  # the bucket refills at once: tests do not wait
                return _error(
                    "RATELIMITED",
                    "Rate limit exceeded",
                    headers={"X-RateLimit-Requests-Reset": reset, "X-RateLimit-Requests-Remaining": "0"},
                )
            if isinstance(query, str) and "webhookCreate(" in query:
                return self._create_webhook(variables)
            if found is None:
                return _error("GRAPHQL_VALIDATION_FAILED", "Cannot query this field (stand-in)")
            self._refill()
            first = variables.get("first", 50)
            cost = NODE_COST[found.group(1)] * (first if isinstance(first, int) else 50) + 1
            if self.left["requests"] < 1 or self.left["complexity"] < cost:
                self.limited += 1
                return _error("RATELIMITED", "Rate limit exceeded", headers=self._budget_headers(cost))
            self.left["requests"] -= 1
            self.left["complexity"] -= cost
            answer = self._page(found.group(1), "includeArchived: true" in found.group(2), variables)
            answer.headers.update(self._budget_headers(cost))
            return answer

    def _create_webhook(self, variables: dict[str, Any]) -> httpx.Response:
        given = variables.get("input")
        if not isinstance(given, dict) or not str(given.get("url", "")).startswith(("http://", "https://")):
            return _error("INVALID_INPUT", "url must be a valid URL")
        if not given.get("resourceTypes"):
            return _error("INVALID_INPUT", "resourceTypes must not be empty")
        webhook = {"id": str(uuid.uuid4()), "enabled": True, **given}
        self.webhooks.append(webhook)
        answer = {"webhookCreate": {"success": True, "webhook": {"id": webhook["id"], "enabled": True}}}
        return httpx.Response(200, json={"data": answer})

    def _page(self, connection: str, archived: bool, variables: dict[str, Any]) -> httpx.Response:
        first = variables.get("first", 50)
        if not isinstance(first, int) or not 0 < first <= MAX_FIRST:
            return _error("INVALID_INPUT", f"first must be between 1 and {MAX_FIRST}")
        after = variables.get("after")
        start = 0
        if after is not None:
            position = _position(after) if isinstance(after, str) else None
            if position is None:
                return _error("INVALID_INPUT", "Invalid cursor")
            start = position + 1
        records = sorted(self.records[connection].values(), key=lambda r: (r["createdAt"], r["id"]))
        if not archived:
            records = [r for r in records if not r.get("archivedAt")]
        chunk = records[start : start + first]
        end = start + len(chunk) - 1
        info = {"hasNextPage": start + first < len(records), "endCursor": _cursor(end) if chunk else None}
        return httpx.Response(200, json={"data": {connection: {"nodes": chunk, "pageInfo": info}}})
