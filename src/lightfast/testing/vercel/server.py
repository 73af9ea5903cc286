"""A local stand-in for Vercel's REST API, speaking its documented wire format:

* auth: ``Authorization: Bearer <token>``; anything else 403 ``{"error": {"code": "forbidden", ...}}``;
  a team's projects answer only with ``teamId`` (else 404, as Vercel hides what the token's scope lacks);
* ``GET /v6/deployments?projectId=&limit=&until=``: ``{deployments, pagination: {count, next, prev}}``,
  newest first, ``next`` the ``created`` (ms) of the page's last deployment (the next page's ``until``,
  exclusive), null at the end; ``limit`` at most 100;
* ``GET /v13/deployments/{id}``: one deployment (with ``errorCode``/``errorMessage`` when it failed);
* ``GET /v3/deployments/{id}/events``: its build log, ``[{type, created, payload: {text, ...}}]``,
  ``direction=backward`` newest first, ``limit``;
* rate limits: ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (Unix seconds) on every answer; a 429
  ``{"error": {"code": "rate_limited"}}`` when ``rate_limit_next`` asks;
* 404 ``{"error": {"code": "not_found", "message": ...}}``.

Use ``transport()`` with an ``httpx.Client`` (no socket), as the product's client accepts one."""

from __future__ import annotations

import re
import threading
import time
from typing import Any
from urllib.parse import parse_qs

import httpx

MAX_LIMIT = 100
_DEPLOYMENT = re.compile(r"^/v13/deployments/([^/]+)$")
_EVENTS = re.compile(r"^/v3/deployments/([^/]+)/events$")


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


