"""Idempotency records: the first answer to a mutating request, per (API key, Idempotency-Key).

A record with ``status_code`` 0 is a reservation: the request is still running."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lightfast.db.models import IdempotencyRecord


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
    """Add a record; one that exists already fails on the unique constraint (IntegrityError) when the
    transaction commits."""
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


def store_answer(
    session: Session, api_key_id: str, idempotency_key: str, status_code: int, response: Any
) -> None:
    """Record the answer of a reserved request (nothing happens when the reservation is gone)."""
    record = find_record(session, api_key_id, idempotency_key)
    if record is not None:
        record.status_code = status_code
        record.response = response


def delete_record(session: Session, api_key_id: str, idempotency_key: str) -> None:
    record = find_record(session, api_key_id, idempotency_key)
    if record is not None:
        session.delete(record)
