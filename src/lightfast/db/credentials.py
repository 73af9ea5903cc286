"""Sealed credentials of connected sources (lightfast.app.secrets seals and opens them)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lightfast.db.vendor_models import SourceCredential


def find_credential(session: Session, source_id: str, name: str) -> SourceCredential | None:
    return session.scalar(
        select(SourceCredential).where(SourceCredential.source_id == source_id, SourceCredential.name == name)
    )


def source_credentials(session: Session, source_id: str) -> list[SourceCredential]:
    return list(
        session.scalars(
            select(SourceCredential)
            .where(SourceCredential.source_id == source_id)
            .order_by(SourceCredential.name)
        )
    )


def put_credential(
    session: Session, *, source_id: str, name: str, sealed: str, key_id: str, preview: str
) -> SourceCredential:
    """Store (or replace) a source's credential of one name."""
    row = find_credential(session, source_id, name)
    if row is None:
        row = SourceCredential(source_id=source_id, name=name)
        session.add(row)
    row.sealed, row.key_id, row.preview = sealed, key_id, preview
    return row


def credentials_not_under(session: Session, key_id: str, limit: int) -> list[SourceCredential]:
    """Up to ``limit`` credentials sealed under another key than ``key_id`` (what a rotation re-seals),
    locked against a concurrent rotation where the database can."""
    return list(
        session.scalars(
            select(SourceCredential)
            .where(SourceCredential.key_id != key_id)
            .order_by(SourceCredential.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def count_by_key(session: Session) -> dict[str, int]:
    counts: dict[str, int] = {}
    for kid in session.scalars(select(SourceCredential.key_id)):
        counts[kid] = counts.get(kid, 0) + 1
    return counts
