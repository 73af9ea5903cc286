"""Notification targets, their delivery queue and the health last told (seed 003 §8, issue 12): their own
module, registered on the metadata of ``lightfast.db.models`` when that one is imported."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lightfast.db.models import Base, new_id
from lightfast.db.types import Json, UtcDateTime, utcnow


class NotificationTarget(Base):
    """Where a workspace's notifications go (seed 003 §8): an outgoing webhook, generic (a JSON POST signed
    with ``secret``) or Slack's incoming webhook, and the events it subscribes to."""

    __tablename__ = "notification_targets"

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("ntg"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # generic | slack
    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(2048))
    # The signing secret of a generic target. Never returned after the answer that created it.
    secret: Mapped[str | None] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(Json, default=list)  # job.failed, health.changed
    created_by: Mapped[str | None] = mapped_column(String(191))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class NotificationDelivery(Base):
    """One event on its way to one target: written in the transaction of what happened (a job failing),
    so a restart loses nothing; retried with backoff until delivered or given up."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_notification_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("ndl"))
    target_id: Mapped[str] = mapped_column(
        ForeignKey("notification_targets.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WorkspaceHealthState(Base):
    """The health a workspace was last seen in, so a change is told once (``health.changed``)."""

    __tablename__ = "workspace_health_states"

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
