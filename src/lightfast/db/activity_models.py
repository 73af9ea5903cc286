"""The activity log's table (issue 12). Imported at the end of ``lightfast.db.models`` so it is part of
its metadata; migration 0001 created it and 0015 added what the timeline shows of each row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from lightfast.db.models import Base, new_id
from lightfast.db.types import Json, UtcDateTime, utcnow


class Activity(Base):
    """Who did what to which entity of a workspace, how it ended and what it changed."""

    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_workspace_ts", "workspace_id", "timestamp"),
        # The Source filter reads one source's rows (its own and its jobs') without a scan.
        Index("ix_activities_workspace_source_ts", "workspace_id", "source_id", "timestamp"),
    )

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("act"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    actor_type: Mapped[str] = mapped_column(String(16))  # user|api_key|webhook|scheduler|system
    actor_id: Mapped[str | None] = mapped_column(String(191))
    category: Mapped[str] = mapped_column(String(32))  # job|source|store|workspace|api_key|search|...
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(191))
    details: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    address: Mapped[str | None] = mapped_column(String(64))
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # How it ended: ok|failed|refused|ignored|cancelled|queued|running (lightfast.insights.activity).
    status: Mapped[str] = mapped_column(String(16), default="ok", server_default="ok")
    # One line a person reads on the timeline; what the text filter searches besides the columns above.
    summary: Mapped[str] = mapped_column(String(300), default="")
    # The connected source the activity concerns (itself, or the source its job synced), if any.
    source_id: Mapped[str | None] = mapped_column(String(191))
