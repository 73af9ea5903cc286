"""The dashboard's figures (seed 003's workspace router): statistics of a period compared with the one
before it, job duration percentiles, hourly time series and the health tree. The API
(``/v1/workspace/...``) and the console's dashboard both call this service, so they show the same
numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.clock import Clock
from lightfast.db import insights as repo
from lightfast.db.statuses import SUCCEEDED, JobStatus
from lightfast.errors import InvalidInput
from lightfast.insights import health as rules
from lightfast.insights.buckets import HOUR, fill_hours, hours_ending_at
from lightfast.insights.periods import PERIOD_NAMES, PERIODS, Comparison, Window, compare, windows

#: Job outcomes over this window decide health (seed 003: the last 24 hours).
HEALTH_WINDOW = timedelta(hours=24)
#: The metric whose hourly roll-up gives query count and latency (one row per search, value in ms).
QUERY_LATENCY = "query_latency"


@dataclass(frozen=True)
class StoreFigures:
    id: str
    name: str
    documents: int
    chunks: int


@dataclass(frozen=True)
class Statistics:
    period: str
    current: Window
    previous: Window
    # Counts as of now against as of the start of the period (what existed then, removals aside).
    sources: Comparison
    sources_by_type: dict[str, int]
    stores: list[StoreFigures]
    documents: Comparison
    chunks: Comparison
    # Jobs created in each window.
    jobs: Comparison
    jobs_by_status: dict[str, int]
    success_rate: Comparison  # succeeded / (succeeded + failed); cancelled jobs left out
    average_duration_ms: Comparison  # of the succeeded jobs


@dataclass(frozen=True)
class Percentiles:
    range: str
    count: int  # succeeded jobs with a duration in the range
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass(frozen=True)
class HourPoint:
    hour: datetime  # the bucket holds hour <= t < hour + 1 h, UTC
    jobs: int
    succeeded: int
    failed: int
    average_duration_ms: float | None
    success_rate: float | None
    query_count: int
    query_latency_avg_ms: float | None
    query_latency_max_ms: float | None


@dataclass(frozen=True)
class TimeSeries:
    range: str
    start: datetime
    end: datetime  # exclusive: the end of the current hour
    points: list[HourPoint]


def check_period(value: str, field: str) -> str:
    if value not in PERIODS:
        raise InvalidInput(f"must be one of {', '.join(PERIOD_NAMES)}", field=field)
    return value


def _rate(succeeded: int, failed: int) -> float | None:
    finished = succeeded + failed
    return round(succeeded / finished, 4) if finished else None


def _average(total: float, count: int) -> float | None:
    return round(total / count, 1) if count else None


class InsightService:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    def statistics(self, workspace_id: str, period: str = "24h") -> Statistics:
        current, previous = windows(check_period(period, "period"), self.clock.now())
        with self.sessions() as session:
            sources = repo.sources(session, workspace_id)
            stores = repo.store_counts(session, workspace_id, current.start)
            now_jobs = repo.job_counts(session, workspace_id, current.start, current.end)
            before_jobs = repo.job_counts(session, workspace_id, previous.start, previous.end)
        by_type: dict[str, int] = {}
        for source in sources:
            by_type[source.type] = by_type.get(source.type, 0) + 1
        return Statistics(
            period=period,
            current=current,
            previous=previous,
            sources=compare(len(sources), sum(1 for s in sources if s.connected_at < current.start)),
            sources_by_type=dict(sorted(by_type.items())),
            stores=[StoreFigures(s.id, s.name, s.documents, s.chunks) for s in stores],
            documents=compare(sum(s.documents for s in stores), sum(s.documents_before for s in stores)),
            chunks=compare(sum(s.chunks for s in stores), sum(s.chunks_before for s in stores)),
            jobs=compare(now_jobs.total, before_jobs.total),
            jobs_by_status=dict(sorted(now_jobs.by_status.items())),
            success_rate=compare(
                _rate(now_jobs.succeeded, now_jobs.failed), _rate(before_jobs.succeeded, before_jobs.failed)
            ),
            average_duration_ms=compare(
                _average(now_jobs.duration_sum_ms, now_jobs.duration_count),
                _average(before_jobs.duration_sum_ms, before_jobs.duration_count),
            ),
        )

    def percentiles(self, workspace_id: str, range: str = "24h") -> Percentiles:
        """Nearest-rank p50, p95, p99 and the maximum of the durations of the succeeded jobs created in
        the range (``completed`` and ``completed_with_errors``)."""
        window, _ = windows(check_period(range, "range"), self.clock.now())
        with self.sessions() as session:
            found = repo.duration_percentiles(session, workspace_id, window.start, window.end, (50, 95, 99))
        if not found.count:
            return Percentiles(range, 0, None, None, None, None)
        p50, p95, p99 = found.values
        return Percentiles(range, found.count, p50, p95, p99, found.maximum)

    def timeseries(self, workspace_id: str, range: str = "24h") -> TimeSeries:
        """One point per UTC hour of the range, the current (partial) hour last, empty hours included."""
        length = PERIODS[check_period(range, "range")]
        hours = hours_ending_at(self.clock.now(), int(length / HOUR))
        start, end = hours[0], hours[-1] + HOUR
        with self.sessions() as session:
            job_rows = {row.hour: row for row in repo.job_hours(session, workspace_id, start, end)}
            query_rows = {
                row.hour: row for row in repo.metric_hours(session, workspace_id, QUERY_LATENCY, start, end)
            }
        empty_jobs = repo.JobHour(start, 0, 0, 0, 0.0, 0)
        empty_queries = repo.MetricHour(start, 0, 0.0, 0.0)
        points = [
            HourPoint(
                hour=hour,
                jobs=jobs.total,
                succeeded=jobs.succeeded,
                failed=jobs.failed,
                average_duration_ms=_average(jobs.duration_sum_ms, jobs.duration_count),
                success_rate=_rate(jobs.succeeded, jobs.failed),
                query_count=queries.count,
                query_latency_avg_ms=_average(queries.total, queries.count),
                query_latency_max_ms=round(queries.maximum, 1) if queries.count else None,
            )
            for hour, jobs, queries in zip(
                hours,
                fill_hours(hours, job_rows, lambda: empty_jobs),
                fill_hours(hours, query_rows, lambda: empty_queries),
                strict=True,
            )
        ]
        return TimeSeries(range, start, end, points)

    def health(self, workspace_id: str) -> rules.HealthNode:
        """The tree workspace -> stores -> sources, each judged on the jobs created in the last 24 hours;
        a source whose configuration is in error is degraded whatever its jobs say. Sources linked to no
        store hang under the workspace."""
        now = self.clock.now()
        start = now - HEALTH_WINDOW
        with self.sessions() as session:
            sources = repo.sources(session, workspace_id)
            stores = repo.store_counts(session, workspace_id, now)
            by_store = repo.outcomes_by(session, workspace_id, "store_id", start, now)
            by_source = repo.outcomes_by(session, workspace_id, "source_id", start, now)
            everything = repo.job_counts(session, workspace_id, start, now)
            name = repo.workspace_name(session, workspace_id)

        def source_node(source: repo.SourceRow) -> rules.HealthNode:
            outcome = by_source.get(source.id, repo.Outcomes())
            problem = None
            if source.config_status == "error":
                problem = f"configuration error: {source.config_message or 'lightfast.yml is not valid'}"
            return rules.node(
                "source", source.id, source.name, outcome.succeeded, outcome.failed, problem=problem
            )

        store_nodes = []
        for store in stores:
            linked = tuple(source_node(s) for s in sources if store.id in s.store_ids)
            outcome = by_store.get(store.id, repo.Outcomes())
            store_nodes.append(
                rules.node("store", store.id, store.name, outcome.succeeded, outcome.failed, linked)
            )
        unlinked = tuple(source_node(s) for s in sources if not s.store_ids)
        succeeded = sum(everything.by_status.get(s, 0) for s in SUCCEEDED)
        failed = everything.by_status.get(JobStatus.FAILED, 0)
        return rules.node("workspace", workspace_id, name, succeeded, failed, (*store_nodes, *unlinked))
