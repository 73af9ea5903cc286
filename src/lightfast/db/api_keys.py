"""API keys and idempotency records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lightfast.db.models import ApiKey, IdempotencyRecord


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


def find_record(session: Session, api_key_id: str, idempotency_key: str) -> IdempotencyRecord | None:
    return session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.idempotency_key == idempotency_key
        )
    )


def add_record(
    session: Session,
    *,
    api_key_id: str,
    idempotency_key: str,
    method: str,
    path: str,
    body_hash: str,
    status_code: int,
    response: dict[str, Any] | None,
) -> None:
    session.add(
        IdempotencyRecord(
            api_key_id=api_key_id,
            idempotency_key=idempotency_key,
            method=method,
            path=path,
            body_hash=body_hash,
            status_code=status_code,
            response=response,
        )
    )
