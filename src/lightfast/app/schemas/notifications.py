"""Notification targets: outgoing webhooks of a workspace. A generic target's signing secret is in the
answer that creates it and never again; a Slack target's URL (a credential itself) is shown redacted."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field

from lightfast.app.notifications import CreatedTarget, TargetView
from lightfast.app.schemas.common import Body, Out, Timestamp

NotificationEvent = Literal["job.failed", "health.changed"]
EVERY_EVENT: tuple[NotificationEvent, ...] = ("job.failed", "health.changed")


class CreateNotificationTargetBody(Body):
    kind: Literal["generic", "slack"] = Field(
        description="generic: a JSON POST signed with X-Lightfast-Signature; slack: an incoming webhook."
    )
    url: str = Field(min_length=1, max_length=2048, description="http(s); public addresses in production.")
    name: str | None = Field(default=None, min_length=1, max_length=255)
    events: list[NotificationEvent] = Field(
        default_factory=lambda: list(EVERY_EVENT), min_length=1, max_length=2
    )
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        description="A generic target's signing secret; one is generated when left out.",
    )


class NotificationTargetOut(Out):
    id: str
    kind: str
    name: str
    url: str
    events: list[str]
    has_secret: bool
    created_at: Timestamp | None
    created_by: str | None

    @classmethod
    def from_view(cls, view: TargetView) -> Self:
        return cls.model_validate(view)


class CreatedNotificationTargetOut(NotificationTargetOut):
    secret: str | None = Field(
        description="A generic target's signing secret, shown only in this response (null for Slack)."
    )

    @classmethod
    def from_created(cls, created: CreatedTarget) -> Self:
        return cls(**dict(NotificationTargetOut.model_validate(created.target)), secret=created.secret)


class NotificationTargetListOut(Out):
    items: list[NotificationTargetOut]
