"""api keys, idempotency records, document content

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:13:08.253767
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lightfast.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("workspace_id", sa.String(length=191), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("preview", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=191), nullable=True),
        sa.Column("created_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.Column("expires_at", lightfast.db.types.UtcDateTime(), nullable=True),
        sa.Column("last_used_at", lightfast.db.types.UtcDateTime(), nullable=True),
        sa.Column("last_used_address", sa.String(length=64), nullable=True),
        sa.Column("revoked_at", lightfast.db.types.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_api_keys_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "idempotency_records",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("api_key_id", sa.String(length=191), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", lightfast.db.types.Json(), nullable=True),
        sa.Column("created_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_idempotency_records_api_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_records")),
        sa.UniqueConstraint(
            "api_key_id", "idempotency_key", name=op.f("uq_idempotency_records_api_key_id_idempotency_key")
        ),
    )
    # A plain ADD COLUMN: SQLite supports it natively, and a batch table rebuild of documents would
    # cascade-delete its chunks through the foreign key.
    op.add_column("documents", sa.Column("content", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("documents", "content")

    op.drop_table("idempotency_records")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_workspace_id"))

    op.drop_table("api_keys")
