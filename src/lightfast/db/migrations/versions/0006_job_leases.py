"""jobs: the worker running each one and its lease; the run's estimated time left

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 05:00:00

A worker renews the lease of every job it runs while it lives; once a lease has passed the job shows
``interrupted`` and any live worker takes its workflow over. Jobs that were running before this revision
have no lease: the first worker that looks at one gives it to the workflow's executor, which renews it
while it lives. ``eta_seconds`` is written with each progress update.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lightfast.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: a batch rebuild of jobs on SQLite would cascade-delete its document failures.
    op.add_column("jobs", sa.Column("worker_id", sa.String(length=191), nullable=True))
    op.add_column("jobs", sa.Column("lease_expires_at", lightfast.db.types.UtcDateTime(), nullable=True))
    op.add_column("jobs", sa.Column("eta_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    # Native DROP COLUMN (SQLite 3.35+), for the same reason.
    op.drop_column("jobs", "eta_seconds")
    op.drop_column("jobs", "lease_expires_at")
    op.drop_column("jobs", "worker_id")
