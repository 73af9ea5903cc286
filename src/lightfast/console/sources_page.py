"""The sources page (issue 12 page 5, seed 000's source list and ``repository-config-dialog``): each source
of the viewer's workspace with its type, config status, last sync, last error and documents; its
``lightfast.yml`` as last read with the problems found, by line and column; and the actions Sync now,
Reindex (full), Detect config, Schedule and Disconnect.

Every action is a plain form POST carrying the CSRF token, answered with a redirect back to the page (so
it works without JavaScript); ``static/sources.js`` opens the config and the disconnect confirmation as
``<dialog>``s over the list instead of navigating. The actions call the same services as the API's routes
and record the viewer as who triggered them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lightfast.app.schemas.sources import config_status
from lightfast.console.templating import render
from lightfast.console.viewer import Viewer, check_csrf, services_of, viewer
from lightfast.db.models import ConnectedSource
from lightfast.errors import LightfastError, NotFound

router = APIRouter(include_in_schema=False)

Who = Annotated[Viewer, Depends(viewer)]
MAX_CRON_CHARS = 120


@dataclass(frozen=True)
class ConfigView:
    """What the config dialog shows: the file as read and each problem with its position."""

    path: str | None
    text: str | None
    truncated: bool
    detected_at: str | None
    problems: list[dict[str, Any]]
    message: str | None

    @property
    def lines(self) -> list[tuple[int, str, bool]]:
        """(number, text, has a problem) for each line of the file, to number and mark them."""
        marked = {p.get("line") for p in self.problems if p.get("line")}
        return [(n, line, n in marked) for n, line in enumerate((self.text or "").splitlines(), 1)]


def config_view(source: ConnectedSource) -> ConfigView:
    metadata = source.source_metadata or {}
    problems = metadata.get("configProblems")
    return ConfigView(
        path=metadata.get("configPath"),
        text=metadata.get("configText"),
        truncated=bool(metadata.get("configTextTruncated")),
        detected_at=metadata.get("configDetectedAt"),
        problems=list(problems) if isinstance(problems, list) else [],
        message=source.config_message,
    )


def schedule_of(source: ConnectedSource) -> str | None:
    schedule = (source.source_metadata or {}).get("schedule")
    if not isinstance(schedule, dict):
        return None
    if "cron" in schedule:
        return f"cron {schedule['cron']}"
    return f"every {schedule.get('every')} s"


def _status(exc: LightfastError) -> int:
    # The console's own small mapping: the API's table lives in api/errors.py, a shell it may not import.
    return 404 if isinstance(exc, NotFound) else 400


def _back(note: str | None = None, error: str | None = None, anchor: str = "") -> RedirectResponse:
    query = ""
    if note:
        query = f"?note={quote(note)}"
    elif error:
        query = f"?error={quote(error)}"
    return RedirectResponse(f"/sources{query}{anchor}", status_code=303)


@router.get("/sources", response_class=HTMLResponse)
async def sources_page(request: Request, who: Who, note: str = "", error: str = "") -> HTMLResponse:
    services = services_of(request)

    def load() -> list[dict[str, Any]]:
        sources = services.sources.list(who.workspace_id)
        ingesting = services.sources.ingesting([s.id for s in sources])
        return [
            {
                "row": s,
                "status": config_status(s, ingesting=s.id in ingesting),
                "config": config_view(s),
                "schedule": schedule_of(s),
            }
            for s in sources
        ]

    rows = await run_in_threadpool(load)
    return render(request, "sources.html", who, rows=rows, note=note[:300], error=error[:300])


async def _source(request: Request, who: Viewer, source_id: str) -> ConnectedSource:
    services = services_of(request)
    return await run_in_threadpool(services.sources.get, who.workspace_id, source_id)


@router.get("/sources/{source_id}/config", response_class=HTMLResponse)
async def config_page(request: Request, who: Who, source_id: str) -> HTMLResponse:
    """The config dialog as a page of its own: what the <dialog> shows, reachable without JavaScript.
    ``?fragment=1`` answers the dialog's body alone, for the script to place in the dialog."""
    try:
        source = await _source(request, who, source_id)
    except LightfastError as exc:
        return render(
            request, "source_config.html", who, source=None, error=str(exc), status_code=_status(exc)
        )
    fragment = request.query_params.get("fragment") == "1"
    return render(
        request,
        "source_config.html",
        who,
        source=source,
        config=config_view(source),
        schedule=schedule_of(source),
        fragment=fragment,
        error=None,
    )


