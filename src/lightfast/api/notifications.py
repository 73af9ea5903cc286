"""Notification targets of the caller's workspace (seed 003 §8): where its job failures and health
changes are sent."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from lightfast.api.deps import principal, services_of
from lightfast.api.routes import ERRORS, known_query
from lightfast.app.container import Services
from lightfast.app.keys import Principal
from lightfast.app.schemas.notifications import (
    CreatedNotificationTargetOut,
    CreateNotificationTargetBody,
    NotificationTargetListOut,
    NotificationTargetOut,
)

router = APIRouter(
    prefix="/v1/notifications", tags=["notifications"], responses=ERRORS, dependencies=[Depends(known_query)]
)
Caller = Depends(principal)
Svc = Depends(services_of)


@router.get("/targets")
def list_targets(who: Principal = Caller, svc: Services = Svc) -> NotificationTargetListOut:
    items = svc.notifications.list_targets(who.workspace_id)
    return NotificationTargetListOut(items=[NotificationTargetOut.from_view(t) for t in items])


@router.post("/targets", status_code=201)
def create_target(
    body: CreateNotificationTargetBody, who: Principal = Caller, svc: Services = Svc
) -> CreatedNotificationTargetOut:
    """Add a target. A generic target's signing secret is in this answer only: receivers check
    ``X-Lightfast-Signature: sha256=HMAC(secret, "{X-Lightfast-Timestamp}.{body}")``."""
    created = svc.notifications.create_target(
        who.workspace_id,
        kind=body.kind,
        url=body.url,
        events=list(body.events),
        name=body.name,
        secret=body.secret,
        created_by=who.key_id,
    )
    return CreatedNotificationTargetOut.from_created(created)


@router.delete("/targets/{id}")
def delete_target(id: str, who: Principal = Caller, svc: Services = Svc) -> NotificationTargetOut:
    return NotificationTargetOut.from_view(
        svc.notifications.delete_target(who.workspace_id, id, deleted_by=who.key_id)
    )
