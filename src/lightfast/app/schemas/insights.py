"""The dashboard's wire shapes: ``/v1/workspace/statistics``, ``/v1/workspace/jobs/percentiles``,
``/v1/workspace/timeseries`` and ``/v1/workspace/health``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lightfast.app.insights import HourPoint, Percentiles, Statistics, TimeSeries
from lightfast.app.schemas.common import Out, Timestamp
from lightfast.insights.health import HealthNode
from lightfast.insights.periods import Comparison

Period = Literal["24h", "7d", "30d"]


class ComparisonOut(Out):
    current: float | None
    previous: float | None
    change_percent: float | None = Field(
        description="(current - previous) / |previous| * 100, one decimal; 0 when both are 0; null when "
        "the previous value is 0 and the current is not, or either is unknown."
    )

    @classmethod
    def of(cls, value: Comparison) -> ComparisonOut:
        return cls(current=value.current, previous=value.previous, change_percent=value.change_percent)


class WindowOut(Out):
    start: Timestamp = Field(description="Inclusive.")
    end: Timestamp = Field(description="Exclusive.")


class StoreFiguresOut(Out):
    id: str
    name: str
    documents: int
    chunks: int


class StatisticsOut(Out):
    period: Period
    current: WindowOut
    previous: WindowOut
    sources: ComparisonOut = Field(description="Connected sources now, against those connected before.")
    sources_by_type: dict[str, int]
    stores: list[StoreFiguresOut]
    documents: ComparisonOut
    chunks: ComparisonOut
    jobs: ComparisonOut = Field(description="Jobs created in the period and in the one before.")
    jobs_by_status: dict[str, int]
    success_rate: ComparisonOut = Field(description="Succeeded / (succeeded + failed), 0 to 1.")
    average_duration_ms: ComparisonOut

    @classmethod
    def from_statistics(cls, s: Statistics) -> StatisticsOut:
        return cls(
            period=s.period,
            current=WindowOut(start=s.current.start, end=s.current.end),
            previous=WindowOut(start=s.previous.start, end=s.previous.end),
            sources=ComparisonOut.of(s.sources),
            sources_by_type=s.sources_by_type,
            stores=[StoreFiguresOut.model_validate(store) for store in s.stores],
            documents=ComparisonOut.of(s.documents),
            chunks=ComparisonOut.of(s.chunks),
            jobs=ComparisonOut.of(s.jobs),
            jobs_by_status=s.jobs_by_status,
            success_rate=ComparisonOut.of(s.success_rate),
            average_duration_ms=ComparisonOut.of(s.average_duration_ms),
        )


class PercentilesOut(Out):
    range: Period
    count: int = Field(description="Succeeded jobs with a duration, created in the range.")
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @classmethod
    def from_percentiles(cls, p: Percentiles) -> PercentilesOut:
        return cls.model_validate(p)


class HourPointOut(Out):
    hour: Timestamp = Field(description="Start of the UTC hour; the bucket holds hour <= t < hour + 1 h.")
    jobs: int
    succeeded: int
    failed: int
    average_duration_ms: float | None
    success_rate: float | None
    query_count: int
    query_latency_avg_ms: float | None
    query_latency_max_ms: float | None


class TimeSeriesOut(Out):
    range: Period
    start: Timestamp
    end: Timestamp
    points: list[HourPointOut]

    @classmethod
    def from_series(cls, series: TimeSeries) -> TimeSeriesOut:
        return cls(
            range=series.range,
            start=series.start,
            end=series.end,
            points=[_point(p) for p in series.points],
        )


def _point(point: HourPoint) -> HourPointOut:
    return HourPointOut.model_validate(point)


class HealthNodeOut(Out):
    kind: Literal["workspace", "store", "source"]
    id: str
    name: str
    status: Literal["healthy", "unknown", "degraded", "down"]
    reason: str | None = Field(description="Why the node is not healthy; null when it is.")
    success_rate: float | None
    succeeded: int
    failed: int
    children: list[HealthNodeOut]

    @classmethod
    def from_node(cls, node: HealthNode) -> HealthNodeOut:
        return cls(
            kind=node.kind,
            id=node.id,
            name=node.name,
            status=node.status.value,
            reason=node.reason,
            success_rate=None if node.success_rate is None else round(node.success_rate, 4),
            succeeded=node.succeeded,
            failed=node.failed,
            children=[cls.from_node(child) for child in node.children],
        )
