"""Usage metrics: API calls, query latency, indexing counts and durations, one row per measurement."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lightfast.db.insights import roll_up_metric
from lightfast.db.models import Metric
from lightfast.db.types import utcnow


def record_metric(
    session: Session,
    *,
    workspace_id: str,
    type: str,
    value: float,
    unit: str | None = None,
    source_id: str | None = None,
    tags: dict[str, Any] | None = None,
) -> None:
    now = utcnow()
    session.add(
        Metric(
            workspace_id=workspace_id,
            source_id=source_id,
            type=type,
            value=value,
            unit=unit,
            tags=tags or {},
            timestamp=now,
        )
    )
    roll_up_metric(session, workspace_id, type, value, now)  # the dashboard's hourly sums, same transaction