class VercelStandIn:
    def __init__(
        self,
        token: str = "vercel_standin_token_0123456789",
        *,
        team_id: str | None = None,
        page_cap: int = MAX_LIMIT,
    ) -> None:
        self.token, self.team_id = token, team_id
        self.page_cap = page_cap  # Vercel's is 100; smaller makes many pages of a few deployments
        self.projects: dict[str, dict[str, Any]] = {}  # id -> {id, name}
        self.deployments: dict[str, dict[str, Any]] = {}  # id -> deployment (v13 shape)
        self.logs: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[str] = []
        self.rate_limit_next = 0  # the next N requests answer 429
        self.fail_next = 0  # the next N requests answer 502
        self._lock = threading.Lock()
        self._clock_ms = 1_764_000_000_000  # November 2025
        self._next = 0

    def _id(self, prefix: str) -> str:
        self._next += 1
        return f"{prefix}_{self._next:024d}"

    # -- state ---------------------------------------------------------------------------------------

    def add_project(self, name: str) -> dict[str, Any]:
        with self._lock:
            project = {"id": self._id("prj"), "name": name}
            self.projects[project["id"]] = project
            return project

    def add_deployment(
        self,
        project_id: str,
        *,
        message: str = "Update index.html",
        branch: str = "main",
        state: str = "READY",
        target: str | None = None,
        log: list[str] | None = None,
        error_message: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            self._clock_ms += 60_000
            deployment_id = self._id("dpl")
            project = self.projects[project_id]
            sha = f"{self._next:040x}"
            deployment = {
                "id": deployment_id,
                "name": project["name"],
                "url": f"{project['name']}-{self._next:x}-acme.vercel.app",
                "projectId": project_id,
                "ownerId": self.team_id or "user_0001",
                "readyState": state,
                "target": target,
                "createdAt": self._clock_ms,
                "buildingAt": self._clock_ms + 1000,
                "ready": self._clock_ms + 30_000 if state == "READY" else None,
                "source": "git",
                "creator": {"uid": "user_0001", "username": "ada"},
                "inspectorUrl": f"https://vercel.com/acme/{project['name']}/{deployment_id[4:]}",
                "meta": {
                    "githubCommitSha": sha,
                    "githubCommitMessage": message,
                    "githubCommitRef": branch,
                    "githubCommitOrg": "acme",
                    "githubCommitRepo": project["name"],
                    "githubCommitAuthorName": "Ada Lovelace",
                },
                "alias": [f"{project['name']}-git-{branch}-acme.vercel.app"],
            }
            if state == "ERROR":
                deployment["errorCode"] = "BUILD_FAILED"
                deployment["errorMessage"] = error_message or 'Command "npm run build" exited with 1'
            self.deployments[deployment_id] = deployment
            lines = log if log is not None else ["Cloning github.com/acme/app", 'Running "npm run build"']
            self.logs[deployment_id] = [
                {
                    "type": "stderr" if "rror" in text else "stdout",
                    "created": self._clock_ms + 2000 + n,
                    "payload": {
                        "deploymentId": deployment_id,
                        "text": text,
                        "date": self._clock_ms + 2000 + n,
                    },
                }
                for n, text in enumerate(lines)
            ]
            return deployment

    def update_deployment(self, deployment_id: str, **fields: Any) -> None:
        with self._lock:
            self.deployments[deployment_id].update(fields)

    def delete_deployment(self, deployment_id: str) -> None:
        with self._lock:
            del self.deployments[deployment_id]
            self.logs.pop(deployment_id, None)

    # -- HTTP ----------------------------------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def _headers(self, remaining: int = 99) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(time.time()) + 1),
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        with self._lock:
            self.requests.append(path)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return _error(403, "forbidden", "Not authorized")
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                answer = _error(429, "rate_limited", "Rate limit exceeded")
                answer.headers.update(self._headers(0))
                return answer
            if self.fail_next > 0:
                self.fail_next -= 1
                return httpx.Response(502, text="Bad Gateway")
            query = parse_qs(request.url.query.decode(), keep_blank_values=True)
            if self.team_id is not None and query.get("teamId", [""])[0] != self.team_id:
                return _error(404, "not_found", "The requested resource does not exist")
            body = self._route(path, query)
        if body is None:
            return _error(404, "not_found", "The requested resource does not exist")
        return httpx.Response(200, json=body, headers=self._headers())

    def _route(self, path: str, query: dict[str, list[str]]) -> Any | None:
        if path == "/v6/deployments":
            given = query.get("projectId", [""])[0]
            project = self.projects.get(given) or next(
                (p for p in self.projects.values() if p["name"] == given), None
            )
            if project is None:
                return None
            return self._list(project["id"], query)
        if (found := _DEPLOYMENT.match(path)) is not None:
            return self.deployments.get(found[1])
        if (found := _EVENTS.match(path)) is not None:
            if found[1] not in self.logs:
                return None
            events = list(self.logs[found[1]])
            if query.get("direction", ["forward"])[0] == "backward":
                events.reverse()
            limit = query.get("limit", [""])[0]
            return events[: int(limit)] if limit.isdigit() else events
        return None

    def _list(self, project_id: str, query: dict[str, list[str]]) -> dict[str, Any]:
        limit_text = query.get("limit", [""])[0]
        limit = min(int(limit_text) if limit_text.isdigit() and int(limit_text) > 0 else 20, self.page_cap)
        until_text = query.get("until", [""])[0]
        until = int(until_text) if until_text.isdigit() else None
        newest_first = sorted(
            (d for d in self.deployments.values() if d["projectId"] == project_id),
            key=lambda d: d["createdAt"],
            reverse=True,
        )
        rest = [d for d in newest_first if until is None or d["createdAt"] < until]
        page = rest[:limit]
        more = len(rest) > limit
        items = [
            {
                "uid": d["id"],
                "name": d["name"],
                "url": d["url"],
                "created": d["createdAt"],
                "createdAt": d["createdAt"],
                "buildingAt": d["buildingAt"],
                "ready": d["ready"],
                "state": d["readyState"],
                "readyState": d["readyState"],
                "type": "LAMBDAS",
                "creator": d["creator"],
                "meta": d["meta"],
                "target": d["target"],
                "projectId": d["projectId"],
                "inspectorUrl": d["inspectorUrl"],
                "source": d["source"],
            }
            for d in page
        ]
        return {
            "deployments": items,
            "pagination": {
                "count": len(items),
                "next": page[-1]["createdAt"] if more and page else None,
                "prev": page[0]["createdAt"] if page else None,
            },
        }
