"""database_identity: a random id the database keeps for life (issue 11)

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-28 15:10:00

The persisted vector tables in the data directory (``lightfast.index.vector_file``) record the id of
the database they were taken from and are ignored with any other one: a home can be pointed at another
database (``LIGHTFAST_DATABASE_URL``), or a database file replaced by another. A restored backup keeps
its id; the change-log position check catches that case.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from lightfast.db.types import UtcDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "database_identity",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.bulk_insert(table, [{"id": uuid.uuid4().hex, "created_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("database_identity")
