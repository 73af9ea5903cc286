"""API keys (stored as hashes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lightfast.db.models import ApiKey


def add_key(
    session: Session,
    *,
    workspace_id: str,
    name: str,
    key_hash: str,
    preview: str,
    expires_at: datetime | None,
    created_by: str | None,
) -> ApiKey:
    key = ApiKey(
        workspace_id=workspace_id,
        name=name,
        key_hash=key_hash,
        preview=preview,
        expires_at=expires_at,
        created_by=created_by,
    )
    session.add(key)
    session.flush()
    return key


def by_hash(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


def list_keys(session: Session, workspace_id: str) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.workspace_id == workspace_id).order_by(ApiKey.created_at.desc())
        )
    )


def find_key(session: Session, key_id: str) -> ApiKey | None:
    return session.get(ApiKey, key_id)
