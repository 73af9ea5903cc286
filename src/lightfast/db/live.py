"""What the live feed reads: a workspace's jobs and activities changed since a moment, and what holds a
queued job back. Each call is one indexed query, cheap enough to run every second for every workspace
someone is watching."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lightfast.db.activity_models import Activity
from lightfast.db.models import Job
from lightfast.db.statuses import ACTIVE

#: At most this many rows a poll reads; a burst larger than that is read over the next polls.
POLL_LIMIT = 500


def jobs_changed_since(session: Session, workspace_id: str, since: datetime | None) -> list[Job]:
    """The workspace's jobs written at or after ``since`` (all active ones without it), oldest change
    first, so a cursor taken from the last row never skips a row."""
    query = select(Job).where(Job.workspace_id == workspace_id)
    query = query.where(Job.updated_at >= since) if since is not None else query.where(Job.status.in_(ACTIVE))
    return list(session.scalars(query.order_by(Job.updated_at, Job.id).limit(POLL_LIMIT)))


# Activity categories the live stream leaves out: as frequent as the requests that make them.
LIVE_QUIET_CATEGORIES = ("search",)


def activities_since(session: Session, workspace_id: str, since: datetime | None) -> list[Activity]:
    """The workspace's activities recorded at or after ``since`` (none without it: a new subscriber
    sees what happens from now on), oldest first; searches stay on the timeline but off the live stream."""
    if since is None:
        return []
    query = select(Activity).where(
        Activity.workspace_id == workspace_id,
        Activity.timestamp >= since,
        # One per search: sent to every open console they made each search pay for the others' streams
        # (bench/live_consoles.py: p95 9 -> 397 ms with 100 consoles open).
        Activity.category.not_in(LIVE_QUIET_CATEGORIES),
    )
    return list(session.scalars(query.order_by(Activity.timestamp, Activity.id).limit(POLL_LIMIT)))


def claimed_counts(session: Session, workspace_id: str) -> tuple[int, dict[str | None, int]]:
    """Jobs a worker holds (claimed, not finished) in the workspace: the total, and by source. The
    dispatcher starts a queued job only when its source holds none and the workspace is under its limit
    (``lightfast.db.jobs.claim``); these counts tell a waiting job which rule holds it back."""
    rows = session.execute(
        select(Job.source_id, func.count())
        .where(Job.workspace_id == workspace_id, Job.engine_run_id.is_not(None), Job.status.in_(ACTIVE))
        .group_by(Job.source_id)
    ).all()
    by_source: dict[str | None, int] = {source: count for source, count in rows}
    return sum(by_source.values()), by_source
