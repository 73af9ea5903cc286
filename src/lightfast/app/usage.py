"""Usage records: a metric per API call and per search, and searches by API key on the timeline. Changes
are on the timeline too, recorded by the services that make them (with what changed), not here."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class _Search:
    """A search made outside the API (the console, the CLI, MCP): its metrics alone."""

    workspace_id: str
    usage: SearchUsage


@dataclass(eq=False)
class _Ticket:
    record: ApiCall | _Search
    written: bool = False
    error: BaseException | None = None


@dataclass
class _GroupCommit:
    """Records waiting for the transaction that writes them, and whether one is being written."""

    queue: list[_Ticket] = field(default_factory=list)
    writing: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition)


class UsageService:
    """Writes usage records with group commit: a caller whose record arrives while another transaction
    is being written waits for it, then writes every record that queued meanwhile in one transaction.

    Every search writes usage, and SQLite has one writer. Left to SQLite, concurrent callers wait in its
    busy handler, which sleeps 1, 2, 5, 10... ms between tries whatever the holder does: with 8 clients a
    search spent most of its time there (py-spy, ``bench/results/search_latency.md``). Here the next
    batch starts the moment the last one commits, and a batch costs one commit however many records it
    holds. Each call still returns only once its record is committed (or raises what writing it raised),
    so nothing is held in memory that a crash could lose."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._group = _GroupCommit()
        self.batches = 0  # transactions written (tests, benchmarks)

    def record_api_call(self, call: ApiCall) -> None:
        """The call's metric, a search's metrics and a keyed search's timeline entry."""
        self._commit(_Ticket(call))

    def record_search(self, workspace_id: str, latency_ms: float, mode: str) -> None:
        self._commit(_Ticket(_Search(workspace_id, SearchUsage(latency_ms, mode))))

    def _commit(self, ticket: _Ticket) -> None:
        group = self._group
        batch: list[_Ticket] = []
        with group.changed:
            group.queue.append(ticket)
            while group.writing and not ticket.written:
                group.changed.wait()
            if not ticket.written:  # nobody is writing: this caller writes everything that has queued
                batch, group.queue, group.writing = group.queue, [], True
        if batch:
            error: BaseException | None = None
            try:
                with self.sessions.begin() as session:
                    self._write(session, [queued.record for queued in batch])
                self.batches += 1
            except BaseException as exc:  # every caller of the batch learns that it failed
                error = exc
            with group.changed:
                for queued in batch:
                    queued.written, queued.error = True, error
                group.writing = False
                group.changed.notify_all()
        if ticket.error is not None:
            raise ticket.error

    @staticmethod
    def _write(session: Session, records: list[ApiCall | _Search]) -> None:
        measurements: list[metrics.Measurement] = []
        for record in records:
            search = record.usage if isinstance(record, _Search) else record.search
            if search is not None:
                measurements += _search_measurements(record.workspace_id, search)
            if isinstance(record, _Search):
                continue
            call = record
            tags = {
                "endpoint": call.endpoint,
                "method": call.method,
                "status": call.status,
                "key": call.key_id,
                "ms": round(call.elapsed_ms, 2),
            }
            measurements.append(metrics.Measurement(call.workspace_id, "api_calls", 1, tags=tags))
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
        metrics.record_measurements(session, measurements)


def _search_measurements(workspace_id: str, search: SearchUsage) -> list[metrics.Measurement]:
    tags = {"mode": search.mode}
    return [
        metrics.Measurement(workspace_id, "query_latency", search.latency_ms, unit="ms", tags=tags),
        metrics.Measurement(workspace_id, "queries_count", 1, tags=tags),
    ]
