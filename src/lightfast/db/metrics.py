"""Usage metrics: API calls, query latency, indexing counts and durations, one row per measurement."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from lightfast.db.insights import HourlySums, roll_up_metric, roll_up_metrics
from lightfast.db.models import Metric, new_id
from lightfast.db.types import utcnow
from lightfast.insights.buckets import hour_of

_METRICS = cast(Table, Metric.__table__)


@dataclass(frozen=True)
class Measurement:
    """One metric row to write (``record_measurements``)."""

    workspace_id: str
    type: str
    value: float
    unit: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)


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


def record_measurements(
    session: Session, measurements: list[Measurement], at: datetime | None = None
) -> None:
    """Many metric rows at once: one multi-row INSERT, and one roll-up upsert per workspace, type and
    hour instead of one each (the usage of a batch of concurrent API calls)."""
    if not measurements:
        return
    now = at or utcnow()
    # Core, not the ORM's bulk insert: every column is given, and the ORM's bookkeeping cost more than
    # the insert on every search.
    session.execute(
        insert(_METRICS),
        [
            {
                "id": new_id("met"),
                "workspace_id": m.workspace_id,
                "source_id": None,
                "type": m.type,
                "value": m.value,
                "unit": m.unit,
                "tags": m.tags,
                "timestamp": now,
            }
            for m in measurements
        ],
    )
    hour = hour_of(now)
    groups: dict[tuple[str, str], list[float]] = {}
    for m in measurements:
        values = groups.setdefault((m.workspace_id, m.type), [])
        values.append(m.value)
    roll_up_metrics(
        session,
        [
            HourlySums(workspace_id, type, hour, len(values), sum(values), max(values))
            for (workspace_id, type), values in groups.items()
        ],
    )
