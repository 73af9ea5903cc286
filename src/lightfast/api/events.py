"""GET /v1/events: the caller's workspace as a Server-Sent Events stream (job progress and state
changes, new activities), read from the shared live feed (``lightfast.app.live``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Query, Request
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import EventSourceResponse

from lightfast.api.deps import principal, services_of
from lightfast.api.routes import ERRORS, known_query
from lightfast.app import live
from lightfast.app.container import Services
from lightfast.app.keys import Principal

HEARTBEAT_SECONDS = 15  # a comment line this often keeps proxies from closing a quiet stream

STREAM_DOC = """A stream of `text/event-stream` events of the caller's workspace:

- `job`: a job was created or changed what it shows (status, progress, ETA): `{"id", "name", "status",
  "sourceId", "progress": {"processed", "total"}, "etaSeconds", "error", "createdAt", "startedAt",
  "completedAt"}`.
- `activity`: a new activity: `{"id", "category", "action", "actorType", "actorId", "entityType",
  "entityId", "details", "timestamp"}` (searches are left out, as frequent as the requests themselves:
  `GET /v1/activity?category=search` lists them).
- `reset`: the client fell too far behind; events were dropped: reload the state.

Comment lines (`: ping`) every 15 s keep the connection open. Every event has an `id`; reconnect with
`Last-Event-ID` to receive what changed meanwhile (a job may come again; an activity keeps its id). The
stream ends after `timeout` seconds; reconnect to go on."""

router = APIRouter(prefix="/v1", responses=ERRORS, dependencies=[Depends(known_query)])


def to_sse(event: live.LiveEvent) -> ServerSentEvent:
    return ServerSentEvent(data=event.encoded, event=event.kind, id=event.id)


@router.get(
    "/events",
    tags=["events"],
    summary="Live events of the workspace (Server-Sent Events)",
    description=STREAM_DOC,
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "The event stream.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def events(
    request: Request,
    timeout: int = Query(
        default=300, ge=1, le=3600, description="Seconds until the stream ends (reconnect to go on)."
    ),
    who: Principal = Depends(principal),
    svc: Services = Depends(services_of),
) -> EventSourceResponse:
    async def stream() -> AsyncIterator[ServerSentEvent]:
        async for event in live.stream(
            svc.live,
            who.workspace_id,
            last_event_id=request.headers.get("last-event-id"),
            seconds=timeout,
            disconnected=request.is_disconnected,
        ):
            yield to_sse(event)

    return EventSourceResponse(
        stream(), ping=HEARTBEAT_SECONDS, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
