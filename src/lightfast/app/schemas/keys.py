"""API keys: never their secret, except once, in the answer that creates one."""

from __future__ import annotations

from typing import Self

from pydantic import Field

from lightfast.app.keys import CreatedKey
from lightfast.app.schemas.common import Body, Out, Timestamp


class CreateKeyBody(Body):
    name: str = Field(min_length=1, max_length=255)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650, alias="expiresInDays", strict=True)


class ApiKeyOut(Out):  # built from an ``ApiKey`` row by attribute name
    id: str
    name: str
    preview: str
    created_at: Timestamp | None
    expires_at: Timestamp | None
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None


class CreatedKeyOut(ApiKeyOut):
    key: str = Field(description="The secret, shown only in this response.")

    @classmethod
    def from_created(cls, created: CreatedKey) -> Self:
        return cls(**dict(ApiKeyOut.model_validate(created.key)), key=created.secret)


class ApiKeyListOut(Out):
    items: list[ApiKeyOut]
