"""A local stand-in for Sentry's REST API (``/api/0/``), speaking its documented wire format:

* auth: ``Authorization: Bearer <token>``; anything else 401 ``{"detail": "Invalid token"}``;
* ``GET /api/0/organizations/{org}/projects/``, ``/api/0/projects/{org}/{project}/issues/`` (every
  status when ``query`` is empty, else unresolved ones only, as Sentry's default ``is:unresolved``),
  ``/api/0/organizations/{org}/issues/{id}/`` and ``.../events/latest/``, ``/api/0/issues/{id}/comments/``;
* pagination: ``per_page`` (at most 100) and ``cursor``; the ``Link`` header with ``rel="previous"`` and
  ``rel="next"`` entries, each with ``results="true|false"`` and its ``cursor="0:100:0"``;
* rate limits: ``X-Sentry-Rate-Limit-Limit``, ``-Remaining``, ``-Reset`` (Unix seconds) and
  ``-ConcurrentLimit`` on every answer, and a 429 with ``Retry-After`` when ``rate_limit_next`` asks;
* 404 ``{"detail": "The requested resource does not exist"}``.

Use ``transport()`` with an ``httpx.Client`` (no socket), as the product's client accepts one."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx

MAX_PAGE = 100
_PROJECTS = re.compile(r"^/api/0/organizations/([^/]+)/projects/$")
_ORG = re.compile(r"^/api/0/organizations/([^/]+)/$")
_ISSUES = re.compile(r"^/api/0/projects/([^/]+)/([^/]+)/issues/$")
_ISSUE = re.compile(r"^/api/0/organizations/([^/]+)/issues/(\d+)/$")
_LATEST = re.compile(r"^/api/0/organizations/([^/]+)/issues/(\d+)/events/latest/$")
_COMMENTS = re.compile(r"^/api/0/issues/(\d+)/comments/$")


def _not_found() -> httpx.Response:
    return httpx.Response(404, json={"detail": "The requested resource does not exist"})


class SentryStandIn:
    def __init__(
        self,
        token: str = "sntrys_standin_token_0123456789",
        organization: str = "acme",
        *,
        base_url: str = "https://sentry.io",
        page_cap: int = MAX_PAGE,
    ) -> None:
        self.token, self.organization, self.base_url = token, organization, base_url
        self.page_cap = page_cap  # Sentry's is 100; smaller makes many pages of a few issues
        self.projects: dict[str, dict[str, Any]] = {}
        self.issues: dict[str, dict[str, Any]] = {}  # id -> issue (with project slug)
        self.events: dict[str, list[dict[str, Any]]] = {}  # issue id -> events, oldest first
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[str] = []
        self.rate_limit_next = 0  # the next N requests answer 429
        self.fail_next = 0  # the next N requests answer 502
        self._lock = threading.Lock()
        self._clock = datetime(2026, 1, 1, tzinfo=UTC)
        self._next_id = 4000

    def _tick(self) -> str:
        self._clock += timedelta(seconds=1)
        return self._clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    # -- state ---------------------------------------------------------------------------------------

    def add_project(self, slug: str, platform: str = "python") -> dict[str, Any]:
        with self._lock:
            project = {"id": self._id(), "slug": slug, "name": slug.title(), "platform": platform}
            self.projects[slug] = project
            return project

    def add_issue(
        self,
        project: str,
        title: str,
        *,
        culprit: str = "app.views in handler",
        level: str = "error",
        status: str = "unresolved",
        frames: int = 3,
        release: str | None = "1.0.0",
    ) -> dict[str, Any]:
        with self._lock:
            issue_id = self._id()
            slug = self.projects[project]["slug"]
            now = self._tick()
            kind, _, value = title.partition(": ")
            issue = {
                "id": issue_id,
                "shortId": f"{slug.upper()}-{len(self.issues) + 1:X}",
                "title": title,
                "culprit": culprit,
                "level": level,
                "status": status,
                "substatus": "new" if status == "unresolved" else None,
                "statusDetails": {},
                "platform": self.projects[project]["platform"],
                "project": {k: self.projects[project][k] for k in ("id", "slug", "name", "platform")},
                "type": "error",
                "metadata": {"type": kind, "value": value},
                "count": "1",
                "userCount": 1,
                "numComments": 0,
                "firstSeen": now,
                "lastSeen": now,
                "permalink": f"{self.base_url}/organizations/{self.organization}/issues/{issue_id}/",
                "assignedTo": None,
                "isPublic": False,
                "hasSeen": False,
            }
            self.issues[issue_id] = issue
            self.events[issue_id] = []
            self.comments[issue_id] = []
            self._event(issue_id, frames, release)
            return issue

    def _event(self, issue_id: str, frames: int, release: str | None) -> dict[str, Any]:
        issue = self.issues[issue_id]
        kind = issue["metadata"]["type"] or "Error"
        now = self._tick()
        event = {
            "id": f"{int(self._id()):032x}",
            "eventID": f"{int(self._next_id):032x}",
            "groupID": issue_id,
            "title": issue["title"],
            "message": "",
            "platform": issue["platform"],
            "dateCreated": now,
            "culprit": issue["culprit"],
            "release": {"version": release} if release else None,
            "tags": [
                {"key": "environment", "value": "production"},
                {"key": "level", "value": issue["level"]},
                *([{"key": "release", "value": release}] if release else []),
            ],
            "entries": [
                {
                    "type": "exception",
                    "data": {
                        "values": [
                            {
                                "type": kind,
                                "value": issue["metadata"]["value"],
                                "mechanism": {"type": "generic", "handled": False},
                                "stacktrace": {
                                    "frames": [
                                        {
                                            "filename": f"app/module_{n}.py",
                                            "function": f"step_{n}",
                                            "lineNo": 10 + n,
                                            "colNo": None,
                                            "inApp": True,
                                            "context": [[10 + n, f"    result = step_{n + 1}(payload)"]],
                                        }
                                        for n in range(frames)
                                    ]
                                },
                            }
                        ]
                    },
                }
            ],
        }
        self.events[issue_id].append(event)
        issue["lastSeen"] = now
        issue["count"] = str(len(self.events[issue_id]))
        return event

    def add_event(self, issue_id: str, frames: int = 3, release: str | None = "1.0.1") -> dict[str, Any]:
        with self._lock:
            return self._event(issue_id, frames, release)

    def add_comment(self, issue_id: str, text: str, user: str = "Ada Lovelace") -> dict[str, Any]:
        with self._lock:
            note = {
                "id": self._id(),
                "type": "note",
                "data": {"text": text},
                "user": {"id": "1", "name": user, "email": "ada@acme.example"},
                "dateCreated": self._tick(),
            }
            self.comments[issue_id].append(note)
            self.issues[issue_id]["numComments"] = len(self.comments[issue_id])
            return note

    def update_issue(self, issue_id: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            self.issues[issue_id].update(fields)
            return self.issues[issue_id]

    def delete_issue(self, issue_id: str) -> None:
        with self._lock:
            del self.issues[issue_id]
            del self.events[issue_id]
            del self.comments[issue_id]

    def delete_comment(self, issue_id: str, comment_id: str) -> None:
        with self._lock:
            self.comments[issue_id] = [c for c in self.comments[issue_id] if c["id"] != comment_id]
            self.issues[issue_id]["numComments"] = len(self.comments[issue_id])

    # -- HTTP ----------------------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def _headers(self) -> dict[str, str]:
        return {
            "X-Sentry-Rate-Limit-Limit": "40",
            "X-Sentry-Rate-Limit-Remaining": "39",
            "X-Sentry-Rate-Limit-Reset": str(int(time.time()) + 1),
            "X-Sentry-Rate-Limit-ConcurrentLimit": "25",
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        with self._lock:
            self.requests.append(path)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return httpx.Response(401, json={"detail": "Invalid token"})
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                return httpx.Response(
                    429,
                    headers={**self._headers(), "Retry-After": "1", "X-Sentry-Rate-Limit-Remaining": "0"},
                    json={"detail": "You are attempting to use this endpoint too frequently."},
                )
            if self.fail_next > 0:
                self.fail_next -= 1
                return httpx.Response(502, text="Bad Gateway")
            query = parse_qs(request.url.query.decode(), keep_blank_values=True)
            answer = self._route(path, query)
        if answer is None:
            return _not_found()
        body, link = answer
        headers = self._headers() | ({"Link": link} if link else {})
        return httpx.Response(200, json=body, headers=headers)

    def _route(self, path: str, query: dict[str, list[str]]) -> tuple[Any, str | None] | None:
        if (found := _ORG.match(path)) is not None:
            return (
                ({"slug": found[1], "name": found[1].title()}, None)
                if found[1] == self.organization
                else None
            )
        if (found := _PROJECTS.match(path)) is not None:
            if found[1] != self.organization:
                return None
            return self._page(path, sorted(self.projects.values(), key=lambda p: p["slug"]), query)
        if (found := _ISSUES.match(path)) is not None:
            if found[1] != self.organization or found[2] not in self.projects:
                return None
            everything = query.get("query", ["is:unresolved"])[0] == ""
            issues = [
                i
                for i in sorted(self.issues.values(), key=lambda i: int(i["id"]))
                if i["project"]["slug"] == found[2] and (everything or i["status"] == "unresolved")
            ]
            return self._page(path, issues, query)
        if (found := _ISSUE.match(path)) is not None:
            issue = self.issues.get(found[2])
            return (issue, None) if issue is not None and found[1] == self.organization else None
        if (found := _LATEST.match(path)) is not None:
            events = self.events.get(found[2])
            return (events[-1], None) if events and found[1] == self.organization else None
        if (found := _COMMENTS.match(path)) is not None:
            if found[1] not in self.comments:
                return None
            return self._page(path, self.comments[found[1]][::-1], query)  # newest first, as Sentry lists
        return None

    def _page(self, path: str, items: list[dict[str, Any]], query: dict[str, list[str]]) -> tuple[Any, str]:
        size = query.get("per_page", [str(MAX_PAGE)])[0]
        per_page = min(int(size) if size.isdigit() and int(size) > 0 else MAX_PAGE, self.page_cap)
        cursor = query.get("cursor", ["0:0:0"])[0].split(":")
        offset = int(cursor[1]) if len(cursor) == 3 and cursor[1].isdigit() else 0
        page = items[offset : offset + per_page]
        more = offset + per_page < len(items)
        url = f"{self.base_url}{path}"
        previous = f"0:{max(offset - per_page, 0)}:1"
        following = f"0:{offset + per_page}:0"
        before, after = str(offset > 0).lower(), str(more).lower()
        link = (
            f'<{url}?&cursor={previous}>; rel="previous"; results="{before}"; cursor="{previous}", '
            f'<{url}?&cursor={following}>; rel="next"; results="{after}"; cursor="{following}"'
        )
        return page, link
