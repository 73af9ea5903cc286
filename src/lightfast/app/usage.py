"""Usage records: a metric per API call and per search, and searches by API key on the timeline. Changes
are on the timeline too, recorded by the services that make them (with what changed), not here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from lightfast.db import activities, metrics


@dataclass(frozen=True)
class ApiCall:
    """One answered API request, as the HTTP layer saw it."""

    workspace_id: str
    key_id: str | None
    method: str
    endpoint: str  # the route's path template, e.g. /v1/jobs/{id}
    status: int
    elapsed_ms: float
    request_id: str
    address: str
    entity_id: str | None
    search: SearchUsage | None = None  # what a search request measured, recorded with the call


@dataclass(frozen=True)
class SearchUsage:
    latency_ms: float  # the search service's own latency (retrieval, fusion, snippets), not the HTTP total
    mode: str


class UsageService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def record_api_call(self, call: ApiCall) -> None:
        """The call's metric, and a search's, in one transaction: a search over HTTP costs one write, not
        two (each waits for SQLite's one writer, which concurrent searches queue for)."""
        with self.sessions.begin() as session:
            if call.search is not None:
                self._record_search(session, call.workspace_id, call.search.latency_ms, call.search.mode)
            metrics.record_metric(
                session,
                workspace_id=call.workspace_id,
                type="api_calls",
                value=1,
                tags={
                    "endpoint": call.endpoint,
                    "method": call.method,
                    "status": call.status,
                    "key": call.key_id,
                    "ms": round(call.elapsed_ms, 2),
                },
            )
            if call.key_id and call.endpoint == "/v1/search" and call.status < 400:
                # Searches by API key are on the timeline (seed 003): which key, when, how fast; never
                # the query's text, which may hold what people would not want logged.
                activities.record_activity(
                    session,
                    workspace_id=call.workspace_id,
                    actor_type="api_key",
                    actor_id=call.key_id,
                    category="search",
                    action="search",
                    entity_type="search",
                    entity_id=call.request_id,
                    details={"status": call.status, "ms": round(call.elapsed_ms, 2)},
                    address=call.address,
                )

    def record_search(self, workspace_id: str, latency_ms: float, mode: str) -> None:
        with self.sessions.begin() as session:
            self._record_search(session, workspace_id, latency_ms, mode)

    @staticmethod
    def _record_search(session: Session, workspace_id: str, latency_ms: float, mode: str) -> None:
        metrics.record_metric(
            session,
            workspace_id=workspace_id,
            type="query_latency",
            value=latency_ms,
            unit="ms",
            tags={"mode": mode},
        )
        metrics.record_metric(
            session, workspace_id=workspace_id, type="queries_count", value=1, tags={"mode": mode}
        )
