"""embedding_generations, generation_vectors: a store's switch to another embedding model (issue 15)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-28 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lightfast.db.types import Embedding, UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "embedding_generations",
        sa.Column("id", sa.String(191), primary_key=True),
        sa.Column("store_id", sa.String(191), sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_id", sa.String(191), nullable=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(191), nullable=False),
        sa.Column("dimensions", sa.Integer, nullable=False),
        sa.Column("chunk_max_tokens", sa.Integer, nullable=False),
        sa.Column("chunk_overlap", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("previous_model", sa.String(191), nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("flipped_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_embedding_generations_store_id", "embedding_generations", ["store_id"])
    op.create_index("ix_embedding_generations_job_id", "embedding_generations", ["job_id"])
    # Staged vectors are never searched, so no vector index: only the key the flip joins on.
    op.create_table(
        "generation_vectors",
        sa.Column(
            "generation_id",
            sa.String(191),
            sa.ForeignKey("embedding_generations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("content_hash", sa.String(64), primary_key=True),
        sa.Column("embedding", Embedding(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("generation_vectors")
    op.drop_table("embedding_generations")
