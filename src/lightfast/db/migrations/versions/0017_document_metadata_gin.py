"""documents.source_metadata GIN index (PostgreSQL): search filters by metadata ({"state": "In Progress"})

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The metadata filter is jsonb containment (@>), which jsonb_path_ops answers with a smaller index
    # than the default operator class. SQLite has no such index: its filter runs json_each over the
    # documents the other conditions leave, which stays fast at a workspace's scale.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_documents_source_metadata ON documents "
            "USING gin (source_metadata jsonb_path_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_documents_source_metadata")
