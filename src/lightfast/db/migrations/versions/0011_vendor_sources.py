"""vendor sources (issue 13): sealed credentials of connected sources, entity snapshots of Linear/Notion

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 07:30:00

``source_credentials`` holds AES-256-GCM sealed tokens and signing secrets (lightfast.app.secrets), one
per source and name, with the id of the key that sealed each (what ``lightfast secrets rotate`` looks
for). ``vendor_entities`` keeps the newest version of each Linear or Notion entity, so a late delivery
never replaces a newer one and a removal is remembered.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lightfast.db.types import Json, UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_credentials",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("source_id", sa.String(length=191), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("preview", sa.String(length=32), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["connected_sources.id"],
            name=op.f("fk_source_credentials_source_id_connected_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_credentials")),
        sa.UniqueConstraint("source_id", "name", name=op.f("uq_source_credentials_source_id_name")),
    )
    op.create_index(op.f("ix_source_credentials_key_id"), "source_credentials", ["key_id"], unique=False)
    op.create_table(
        "vendor_entities",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("source_id", sa.String(length=191), nullable=False),
        sa.Column("entity_id", sa.String(length=191), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("payload", Json(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["connected_sources.id"],
            name=op.f("fk_vendor_entities_source_id_connected_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_entities")),
        sa.UniqueConstraint("source_id", "entity_id", name=op.f("uq_vendor_entities_source_id_entity_id")),
    )


def downgrade() -> None:
    op.drop_table("vendor_entities")
    op.drop_index(op.f("ix_source_credentials_key_id"), table_name="source_credentials")
    op.drop_table("source_credentials")
