"""document_edges, document_keys, commit_changes: the relationship graph between documents (issue 14)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_edges",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "workspace_id", sa.String(191), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("store_id", sa.String(191), sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "from_document_id",
            sa.String(191),
            sa.ForeignKey("documents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target_type", sa.String(16), nullable=False),
        sa.Column("target_key", sa.String(255), nullable=False),
        sa.Column("target_value", sa.String(255), nullable=False),
        sa.Column("evidence", sa.String(200), nullable=False),
    )
    op.create_index("ix_document_edges_from", "document_edges", ["from_document_id"])
    op.create_index(
        "ix_document_edges_target", "document_edges", ["workspace_id", "target_type", "target_key"]
    )
    op.create_table(
        "document_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "workspace_id", sa.String(191), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "document_id", sa.String(191), sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("key_type", sa.String(16), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
    )
    op.create_index("ix_document_keys_document", "document_keys", ["document_id"])
    op.create_index("ix_document_keys_key", "document_keys", ["workspace_id", "key_type", "key"])
    op.create_table(
        "commit_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "workspace_id", sa.String(191), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("repository", sa.String(200), nullable=False),
        sa.Column("sha", sa.String(40), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("pull_request", sa.Integer, nullable=True),
    )
    op.create_index("ix_commit_changes_path", "commit_changes", ["workspace_id", "repository", "path"])
    op.create_index("ix_commit_changes_sha", "commit_changes", ["workspace_id", "sha"])


def downgrade() -> None:
    op.drop_table("commit_changes")
    op.drop_table("document_keys")
    op.drop_table("document_edges")
