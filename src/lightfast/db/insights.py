"""The dashboard's aggregate queries (seed 003's workspace router): jobs by window and status, durations
of completed jobs, hourly job and query series, sources by type, stores with their document and chunk
counts, job outcomes per store and source. Each returns plain tuples and dataclasses; the statistics are
computed from them in ``lightfast.insights``.

Jobs are read through ``ix_jobs_workspace_created_status_duration`` (every column these queries use);
metrics through ``metric_hourly``, the per-hour roll-up ``roll_up_metrics`` keeps in step on write."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, bindparam, case, func, literal_column, select, text
from sqlalchemy.orm import Session

from lightfast.db.models import ConnectedSource, Document, Job, MetricHourly, Store, StoreSource, Workspace
from lightfast.db.statuses import SUCCEEDED, JobStatus
from lightfast.db.types import UtcDateTime
from lightfast.insights.percentiles import nearest_rank_percentiles


@dataclass(frozen=True)
class JobCounts:
    """Jobs created in a window: how many, by status, and the durations of the succeeded ones."""

    total: int
    by_status: dict[str, int]
    duration_sum_ms: float
    duration_count: int

    @property
    def succeeded(self) -> int:
        return sum(self.by_status.get(s, 0) for s in SUCCEEDED)

    @property
    def failed(self) -> int:
        return self.by_status.get(JobStatus.FAILED, 0)


@dataclass(frozen=True)
class JobHour:
    hour: datetime
    total: int
    succeeded: int
    failed: int
    duration_sum_ms: float
    duration_count: int


@dataclass(frozen=True)
class MetricHour:
    hour: datetime
    count: int
    total: float
    maximum: float


@dataclass(frozen=True)
class StoreCounts:
    id: str
    name: str
    documents: int
    chunks: int
    documents_before: int  # created before the given moment
    chunks_before: int


@dataclass(frozen=True)
class SourceRow:
    id: str
    name: str
    type: str
    config_status: str
    config_message: str | None
    connected_at: datetime
    store_ids: tuple[str, ...]


@dataclass(frozen=True)
class Outcomes:
    """Finished jobs of a store or source: succeeded and failed."""

    succeeded: int = 0
    failed: int = 0


def _succeeded(column: SQLColumnExpression[str]) -> ColumnElement[bool]:
    return column.in_([str(s) for s in SUCCEEDED])


def job_counts(session: Session, workspace_id: str, start: datetime, end: datetime) -> JobCounts:
    """Jobs created in ``start <= created_at < end``, by status, with the durations of succeeded ones."""
    rows = session.execute(
        select(
            Job.status,
            func.count(),
            func.sum(case((_succeeded(Job.status), Job.duration_ms))),
            func.count(case((_succeeded(Job.status), Job.duration_ms))),
        )
        .where(Job.workspace_id == workspace_id, Job.created_at >= start, Job.created_at < end)
        .group_by(Job.status)
    ).all()
    by_status = {str(status): int(n) for status, n, _, _ in rows}
    return JobCounts(
        total=sum(by_status.values()),
        by_status=by_status,
        duration_sum_ms=float(sum(s or 0 for _, _, s, _ in rows)),
        duration_count=int(sum(c or 0 for _, _, _, c in rows)),
    )


@dataclass(frozen=True)
class DurationPercentiles:
    count: int
    values: tuple[float, ...]  # one per asked percentile, in order; empty without durations
    maximum: float | None


def duration_percentiles(
    session: Session, workspace_id: str, start: datetime, end: datetime, ps: Sequence[float]
) -> DurationPercentiles:
    """Nearest-rank percentiles ``ps`` (0 < p <= 100) and the maximum of the durations (ms) of the
    succeeded jobs created in ``start <= created_at < end``.

    PostgreSQL computes them itself: ``percentile_disc`` is the nearest rank (the first value whose
    cumulative share reaches the fraction). SQLite has no such aggregate; the durations are read through
    the driver's own cursor (a 30-day range can hold a hundred thousand jobs, and building a SQLAlchemy
    row for each took longer than the query: 120 ms against about 30 ms at 93,000 durations, see
    bench/results/dashboard.md) and ranked by ``nearest_rank_percentiles``."""
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    where = (
        f"FROM jobs WHERE workspace_id = {mark} AND created_at >= {mark} AND created_at < {mark} "
        f"AND status IN ({', '.join(mark for _ in SUCCEEDED)}) AND duration_ms IS NOT NULL"
    )
    params: tuple[Any, ...] = (
        workspace_id,
        _stored_time(start, postgres),
        _stored_time(end, postgres),
        *map(str, SUCCEEDED),
    )
    cursor = connection.connection.cursor()
    try:
        if postgres:
            cursor.execute(
                "SELECT count(*), percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY duration_ms), "
                f"max(duration_ms) {where}",
                ([p / 100 for p in ps], *params),
            )
            row: tuple[int, list[int], int] | None = cursor.fetchone()
            if row is None or not row[0]:
                return DurationPercentiles(0, (), None)
            return DurationPercentiles(int(row[0]), tuple(float(v) for v in row[1]), float(row[2]))
        cursor.execute(f"SELECT duration_ms {where}", params)
        durations = [float(value) for (value,) in cursor.fetchall()]
    finally:
        cursor.close()
    if not durations:
        return DurationPercentiles(0, (), None)
    return DurationPercentiles(len(durations), tuple(nearest_rank_percentiles(durations, ps)), max(durations))


def _stored_time(moment: datetime, postgres: bool) -> datetime | str:
    """A bound as the column stores it (what UtcDateTime does for SQLAlchemy statements): aware on
    PostgreSQL, naive UTC text on SQLite."""
    utc = moment.astimezone(UTC)
    return utc if postgres else utc.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _hour_key(session: Session, column: SQLColumnExpression[datetime]) -> ColumnElement[Any]:
    """The UTC hour of a timestamp column: a timestamp on PostgreSQL (``date_trunc`` is much cheaper per
    row than formatting text), ``YYYY-MM-DD HH`` text on SQLite, which stores naive UTC as text."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", func.timezone("UTC", column))
    return func.substr(column, 1, 13)


