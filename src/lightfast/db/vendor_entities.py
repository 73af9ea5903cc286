"""Entity snapshots of vendor sources (Linear, Notion): the newest version of each entity known."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lightfast.db.vendor_models import VendorEntity

# Marks, in the payload, a row deleted because a complete listing did not return it (see apply_snapshot).
UNLISTED = "lightfastUnlisted"


def find_entity(session: Session, source_id: str, entity_id: str) -> VendorEntity | None:
    return session.scalar(
        select(VendorEntity).where(VendorEntity.source_id == source_id, VendorEntity.entity_id == entity_id)
    )


def apply_snapshot(
    session: Session,
    *,
    source_id: str,
    entity_id: str,
    kind: str,
    version: str,
    payload: dict[str, Any],
    deleted: bool,
) -> str:
    """Store a version of an entity unless a newer one is stored: ``"applied"`` when it was stored,
    ``"current"`` when exactly this version is stored already (a redelivery whose first handling was cut
    short: its work is due again), ``"stale"`` when a newer one is. ``version``
    strings compare in time order (canonical UTC ISO 8601). At the same version a removal wins over an
    update (Linear's remove delivery carries the entity as it was). Locks the row on PostgreSQL, so
    two deliveries of one entity decide one after the other."""
    row = session.scalar(
        select(VendorEntity)
        .where(VendorEntity.source_id == source_id, VendorEntity.entity_id == entity_id)
        .with_for_update()
    )
    if row is None:
        session.add(
            VendorEntity(
                source_id=source_id,
                entity_id=entity_id,
                kind=kind,
                version=version,
                payload=payload,
                deleted=deleted,
            )
        )
        session.flush()
        return "applied"
    # A row a reconciliation marked deleted (absent from a listing) comes back when a listing or a
    # delivery shows it again at the version it had, or newer: absence was an inference, not a removal
    # the vendor reported at that version.
    unlisted = row.deleted and bool((row.payload or {}).get(UNLISTED))
    restored = unlisted and not deleted and version >= row.version
    newer = restored or version > row.version or (version == row.version and deleted and not row.deleted)
    if not newer:
        same = version == row.version and deleted == row.deleted
        return "current" if same else "stale"
    row.kind, row.version, row.deleted = kind, version, deleted
    if not deleted or not row.payload:
        row.payload = payload
    return "applied"


def live_entities(session: Session, source_id: str) -> list[tuple[str, str]]:
    """(kind, entity id) of every entity of a source not deleted, by id."""
    rows = session.execute(
        select(VendorEntity.kind, VendorEntity.entity_id)
        .where(VendorEntity.source_id == source_id, VendorEntity.deleted.is_(False))
        .order_by(VendorEntity.entity_id)
    )
    return [(kind, entity_id) for kind, entity_id in rows]


def live_snapshots(session: Session, source_id: str, entity_ids: Collection[str]) -> list[VendorEntity]:
    if not entity_ids:
        return []
    return list(
        session.scalars(
            select(VendorEntity).where(
                VendorEntity.source_id == source_id,
                VendorEntity.entity_id.in_(list(entity_ids)),
                VendorEntity.deleted.is_(False),
            )
        )
    )


def touch_entities(session: Session, source_id: str, entity_ids: Collection[str], at: datetime) -> None:
    """Mark entities as seen by a listing at ``at`` (a reconciliation deletes the ones it did not see)."""
    if entity_ids:
        session.execute(
            update(VendorEntity)
            .where(VendorEntity.source_id == source_id, VendorEntity.entity_id.in_(list(entity_ids)))
            .values(updated_at=at)
        )


def mark_unseen_deleted(
    session: Session, source_id: str, kinds: Collection[str], listing_started: datetime
) -> list[str]:
    """Mark deleted every live entity of ``kinds`` that a complete listing started at ``listing_started``
    neither saw nor found changed meanwhile (a delivery during the listing also touches its row): what
    upstream no longer has. Returns their ids."""
    rows = list(
        session.scalars(
            select(VendorEntity).where(
                VendorEntity.source_id == source_id,
                VendorEntity.deleted.is_(False),
                VendorEntity.kind.in_(list(kinds)),
                VendorEntity.updated_at < listing_started,
            )
        )
    )
    for row in rows:
        row.deleted = True
        row.payload = {**(row.payload or {}), UNLISTED: True}  # a new dict: the JSON column sees the change
    return [row.entity_id for row in rows]


def follow_parent(session: Session, source_id: str, kind: str, parent_id: str, *, removed: bool) -> list[str]:
    """Remove (``removed``) the live entities of ``kind`` whose payload names ``parent_id`` as their issue
    (a Linear issue's comments go with it), or bring back the ones a removal of that parent took; returns
    their ids. A comment removed on its own stays removed: only those marked ``removedWithParent`` return."""
    rows = session.scalars(
        select(VendorEntity).where(
            VendorEntity.source_id == source_id,
            VendorEntity.kind == kind,
            VendorEntity.deleted.is_(not removed),
        )
    )
    changed = []
    for row in rows:
        data = (row.payload or {}).get("data") or {}
        given = data.get("issue")
        issue: dict[str, Any] = given if isinstance(given, dict) else {}
        if parent_id not in (data.get("issueId"), issue.get("id")):
            continue
        if not removed and not (row.payload or {}).get("removedWithParent"):
            continue
        row.deleted = removed
        row.payload = {**(row.payload or {}), "removedWithParent": removed}
        changed.append(row.entity_id)
    return changed
