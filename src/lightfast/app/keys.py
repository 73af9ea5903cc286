"""Workspace-bound API keys: ``sk-lf-`` + 43 random URL-safe characters, stored only as a SHA-256 hash
with a preview (prefix and last four characters)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from lightfast.db import activities
from lightfast.db import api_keys as keys_repo
from lightfast.db.models import ApiKey
from lightfast.db.types import utcnow
from lightfast.errors import Conflict, InvalidInput, NotFound, Unauthenticated

PREFIX = "sk-lf-"
# Writing last-use on every request would turn each read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key of one workspace. Every query is scoped to ``workspace_id``."""

    workspace_id: str
    key_id: str | None
    name: str


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once


def generate_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)  # 43 characters of [A-Za-z0-9_-]


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def preview(secret: str) -> str:
    return f"{secret[: len(PREFIX) + 4]}…{secret[-4:]}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class ApiKeyService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def create(
        self,
        workspace_id: str,
        name: str,
        *,
        expires_in_days: int | None = None,
        created_by: str | None = None,
    ) -> CreatedKey:
        name = name.strip()
        if not 1 <= len(name) <= 255:
            raise InvalidInput("name must be 1-255 characters", field="name")
        if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
            raise InvalidInput("expiresInDays must be between 1 and 3650", field="expiresInDays")
        secret = generate_secret()
        expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
        with self.sessions.begin() as session:
            key = keys_repo.add_key(
                session,
                workspace_id=workspace_id,
                name=name,
                key_hash=hash_secret(secret),
                preview=preview(secret),
                expires_at=expires,
                created_by=created_by,
            )
            activities.record_change(
                session,
                workspace_id,
                created_by,
                action="api_key.created",
                entity_type="api_key",
                entity_id=key.id,
                details={"name": key.name, "preview": key.preview, "expires_at": _iso(expires)},
            )
        return CreatedKey(key, secret)

    def list(self, workspace_id: str) -> list[ApiKey]:
        with self.sessions() as session:
            return keys_repo.list_keys(session, workspace_id)

    def revoke(self, workspace_id: str, key_id: str, revoked_by: str | None = None) -> ApiKey:
        with self.sessions.begin() as session:
            key = self._key(session, workspace_id, key_id)
            if key.revoked_at is None:  # revoking twice changes nothing, and records nothing
                key.revoked_at = utcnow()
                activities.record_change(
                    session,
                    workspace_id,
                    revoked_by,
                    action="api_key.revoked",
                    entity_type="api_key",
                    entity_id=key.id,
                    details={"name": key.name, "preview": key.preview},
                )
            return key

    def rotate(self, workspace_id: str, key_id: str, created_by: str | None = None) -> CreatedKey:
        """A new secret with the same name and expiry policy; the old key stops working at once."""
        with self.sessions() as session:
            old = self._key(session, workspace_id, key_id)
            if old.revoked_at is not None:  # rotating must not bring a revoked key back to life
                raise Conflict(f"API key {key_id!r} is revoked; create a new key instead")
            name, expires = old.name, old.expires_at
        days = max(1, (expires - utcnow()).days) if expires else None
        created = self.create(workspace_id, name, expires_in_days=days, created_by=created_by)
        self.revoke(workspace_id, key_id, revoked_by=created_by)
        return created

    def authenticate(
        self, secret: str | None, address: str | None = None, now: datetime | None = None
    ) -> Principal:
        if not secret or not secret.startswith(PREFIX) or len(secret) < len(PREFIX) + 40:
            raise Unauthenticated()
        now = now or utcnow()
        with self.sessions.begin() as session:
            key = keys_repo.by_hash(session, hash_secret(secret))
            if key is None or key.revoked_at is not None or (key.expires_at and key.expires_at <= now):
                raise Unauthenticated("the API key is not valid, was revoked, or has expired")
            if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
                key.last_used_at, key.last_used_address = now, address
            return Principal(key.workspace_id, key.id, key.name)

    def _key(self, session: Session, workspace_id: str, key_id: str) -> ApiKey:
        key = keys_repo.find_key(session, key_id)
        if key is None or key.workspace_id != workspace_id:
            raise NotFound(f"API key {key_id!r} does not exist")
        return key
