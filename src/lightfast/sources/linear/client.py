"""Linear's GraphQL API (https://linear.app/developers/graphql): one POST per query, personal API keys
sent as ``Authorization: <key>`` (OAuth tokens as ``Bearer <token>``), cursor pagination through
``pageInfo { hasNextPage endCursor }``, errors in ``errors[]`` with ``extensions.code``.

Rate limits (https://linear.app/developers/rate-limiting) are leaky buckets of requests and of query
complexity; a limited request is answered with ``RATELIMITED`` (HTTP 400 or 429) and the
``X-RateLimit-Requests-Reset`` / ``X-RateLimit-Complexity-Reset`` headers (Unix ms) say when to try again.
The client waits for the later of them, bounded, and gives up after ``max_retries``. Before that happens it
paces itself: each answer's remaining budget says how long the next query must wait to fit
(lightfast.sources.linear.budget), so a backfill slows down instead of running into the limit."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from lightfast.errors import UpstreamError
from lightfast.sources.linear.budget import Budget, pause, read_budget

PAGE_SIZE = 50  # Linear's default page; each connection's complexity grows with it
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
RESET_HEADERS = ("x-ratelimit-requests-reset", "x-ratelimit-complexity-reset")

ISSUE_FIELDS = """id identifier number title description url priority priorityLabel createdAt updatedAt
archivedAt trashed state { id name type } team { id key name } assignee { id name } project { id }
labels { nodes { name } }"""
COMMENT_FIELDS = (
    """id body url createdAt updatedAt archivedAt issue { id identifier title } user { id name }"""
)
PROJECT_FIELDS = """id name description content url state createdAt updatedAt archivedAt"""
# Connection name -> (entity type, fields, whether it takes includeArchived)
CONNECTIONS: dict[str, tuple[str, str, bool]] = {
    "issues": ("Issue", ISSUE_FIELDS, True),
    "comments": ("Comment", COMMENT_FIELDS, True),
    "projects": ("Project", PROJECT_FIELDS, True),
}


def page_query(connection: str) -> str:
    _, fields, archived = CONNECTIONS[connection]
    extra = ", includeArchived: true" if archived else ""
    nodes = " ".join(fields.split())
    return (
        f"query Page($first: Int!, $after: String) {{ {connection}(first: $first, after: $after{extra}, "
        f"orderBy: createdAt) {{ nodes {{ {nodes} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    )


@dataclass(frozen=True)
class Page:
    nodes: list[dict[str, Any]]
    end_cursor: str | None
    has_next: bool


def authorization(token: str) -> str:
    """Personal API keys (``lin_api_...``) go as they are; OAuth access tokens as a Bearer token."""
    return token if token.startswith("lin_api_") else f"Bearer {token}"


def reset_wait(headers: httpx.Headers, now_ms: int) -> float | None:
    """Seconds until the latest reset the headers announce, or None when they announce none."""
    resets = []
    for name in RESET_HEADERS:
        value = headers.get(name)
        if value and value.isdigit():
            resets.append(int(value))
    if not resets:
        return None
    return max(0.0, (max(resets) - now_ms) / 1000)


class LinearClient:
    def __init__(
        self,
        token: str,
        url: str = "https://api.linear.app/graphql",
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 5,
        max_wait: float = 900.0,
        page_size: int = PAGE_SIZE,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self._http = httpx.Client(
            transport=transport,
            timeout=TIMEOUT,
            headers={"Authorization": authorization(token), "Content-Type": "application/json"},
        )
        self.url, self.sleep = url, sleep
        self.max_retries, self.max_wait, self.page_size = max_retries, max_wait, page_size
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.requests = 0
        self.budget: Budget | None = None  # what the last answer said is left
        self.paused = 0.0  # seconds spent pacing (not counting waits after RATELIMITED)

    def __repr__(self) -> str:  # the token stays out of every repr and log line
        return f"LinearClient(url={self.url!r})"

    def close(self) -> None:
        self._http.close()

    def query(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of a query; UpstreamError naming Linear's error code when it fails."""
        for attempt in range(self.max_retries + 1):
            wait = pause(self.budget, self.now_ms())
            if wait > 0:
                self.sleep(wait)
                self.paused += wait
            self.requests += 1
            try:
                answer = self._http.post(self.url, json={"query": query, "variables": variables or {}})
            except httpx.HTTPError as exc:
                if attempt == self.max_retries:
                    raise UpstreamError(f"Linear could not be reached: {type(exc).__name__}") from exc
                self.sleep(min(2.0**attempt, self.max_wait))
                continue
            self.budget = read_budget(answer.headers, self.now_ms())
            body = _json(answer)
            listed = body.get("errors")
            errors: list[Any] = listed if isinstance(listed, list) else []
            codes = [_code(e) for e in errors]
            if answer.status_code == 429 or "RATELIMITED" in codes:
                # Long enough for this query to fit, when the answer tells the buckets' rates; else the
                # announced reset (a full bucket: longer than needed), else a backoff.
                announced = reset_wait(answer.headers, self.now_ms())
                wait = pause(self.budget, self.now_ms()) or (2.0**attempt if announced is None else announced)
                if attempt == self.max_retries or wait > self.max_wait:
                    raise UpstreamError("Linear's rate limit is exhausted; try again later", status=429)
                self.sleep(wait)
                self.budget = None  # waited for the reset already: no pacing on top of it
                continue
            if answer.status_code >= 500:
                if attempt == self.max_retries:
                    raise UpstreamError(f"Linear answered {answer.status_code}", status=answer.status_code)
                self.sleep(min(2.0**attempt, self.max_wait))
                continue
            if errors or answer.status_code >= 400:
                code = next((c for c in codes if c), None) or f"HTTP {answer.status_code}"
                message = errors[0].get("message") if errors and isinstance(errors[0], dict) else None
                raise UpstreamError(
                    f"Linear refused the query ({code}): {str(message or '')[:200]}",
                    status=answer.status_code,
                )
            data = body.get("data")
            if not isinstance(data, dict):
                raise UpstreamError("Linear's answer has no data")
            return data
        raise UpstreamError("Linear could not be reached")  # pragma: no cover - the loop returns or raises

    def create_webhook(self, url: str, secret: str, label: str = "Lightfast") -> str:
        """Register a webhook for every public team (``webhookCreate``) signed with ``secret``; its id."""
        data = self.query(
            "mutation WebhookCreate($input: WebhookCreateInput!) { webhookCreate(input: $input) "
            "{ success webhook { id enabled } } }",
            {
                "input": {
                    "url": url,
                    "label": label,
                    "secret": secret,
                    "allPublicTeams": True,
                    "resourceTypes": ["Issue", "Comment", "Project"],
                }
            },
        )
        created = data.get("webhookCreate")
        webhook = created.get("webhook") if isinstance(created, dict) else None
        if not isinstance(created, dict) or not created.get("success") or not isinstance(webhook, dict):
            raise UpstreamError("Linear did not create the webhook")
        return str(webhook["id"])

    def page(self, connection: str, after: str | None) -> Page:
        data = self.query(page_query(connection), {"first": self.page_size, "after": after})
        found = data.get(connection)
        if not isinstance(found, dict) or not isinstance(found.get("nodes"), list):
            raise UpstreamError(f"Linear's answer has no {connection}")
        given = found.get("pageInfo")
        info: dict[str, Any] = given if isinstance(given, dict) else {}
        nodes = [n for n in found["nodes"] if isinstance(n, dict) and isinstance(n.get("id"), str)]
        cursor = info.get("endCursor") if isinstance(info.get("endCursor"), str) else None
        return Page(nodes, cursor, bool(info.get("hasNextPage")) and cursor is not None)

    def pages(self, connection: str, after: str | None = None) -> Iterator[Page]:
        while True:
            page = self.page(connection, after)
            yield page
            if not page.has_next:
                return
            after = page.end_cursor


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        value = answer.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _code(error: Any) -> str | None:
    if not isinstance(error, dict):
        return None
    extensions = error.get("extensions")
    code = extensions.get("code") if isinstance(extensions, dict) else None
    return code if isinstance(code, str) else None
