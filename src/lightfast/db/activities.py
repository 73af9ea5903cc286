"""The activity log: who did what to which entity of a workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from lightfast.db.activity_models import Activity
from lightfast.db.models import Job
from lightfast.db.statuses import JobTrigger
from lightfast.insights.activity import describe


def record_activity(
    session: Session,
    *,
    workspace_id: str,
    actor_type: str,
    actor_id: str | None,
    category: str,
    action: str,
    entity_type: str,
    entity_id: str | None,
    details: dict[str, Any] | None = None,
    address: str | None = None,
    source_id: str | None = None,
) -> None:
    """One row of the timeline, its status and summary derived from the action and details; the source
    it concerns is ``source_id``, else the entity when that is a source, else the details' source id."""
    details = details or {}
    described = describe(action, details, entity_type, entity_id)
    if source_id is None:
        source_id = entity_id if entity_type == "source" else None
    if source_id is None and isinstance(details.get("source_id"), str):
        source_id = details["source_id"]
    session.add(
        Activity(
            address=address,
            workspace_id=workspace_id,
            actor_type=actor_type,
            actor_id=actor_id,
            category=category,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            details=details,
            status=described.status,
            summary=described.summary,
            source_id=source_id,
        )
    )


@dataclass(frozen=True)
class ActivityFilters:
    """What the activity log is narrowed to; every field optional. ``source`` matches the source itself
    and the jobs that synced it."""

    category: str | None = None
    source: str | None = None
    actor: str | None = None  # an actor id, or an actor type (user, api_key, webhook, scheduler, system)
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    text: str | None = None


def _filtered(workspace_id: str, filters: ActivityFilters) -> Select[Activity]:
    query = select(Activity).where(Activity.workspace_id == workspace_id)
    if filters.category:
        query = query.where(Activity.category == filters.category)
    if filters.actor:
        query = query.where(or_(Activity.actor_id == filters.actor, Activity.actor_type == filters.actor))
    if filters.source:
        query = query.where(Activity.source_id == filters.source)
    if filters.since:
        query = query.where(Activity.timestamp >= filters.since)
    if filters.until:
        query = query.where(Activity.timestamp < filters.until)
    if filters.text:
        # LIKE's own wildcards in the text are literal: a search for "50%" finds "50%".
        escaped = filters.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (
                        Activity.summary,
                        Activity.action,
                        Activity.category,
                        Activity.entity_id,
                        Activity.actor_id,
                    )
                ),
            )
        )
    return query


def list_activities(
    session: Session,
    workspace_id: str,
    filters: ActivityFilters,
    *,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[Activity]:
    """Newest first; ``after`` (timestamp, id) of the last row already shown continues the list."""
    query = _filtered(workspace_id, filters)
    if after is not None:
        moment, last_id = after
        query = query.where(
            or_(Activity.timestamp < moment, and_(Activity.timestamp == moment, Activity.id < last_id))
        )
    query = query.order_by(Activity.timestamp.desc(), Activity.id.desc()).limit(limit)
    return list(session.scalars(query))


def job_activity(
    session: Session, job: Job, action: str, details: dict[str, Any], by: str | None = None
) -> None:
    """A job's step in its life (queued, started, finished...), in the transaction that makes it so. The
    actor is whoever triggered it (a console user, a key, a webhook sender, the scheduler or the system),
    or ``by`` when someone else did this step (cancelled it)."""
    actor_type, actor_id = actor_of(JobTrigger.MANUAL, by) if by else actor_of(job.trigger, job.triggered_by)
    record_activity(
        session,
        workspace_id=job.workspace_id,
        actor_type=actor_type,
        actor_id=actor_id,
        category="job",
        action=action,
        entity_type="job",
        entity_id=job.id,
        details={"name": job.name, "source_id": job.source_id, **details},
    )


def record_change(
    session: Session,
    workspace_id: str,
    by: str | None,
    *,
    action: str,
    entity_type: str,
    entity_id: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Something a person or program changed on purpose (a key created, a store renamed), with ``by``
    in the jobs' ``triggered_by`` form: ``user:ID``, ``local-admin``, an API key id, ``cli``."""
    actor_type, actor_id = actor_of(JobTrigger.MANUAL, by)
    record_activity(
        session,
        workspace_id=workspace_id,
        actor_type=actor_type,
        actor_id=actor_id,
        category=action.split(".", 1)[0],
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        details=details,
    )


def actor_of(trigger: str, triggered_by: str | None) -> tuple[str, str | None]:
    """(actor type, actor id) of whoever set something going: ``triggered_by`` is a console user
    (``user:ID``, ``local-admin``), an API key id, or the sender of a webhook or the scheduler."""
    if triggered_by and triggered_by.startswith("user:"):
        return "user", triggered_by.removeprefix("user:")
    if triggered_by == "local-admin":
        return "user", "local-admin"
    if triggered_by and triggered_by.startswith("key_"):
        return "api_key", triggered_by
    if trigger == JobTrigger.SCHEDULED:
        return "scheduler", triggered_by
    if trigger == JobTrigger.WEBHOOK:
        return "webhook", triggered_by
    return "system", triggered_by
