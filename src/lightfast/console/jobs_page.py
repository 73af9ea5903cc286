"""The Jobs tab (seed 002) and a job's details: running jobs with their progress, queued jobs with why
they wait, recent ones with their outcome; cancel and retry; the live feed (SSE, with a JSON polling
fallback) that moves the bars without a reload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from lightfast.app import live
from lightfast.app.jobs import JobDetail
from lightfast.console.templating import render
from lightfast.console.viewer import Viewer, check_csrf, services_of, viewer
from lightfast.db.statuses import ACTIVE
from lightfast.errors import Conflict, LightfastError, NotFound

router = APIRouter(include_in_schema=False)
STREAM_SECONDS = 600  # a console's stream ends now and then; EventSource reconnects by itself
JOB_ID_MAX = 191


def load_board(request: Request, who: Viewer) -> live.JobBoard:
    services = services_of(request)
    return services.live.board(who.workspace_id, services.settings.workspace_concurrency)


@router.get("/console/jobs", response_class=HTMLResponse)
async def jobs_partial(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> HTMLResponse:
    """The Jobs tab alone, for the page's script to swap in when a job changes section."""
    board = await run_in_threadpool(load_board, request, who)
    return render(request, "jobs.html", who, board=board)


@router.get("/console/jobs/state")
async def jobs_state(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> JSONResponse:
    """The polling fallback of the live feed: every job the tab shows, as the feed sends them."""
    board = await run_in_threadpool(load_board, request, who)
    now = services_of(request).clock.now()
    jobs = [*board.running, *(q.job for q in board.queued), *board.recent]
    return JSONResponse(
        {"running": len(board.running), "jobs": [live.job_data(job, now) for job in jobs]},
        headers={"Cache-Control": "no-store"},
    )


@router.get("/console/events")
async def console_events(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> EventSourceResponse:
    services = services_of(request)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        async for event in live.stream(
            services.live,
            who.workspace_id,
            last_event_id=request.headers.get("last-event-id"),
            seconds=STREAM_SECONDS,
            disconnected=request.is_disconnected,
        ):
            yield ServerSentEvent(data=event.encoded, event=event.kind, id=event.id)

    return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store"})


def waterfall(detail: JobDetail) -> dict[str, Any]:
    """The details page's timeline: the wait in the queue apart from the run, and each step placed on
    the run's time axis (percent offsets and widths for the bars)."""
    job = detail.job
    queue_ms = _ms_between(job.created_at, job.started_at)
    run_ms = _ms_between(job.started_at, job.completed_at)
    timed = [s for s in detail.steps if s.started_at_ms is not None]
    origin = min((s.started_at_ms or 0 for s in timed), default=0)
    end = max((s.completed_at_ms or s.started_at_ms or 0 for s in timed), default=origin)
    span = max(end - origin, 1)
    rows = [
        {
            "step": step,
            "offset": round(100 * ((step.started_at_ms or origin) - origin) / span, 2),
            "width": max(round(100 * (step.duration_ms or 0) / span, 2), 0.5),
        }
        for step in detail.steps
    ]
    return {"queue_ms": queue_ms, "run_ms": run_ms, "rows": rows}


def _ms_between(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    return max(int((end - start).total_seconds() * 1000), 0)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job_details(request: Request, job_id: str, who: Annotated[Viewer, Depends(viewer)]) -> HTMLResponse:
    services = services_of(request)
    if len(job_id) > JOB_ID_MAX:
        return render(request, "job_detail.html", who, status_code=404, detail=None, job_id=job_id[:40])
    try:
        detail = await run_in_threadpool(services.jobs.detail, who.workspace_id, job_id)
    except NotFound:
        return render(request, "job_detail.html", who, status_code=404, detail=None, job_id=job_id)
    return render(
        request,
        "job_detail.html",
        who,
        detail=detail,
        job_id=job_id,
        timeline=waterfall(detail),
        active=detail.job.status in ACTIVE,
    )


def _answer(request: Request, outcome: dict[str, Any], status: int) -> Response:
    """A fetch() gets JSON; a form post goes back to the Jobs tab (or the details page it came from)."""
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(outcome, status_code=status)
    details = "/jobs/" + quote(str(outcome["job"]), safe="")
    back = details if outcome.get("from") == "details" else "/?tab=jobs"
    if status >= 400:
        return HTMLResponse(
            f"<p>{_escape(str(outcome.get('error')))}</p><p><a href='{_escape(back)}'>Back</a></p>", status
        )
    return RedirectResponse(back, status_code=303)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")


async def _source(request: Request) -> str | None:
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        value = (await request.form()).get("from")
        return value if isinstance(value, str) else None
    return None


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(request: Request, job_id: str, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    await check_csrf(request, who)
    services = services_of(request)
    came_from = await _source(request)
    try:
        job = await run_in_threadpool(services.jobs.cancel, who.workspace_id, job_id[:JOB_ID_MAX], who.actor)
    except (Conflict, NotFound) as exc:
        status = 404 if isinstance(exc, NotFound) else 409
        return _answer(request, {"job": job_id, "error": str(exc), "from": came_from}, status)
    return _answer(request, {"job": job.id, "status": job.status, "from": came_from}, 200)


@router.post("/jobs/{job_id}/retry")
async def retry_job(request: Request, job_id: str, who: Annotated[Viewer, Depends(viewer)]) -> Response:
    await check_csrf(request, who)
    services = services_of(request)
    came_from = await _source(request)
    try:
        job = await run_in_threadpool(
            services.jobs.retry, who.workspace_id, job_id[:JOB_ID_MAX], triggered_by=who.actor
        )
    except LightfastError as exc:
        status = 404 if isinstance(exc, NotFound) else 409
        return _answer(request, {"job": job_id, "error": str(exc), "from": came_from}, status)
    # A retry is a new job: the details link follows it.
    return _answer(request, {"job": job.id, "status": job.status, "retryOf": job_id, "from": came_from}, 201)
