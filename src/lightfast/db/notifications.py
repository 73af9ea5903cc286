"""Notification targets, the queue of deliveries to them, and the last health each workspace was seen in.

A delivery row is written in the transaction of what it tells (a job failing), so it exists exactly when
the event does; workers claim due rows by moving ``next_attempt_at`` forward with a compare-and-set, so
two workers never send the same attempt, and a worker that dies mid-attempt leaves a row that comes due
again when its claim passes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from lightfast.db.models import Job
from lightfast.db.notification_models import NotificationDelivery, NotificationTarget, WorkspaceHealthState
from lightfast.db.statuses import JobStatus

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


def create_target(
    session: Session,
    *,
    workspace_id: str,
    kind: str,
    name: str,
    url: str,
    secret: str | None,
    events: list[str],
    created_by: str | None,
    target_id: str | None = None,
) -> NotificationTarget:
    target = NotificationTarget(
        **({"id": target_id} if target_id else {}),
        workspace_id=workspace_id,
        kind=kind,
        name=name,
        url=url,
        secret=secret,
        events=events,
        created_by=created_by,
    )
    session.add(target)
    session.flush()
    return target


def list_targets(session: Session, workspace_id: str) -> list[NotificationTarget]:
    return list(
        session.scalars(
            select(NotificationTarget)
            .where(NotificationTarget.workspace_id == workspace_id)
            .order_by(NotificationTarget.created_at, NotificationTarget.id)
        )
    )


def count_targets(session: Session, workspace_id: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(NotificationTarget)
            .where(NotificationTarget.workspace_id == workspace_id)
        )
        or 0
    )


def find_target(session: Session, target_id: str) -> NotificationTarget | None:
    return session.get(NotificationTarget, target_id)


def delete_target(session: Session, target: NotificationTarget) -> None:
    session.execute(delete(NotificationDelivery).where(NotificationDelivery.target_id == target.id))
    session.delete(target)
    session.flush()


def enqueue_event(
    session: Session, workspace_id: str, event: str, payload: dict[str, Any], *, at: datetime
) -> int:
    """One pending delivery for each of the workspace's targets subscribed to ``event``; how many."""
    targets = [t for t in list_targets(session, workspace_id) if event in (t.events or [])]
    for target in targets:
        session.add(
            NotificationDelivery(
                target_id=target.id,
                workspace_id=workspace_id,
                event=event,
                payload=payload,
                status=PENDING,
                next_attempt_at=at,
                created_at=at,
            )
        )
    session.flush()
    return len(targets)


def due_deliveries(session: Session, now: datetime, limit: int) -> list[tuple[str, datetime]]:
    """(id, next_attempt_at) of pending deliveries due by ``now``, oldest first."""
    rows = session.execute(
        select(NotificationDelivery.id, NotificationDelivery.next_attempt_at)
        .where(NotificationDelivery.status == PENDING, NotificationDelivery.next_attempt_at <= now)
        .order_by(NotificationDelivery.next_attempt_at)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows]


def claim(session: Session, delivery_id: str, seen_due_at: datetime, until: datetime) -> bool:
    """Take a due delivery for one attempt: only if nobody moved it since it was seen due."""
    result = session.execute(
        update(NotificationDelivery)
        .where(
            NotificationDelivery.id == delivery_id,
            NotificationDelivery.status == PENDING,
            NotificationDelivery.next_attempt_at == seen_due_at,
        )
        .values(next_attempt_at=until)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def get_delivery(session: Session, delivery_id: str) -> NotificationDelivery | None:
    return session.get(NotificationDelivery, delivery_id)


def record_attempt(
    session: Session,
    delivery: NotificationDelivery,
    *,
    status: str,
    error: str | None,
    at: datetime,
    retry_in: timedelta | None = None,
) -> None:
    delivery.attempts += 1
    delivery.status = status
    delivery.last_error = error
    if status == DELIVERED:
        delivery.delivered_at = at
    if retry_in is not None:
        delivery.next_attempt_at = at + retry_in
    session.flush()


def pending_count(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(NotificationDelivery)
            .where(NotificationDelivery.status == PENDING)
        )
        or 0
    )


def workspaces_to_watch(session: Session, since: datetime) -> list[str]:
    """Workspaces whose health may have changed: those with a job finished since ``since``, those that
    have targets, and those with a recorded health (its jobs may all have aged out of the window)."""
    finished = select(Job.workspace_id).where(Job.completed_at >= since).distinct()
    targeted = select(NotificationTarget.workspace_id).distinct()
    known = select(WorkspaceHealthState.workspace_id)
    found: set[str] = set()
    for query in (finished, targeted, known):
        found.update(session.scalars(query))
    return sorted(found)


def job_outcomes(session: Session, workspace_id: str, since: datetime) -> dict[str, int]:
    """Finished jobs of a workspace since ``since`` by status."""
    rows = session.execute(
        select(Job.status, func.count())
        .where(
            Job.workspace_id == workspace_id,
            Job.completed_at >= since,
            Job.status.in_(
                [JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.FAILED, JobStatus.CANCELLED]
            ),
        )
        .group_by(Job.status)
    )
    return {str(status): int(count) for status, count in rows}


def health_state(session: Session, workspace_id: str) -> WorkspaceHealthState | None:
    return session.get(WorkspaceHealthState, workspace_id)


def set_health_state(
    session: Session, workspace_id: str, status: str, reason: str | None, *, at: datetime
) -> None:
    state = session.get(WorkspaceHealthState, workspace_id)
    if state is None:
        session.add(
            WorkspaceHealthState(workspace_id=workspace_id, status=status, reason=reason, changed_at=at)
        )
    else:
        state.status, state.reason, state.changed_at = status, reason, at
    session.flush()
