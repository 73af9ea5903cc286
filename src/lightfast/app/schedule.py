"""Scheduled syncs: a source's settings may hold ``schedule: {every: SECONDS}`` or ``{cron: EXPR}``
(with the time it was set, ``since``). Slot arithmetic is pure; enqueueing a slot twice is a no-op because
its job carries the idempotency key ``schedule:{source}:{slot}``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from croniter import croniter
from sqlalchemy.orm import Session, sessionmaker

from lightfast.db import sources as sources_repo
from lightfast.db.models import ConnectedSource
from lightfast.db.statuses import JobTrigger
from lightfast.errors import InvalidInput

if TYPE_CHECKING:
    from lightfast.app.jobs import JobService


def make_schedule(
    *, every_seconds: int | None = None, cron: str | None = None, since: datetime
) -> dict[str, Any]:
    if (every_seconds is None) == (cron is None):
        raise InvalidInput("give either an interval or a cron expression", field="schedule")
    if every_seconds is not None:
        if every_seconds < 60:
            raise InvalidInput("the interval must be at least 60 seconds", field="schedule.every")
        return {"every": every_seconds, "since": since.isoformat()}
    if not croniter.is_valid(cron or ""):
        raise InvalidInput(f"{cron!r} is not a valid cron expression", field="schedule.cron")
    return {"cron": cron, "since": since.isoformat()}


def latest_slot(schedule: dict[str, Any], now: datetime) -> datetime | None:
    """The most recent scheduled time in (since, now], or None if there is none yet."""
    since = datetime.fromisoformat(schedule["since"])
    if now <= since:
        return None
    if "every" in schedule:
        every = timedelta(seconds=int(schedule["every"]))
        periods = (now - since) // every
        return since + periods * every if periods >= 1 else None
    # get_prev excludes its start; one microsecond later includes a slot falling exactly on ``now``.
    start = now.astimezone(UTC) + timedelta(microseconds=1)
    slot: datetime = croniter(schedule["cron"], start).get_prev(datetime)
    slot = slot.replace(tzinfo=UTC) if slot.tzinfo is None else slot
    return slot if slot > since else None


def scheduled_sources(session: Session) -> list[ConnectedSource]:
    return [
        s for s in sources_repo.active_sources(session) if isinstance(s.source_metadata.get("schedule"), dict)
    ]


def enqueue_due(sessions: sessionmaker[Session], jobs: JobService, now: datetime) -> int:
    enqueued = 0
    with sessions() as session:
        sources = [(s.id, s.workspace_id, s.source_metadata["schedule"]) for s in scheduled_sources(session)]
    for source_id, workspace_id, schedule in sources:
        slot = latest_slot(schedule, now)
        if slot is None or workspace_id is None:
            continue
        job = jobs.enqueue_sync(
            workspace_id,
            source_id,
            trigger=JobTrigger.SCHEDULED,
            triggered_by="scheduler",
            idempotency_key=f"schedule:{source_id}:{slot.strftime('%Y%m%dT%H%M%S')}",
        )
        enqueued += int(job.created)
    return enqueued
