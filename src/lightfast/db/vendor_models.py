"""Tables of the Linear and Notion sources (issue 13): sealed credentials and entity snapshots. Imported
at the end of ``lightfast.db.models`` so they are part of its metadata (migration 0011 creates them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lightfast.db.models import Base, Timestamps, new_id
from lightfast.db.types import Json, UtcDateTime, utcnow


class SourceCredential(Timestamps, Base):
    """A connected source's credential (an API token, a webhook signing secret, Notion's verification
    token), sealed with AES-256-GCM (lightfast.app.secrets): the plaintext is never stored, and the
    preview is all anyone is shown."""

    __tablename__ = "source_credentials"
    __table_args__ = (UniqueConstraint("source_id", "name"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("cred"))
    source_id: Mapped[str] = mapped_column(ForeignKey("connected_sources.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(32))  # "token" | "webhook_secret" | "verification_token"
    sealed: Mapped[str] = mapped_column(Text)  # "lf1.<key id>.<nonce+ciphertext>"
    key_id: Mapped[str] = mapped_column(String(16), index=True)
    preview: Mapped[str] = mapped_column(String(32))


class VendorEntity(Base):
    """The newest known version of one entity of a vendor source (a Linear issue, comment or project; a
    Notion page), as a delivery or the vendor's API gave it. ``version`` is the vendor's own edit time:
    an older delivery arriving late never replaces a newer row, and a removal is kept (``deleted``) so a
    late update of a removed entity does not bring it back."""

    __tablename__ = "vendor_entities"
    __table_args__ = (UniqueConstraint("source_id", "entity_id"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("vent"))
    source_id: Mapped[str] = mapped_column(ForeignKey("connected_sources.id", ondelete="CASCADE"))
    entity_id: Mapped[str] = mapped_column(String(191))
    kind: Mapped[str] = mapped_column(String(32))  # issue|comment|project|page|database-page
    version: Mapped[str] = mapped_column(String(40))  # the vendor's updatedAt, ISO 8601 UTC
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
