"""Idempotency-Key replay: a mutating request runs once per (API key, Idempotency-Key); repeats get the
first answer back. The HTTP middleware decides which requests qualify and builds the answers; this
service owns the records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lightfast.db import idempotency as idempotency_repo


@dataclass(frozen=True)
class StoredAnswer:
    """What an earlier request with the same key left: its body hash and its answer."""

    body_hash: str
    status_code: int  # 0 while that request is still running
    response: Any

    @property
    def in_progress(self) -> bool:
        return self.status_code == 0


class IdempotencyService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def reserve(
        self, api_key_id: str, key: str, *, method: str, path: str, body_hash: str
    ) -> StoredAnswer | None:
        """Claim the key for this request: None when it is ours now, else what holds it already."""
        try:
            with self.sessions.begin() as session:
                idempotency_repo.add_record(
                    session,
                    api_key_id=api_key_id,
                    idempotency_key=key,
                    method=method,
                    path=path,
                    body_hash=body_hash,
                    status_code=0,
                    response=None,
                )
            return None
        except IntegrityError:
            with self.sessions() as session:
                record = idempotency_repo.find_record(session, api_key_id, key)
                return StoredAnswer(record.body_hash, record.status_code, record.response) if record else None

    def complete(self, api_key_id: str, key: str, status_code: int, body: bytes) -> None:
        """Keep the answer (``body`` is its JSON, or empty) for repeats. A server failure (5xx) is not an
        answer: the reservation goes, so the client may retry."""
        with self.sessions.begin() as session:
            if status_code >= 500:
                idempotency_repo.delete_record(session, api_key_id, key)
                return
            idempotency_repo.store_answer(
                session, api_key_id, key, status_code, json.loads(body) if body else None
            )
