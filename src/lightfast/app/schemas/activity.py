"""The activity log on the wire: GET /v1/activity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from lightfast.app.schemas.common import Out, Timestamp

if TYPE_CHECKING:  # the activity log renders its JSON export with ActivityOut
    from lightfast.app.activity_log import ActivityPage


class ActivityOut(Out):
    id: str
    timestamp: Timestamp
    category: str
    action: str
    actor_type: str
    actor_id: str | None
    entity_type: str
    entity_id: str | None
    status: str  # ok|failed|refused|ignored|cancelled|queued|running
    summary: str  # the line the timeline shows
    source_id: str | None  # the connected source it concerns, if any
    details: dict[str, Any]


class ActivityListOut(Out):
    items: list[ActivityOut]
    next_cursor: str | None

    @classmethod
    def from_page(cls, page: ActivityPage) -> Self:
        return cls(
            items=[ActivityOut.model_validate(row) for row in page.items], next_cursor=page.next_cursor
        )