def _parse_hour(key: str | datetime) -> datetime:
    if isinstance(key, datetime):  # PostgreSQL: a naive timestamp in UTC
        return key.replace(tzinfo=UTC)
    return datetime.strptime(key, "%Y-%m-%d %H").replace(tzinfo=UTC)


def job_hours(session: Session, workspace_id: str, start: datetime, end: datetime) -> list[JobHour]:
    """Jobs created in ``start <= created_at < end`` grouped by UTC hour (only hours that have jobs)."""
    hour = _hour_key(session, Job.created_at).label("hour")
    rows = session.execute(
        select(
            hour,
            func.count(),
            func.count(case((_succeeded(Job.status), 1))),
            func.count(case((Job.status == JobStatus.FAILED, 1))),
            func.sum(case((_succeeded(Job.status), Job.duration_ms))),
            func.count(case((_succeeded(Job.status), Job.duration_ms))),
        )
        .where(Job.workspace_id == workspace_id, Job.created_at >= start, Job.created_at < end)
        .group_by(literal_column("hour"))
    ).all()
    return [
        JobHour(_parse_hour(key), int(n), int(ok), int(bad), float(total or 0), int(timed))
        for key, n, ok, bad, total, timed in rows
    ]


def metric_hours(
    session: Session, workspace_id: str, type: str, start: datetime, end: datetime
) -> list[MetricHour]:
    """The hourly roll-up of one metric type for the hours starting in ``start <= hour < end``."""
    rows = session.execute(
        select(MetricHourly.hour, MetricHourly.count, MetricHourly.total, MetricHourly.maximum).where(
            MetricHourly.workspace_id == workspace_id,
            MetricHourly.type == type,
            MetricHourly.hour >= start,
            MetricHourly.hour < end,
        )
    ).all()
    return [MetricHour(h, int(c), float(t), float(m)) for h, c, t, m in rows]


@dataclass(frozen=True)
class HourlySums:
    """Measurements of one workspace, type and hour: how many, their sum and their largest value."""

    workspace_id: str
    type: str
    hour: datetime
    count: int
    total: float
    maximum: float


