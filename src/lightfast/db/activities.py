"""The activity log: who did what to which entity of a workspace."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lightfast.db.models import Activity


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
) -> None:
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
            details=details or {},
        )
    )
