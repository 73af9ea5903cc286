"""crash-consistent syncs: one failure row per job and path, the stored result of each step

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 04:10:00

``document_failures.path_key`` (sha256 of the whole path) is unique per job, so a step run again after a
crash updates its failure rows instead of adding them. Rows written before this revision keep a NULL key.
``job_step_results`` holds what a batch step (or the deletion step) wrote, stored in the transaction that
wrote it: a step run again once its writes committed returns it instead of recounting them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lightfast.db.types import Json, UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot add a constraint in place, so Alembic copies the table.
    with op.batch_alter_table("document_failures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("path_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_document_failures_job_id_path_key"), ["job_id", "path_key"]
        )
    op.create_table(
        "job_step_results",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("job_id", sa.String(length=191), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("result", Json(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_step_results_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_step_results")),
        sa.UniqueConstraint("job_id", "step", name=op.f("uq_job_step_results_job_id_step")),
    )


def downgrade() -> None:
    op.drop_table("job_step_results")
    with op.batch_alter_table("document_failures", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_document_failures_job_id_path_key"), type_="unique")
        batch_op.drop_column("path_key")