# The same statement on both databases. Written as text, not built per call: building the upsert (its
# ``excluded`` columns above all) cost more than running it, on every search (py-spy).
_ROLL_UP = text(
    "INSERT INTO metric_hourly (workspace_id, type, hour, count, total, maximum) "
    "VALUES (:workspace_id, :type, :hour, :count, :total, :maximum) "
    "ON CONFLICT (workspace_id, type, hour) DO UPDATE SET "
    "count = metric_hourly.count + excluded.count, total = metric_hourly.total + excluded.total, "
    "maximum = CASE WHEN excluded.maximum > metric_hourly.maximum THEN excluded.maximum "
    "ELSE metric_hourly.maximum END"
).bindparams(bindparam("hour", type_=UtcDateTime()))


def roll_up_metrics(session: Session, sums: Sequence[HourlySums]) -> None:
    """Add each group of measurements to its hour's row, in one statement: a batch costs one upsert per
    workspace, type and hour, not one per measurement."""
    if sums:
        # A fixed order: two transactions adding to the same rows lock them in the same order.
        ordered = sorted(sums, key=lambda s: (s.workspace_id, s.type, s.hour))
        session.execute(_ROLL_UP, [vars(s) for s in ordered])


def store_counts(session: Session, workspace_id: str, before: datetime) -> list[StoreCounts]:
    """Every store of the workspace with its documents and chunks, now and counting only the documents
    created before ``before`` (what was there at the start of a period, deletions aside)."""
    older = Document.created_at < before
    rows = session.execute(
        select(
            Store.id,
            Store.name,
            func.count(Document.id),
            func.coalesce(func.sum(Document.chunk_count), 0),
            func.count(case((older, 1))),
            func.coalesce(func.sum(case((older, Document.chunk_count), else_=0)), 0),
        )
        .select_from(Store)
        .outerjoin(Document, Document.store_id == Store.id)
        .where(Store.workspace_id == workspace_id)
        .group_by(Store.id, Store.name)
        .order_by(Store.name)
    ).all()
    return [StoreCounts(i, n, int(d), int(c), int(db), int(cb)) for i, n, d, c, db, cb in rows]


def sources(session: Session, workspace_id: str) -> list[SourceRow]:
    """The workspace's connected sources (disconnections in progress left out) with their stores."""
    found = session.execute(
        select(
            ConnectedSource.id,
            ConnectedSource.display_name,
            ConnectedSource.source_type,
            ConnectedSource.config_status,
            ConnectedSource.config_message,
            ConnectedSource.connected_at,
        )
        .where(ConnectedSource.workspace_id == workspace_id, ConnectedSource.disconnected_at.is_(None))
        .order_by(ConnectedSource.display_name, ConnectedSource.id)
    ).all()
    ids = [row[0] for row in found]
    links: dict[str, list[str]] = {}
    if ids:
        for source_id, store_id in session.execute(
            select(StoreSource.source_id, StoreSource.store_id).where(StoreSource.source_id.in_(ids))
        ):
            links.setdefault(source_id, []).append(store_id)
    return [
        SourceRow(i, name, kind, status, message, connected, tuple(sorted(links.get(i, ()))))
        for i, name, kind, status, message, connected in found
    ]


def outcomes_by(
    session: Session, workspace_id: str, column: str, start: datetime, end: datetime
) -> dict[str, Outcomes]:
    """Succeeded and failed jobs created in the window, per ``store_id`` or ``source_id``."""
    key = {"store_id": Job.store_id, "source_id": Job.source_id}[column]
    rows = session.execute(
        select(
            key,
            func.count(case((_succeeded(Job.status), 1))),
            func.count(case((Job.status == JobStatus.FAILED, 1))),
        )
        .where(
            Job.workspace_id == workspace_id,
            Job.created_at >= start,
            Job.created_at < end,
            key.is_not(None),
        )
        .group_by(key)
    ).all()
    return {str(k): Outcomes(int(ok), int(bad)) for k, ok, bad in rows}


def workspace_name(session: Session, workspace_id: str) -> str:
    return session.scalar(select(Workspace.name).where(Workspace.id == workspace_id)) or workspace_id
