"""Usage metrics: API calls, query latency, indexing counts and durations, one row per measurement."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from lightfast.db.insights import HourlySums, roll_up_metrics
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
    source_id: str | None = None


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
    """One metric row and its hour's roll-up, in the caller's transaction."""
    record_measurements(session, [Measurement(workspace_id, type, value, unit, tags or {}, source_id)])


def record_measurements(session: Session, measurements: list[Measurement]) -> None:
    """Many metric rows at once: one multi-row INSERT, and one roll-up upsert per workspace, type and
    hour instead of one each (the usage of a batch of concurrent API calls)."""
    if not measurements:
        return
    now = utcnow()
    # Core, not the ORM's bulk insert: every column is given, and the ORM's bookkeeping cost more than
    # the insert on every search.
    session.execute(
        insert(_METRICS),
        [
            {
                "id": new_id("met"),
                "workspace_id": m.workspace_id,
                "source_id": m.source_id,
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
