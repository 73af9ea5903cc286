"""The dashboard (seed 003's workspace router): statistics with their change against the previous period,
job duration percentiles, hourly charts with table fallbacks, and the health tree. It reads the same
InsightService as ``/v1/workspace/...``, so the page and the API show the same numbers. Rendered on the
server; the charts are drawn by uPlot (vendored) over the data the tables already show."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from lightfast.app.container import Services
from lightfast.app.insights import TimeSeries
from lightfast.console.templating import render
from lightfast.console.viewer import Viewer, services_of, viewer
from lightfast.insights.periods import PERIOD_NAMES

router = APIRouter(include_in_schema=False)

PERIOD_LABELS = {"24h": "24 hours", "7d": "7 days", "30d": "30 days"}


def chart_data(series: TimeSeries) -> dict[str, list[Any]]:
    """The series as uPlot reads it: x in Unix seconds, one list per measure (None draws a gap)."""
    points = series.points
    return {
        "x": [int(p.hour.timestamp()) for p in points],
        "jobs": [p.jobs for p in points],
        "duration": [p.average_duration_ms for p in points],
        "success": [None if p.success_rate is None else round(p.success_rate * 100, 2) for p in points],
        "latency": [p.query_latency_avg_ms for p in points],
        "queries": [p.query_count for p in points],
    }


def _figures(services: Services, workspace_id: str, period: str) -> dict[str, Any]:
    insights = services.insights
    series = insights.timeseries(workspace_id, period)
    return {
        "stats": insights.statistics(workspace_id, period),
        "percentiles": [insights.percentiles(workspace_id, name) for name in PERIOD_NAMES],
        "series": series,
        "chart": chart_data(series),
        "health": insights.health(workspace_id),
    }


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(
    request: Request,
    who: Annotated[Viewer, Depends(viewer)],
    period: Annotated[str, Query(max_length=8)] = "24h",
) -> HTMLResponse:
    error: str | None = None
    status = 200
    if period not in PERIOD_NAMES:
        error = f"period: must be one of {', '.join(PERIOD_NAMES)}"
        period, status = "24h", 400
    figures = await run_in_threadpool(_figures, services_of(request), who.workspace_id, period)
    return render(
        request,
        "dashboard.html",
        who,
        status_code=status,
        period=period,
        periods=PERIOD_NAMES,
        period_labels=PERIOD_LABELS,
        error=error,
        **figures,
    )
