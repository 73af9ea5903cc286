"""The dashboard's /v1 routes (seed 003's workspace router): statistics with the previous period,
job duration percentiles, hourly time series and the health tree of the caller's workspace."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from lightfast.api.deps import principal, services_of
from lightfast.api.routes import ERRORS, known_query
from lightfast.app.container import Services
from lightfast.app.keys import Principal
from lightfast.app.schemas.insights import (
    HealthNodeOut,
    PercentilesOut,
    Period,
    StatisticsOut,
    TimeSeriesOut,
)

router = APIRouter(
    prefix="/v1/workspace", tags=["workspace"], responses=ERRORS, dependencies=[Depends(known_query)]
)
Caller = Depends(principal)
Svc = Depends(services_of)


@router.get("/statistics")
def statistics(
    period: Period = Query(default="24h", description="The period, compared with the one before it."),
    who: Principal = Caller,
    svc: Services = Svc,
) -> StatisticsOut:
    """Sources (by type), stores with documents and chunks, jobs, success rate and average duration, each
    with its value in the previous period and the change in percent."""
    return StatisticsOut.from_statistics(svc.insights.statistics(who.workspace_id, period))


@router.get("/jobs/percentiles")
def job_percentiles(
    range: Period = Query(default="24h"), who: Principal = Caller, svc: Services = Svc
) -> PercentilesOut:
    """Nearest-rank p50, p95, p99 and maximum duration of the completed jobs created in the range."""
    return PercentilesOut.from_percentiles(svc.insights.percentiles(who.workspace_id, range))


@router.get("/timeseries")
def timeseries(
    range: Period = Query(default="24h"), who: Principal = Caller, svc: Services = Svc
) -> TimeSeriesOut:
    """One point per UTC hour (empty hours included): jobs, average duration, success rate, query count
    and latency (average and maximum)."""
    return TimeSeriesOut.from_series(svc.insights.timeseries(who.workspace_id, range))


@router.get("/health")
def workspace_health(who: Principal = Caller, svc: Services = Svc) -> HealthNodeOut:
    """The tree workspace -> stores -> sources: healthy at a job success rate of 95 % or more over the
    last 24 hours, degraded at 80 % or more, else down (unknown without finished jobs), with the reason
    of each node that is not healthy."""
    return HealthNodeOut.from_node(svc.insights.health(who.workspace_id))
