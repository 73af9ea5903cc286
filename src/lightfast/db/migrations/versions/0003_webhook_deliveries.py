"""ingestion events keyed by delivery id alone, store optional, event type

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot alter constraints in place, so Alembic copies the table.
    with op.batch_alter_table("ingestion_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_type", sa.String(length=64), nullable=True))
        batch_op.drop_constraint("uq_ingestion_events_store_id_source_type_event_key", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_ingestion_events_source_type_event_key"), ["source_type", "event_key"]
        )
        batch_op.drop_constraint("fk_ingestion_events_store_id_stores", type_="foreignkey")
        batch_op.alter_column("store_id", existing_type=sa.String(length=191), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f("fk_ingestion_events_store_id_stores"),
            "stores",
            ["store_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("ingestion_events", schema=None) as batch_op:
        batch_op.drop_constraint("fk_ingestion_events_store_id_stores", type_="foreignkey")
        batch_op.alter_column("store_id", existing_type=sa.String(length=191), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_ingestion_events_store_id_stores"),
            "stores",
            ["store_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.drop_constraint("uq_ingestion_events_source_type_event_key", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_ingestion_events_store_id_source_type_event_key"),
            ["store_id", "source_type", "event_key"],
        )
        batch_op.drop_column("event_type")
