"""The database's identity (migration 0020), registered on ``models.Base``'s metadata by models.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from lightfast.db.models import Base
from lightfast.db.types import UtcDateTime, utcnow


class DatabaseIdentity(Base):
    """One row, written by migration 0020: a random id this database keeps for life (a copy keeps it
    too). Derived state kept outside the database (the persisted vector tables of index/vector_file.py)
    records it, so a file is never used with another database that happens to sit in the same home."""

    __tablename__ = "database_identity"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
