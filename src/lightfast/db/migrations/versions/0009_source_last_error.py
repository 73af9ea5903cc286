"""connected_sources.last_error: the last sync's failure, shown with the source (seed 000)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch rebuild of connected_sources on SQLite would cascade to its documents.
    op.add_column("connected_sources", sa.Column("last_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connected_sources") as batch:
        batch.drop_column("last_error")