@router.get("/sources/{source_id}/disconnect", response_class=HTMLResponse)
async def disconnect_page(request: Request, who: Who, source_id: str) -> HTMLResponse:
    """The confirmation, naming what the disconnect removes."""
    services = services_of(request)
    try:
        source = await _source(request, who, source_id)
        impact = await run_in_threadpool(services.sources.disconnect_impact, who.workspace_id, source_id)
    except LightfastError as exc:
        return render(
            request, "source_disconnect.html", who, source=None, error=str(exc), status_code=_status(exc)
        )
    return render(
        request,
        "source_disconnect.html",
        who,
        source=source,
        impact=impact,
        fragment=request.query_params.get("fragment") == "1",
        error=None,
    )


@router.post("/sources/{source_id}/sync")
async def sync_now(
    request: Request, who: Who, source_id: str, full: Annotated[str, Form(max_length=5)] = ""
) -> Response:
    """Sync now (incremental) or Reindex (``full=1``): the API's ``POST /v1/sources/{id}/sync``."""
    await check_csrf(request, who)
    services = services_of(request)
    mode = "full" if full in ("1", "true", "on") else "incremental"

    def run() -> str:
        services.sources.get(who.workspace_id, source_id)
        return services.jobs.enqueue_sync(
            who.workspace_id, source_id, mode=mode, triggered_by=who.actor
        ).job_id

    try:
        job_id = await run_in_threadpool(run)
    except LightfastError as exc:
        return _back(error=str(exc))
    label = "Full reindex" if mode == "full" else "Sync"
    return _back(note=f"{label} queued as job {job_id}.", anchor=f"#source-{source_id}")


@router.post("/sources/{source_id}/detect-config")
async def detect_config(request: Request, who: Who, source_id: str) -> Response:
    await check_csrf(request, who)
    services = services_of(request)
    try:
        report = await run_in_threadpool(services.sources.detect_config, who.workspace_id, source_id)
    except LightfastError as exc:
        return _back(error=str(exc))
    found = report.path or "no lightfast.yml (the defaults apply)"
    problems = len(report.problems)
    detail = f"{problems} problem{'s' if problems != 1 else ''}" if problems else report.status
    return RedirectResponse(
        f"/sources/{quote(source_id)}/config?note={quote(f'Detected {found}: {detail}.')}", status_code=303
    )


@router.post("/sources/{source_id}/schedule")
async def set_schedule(
    request: Request,
    who: Who,
    source_id: str,
    cron: Annotated[str, Form(max_length=MAX_CRON_CHARS)] = "",
    clear: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Set a cron schedule, or clear it (``clear=1``, or an empty expression)."""
    await check_csrf(request, who)
    services = services_of(request)
    off = clear in ("1", "true", "on") or not cron.strip()

    def run() -> None:
        if off:
            services.sources.set_schedule(who.workspace_id, source_id, off=True)
        else:
            services.sources.set_schedule(who.workspace_id, source_id, cron=cron.strip())

    try:
        await run_in_threadpool(run)
    except LightfastError as exc:
        return _back(error=str(exc))
    return _back(note="Schedule cleared." if off else f"Scheduled: cron {cron.strip()}.")


@router.post("/sources/{source_id}/disconnect")
async def disconnect(request: Request, who: Who, source_id: str) -> Response:
    """Disconnect after the confirmation: admins and owners only (members may sync, not remove)."""
    await check_csrf(request, who)
    if not who.can_administer:
        return _back(error="only an admin or an owner of the organization may disconnect a source")
    services = services_of(request)
    try:
        source = await _source(request, who, source_id)
        enqueued = await run_in_threadpool(
            services.sources.disconnect, who.workspace_id, source_id, triggered_by=who.actor
        )
    except LightfastError as exc:
        return _back(error=str(exc))
    return _back(note=f"Disconnecting {source.display_name} (job {enqueued.job_id}).")
