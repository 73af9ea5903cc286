"""metric_hourly (metrics rolled up per workspace, type and UTC hour) and a covering index of jobs for
the dashboard (issue 12; bench/dashboard.py has the figures)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lightfast.db.types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_hourly",
        sa.Column("workspace_id", sa.String(191), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("hour", UtcDateTime(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("maximum", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_metric_hourly_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", "type", "hour", name="pk_metric_hourly"),
    )
    op.create_index(
        "ix_jobs_workspace_created_status_duration",
        "jobs",
        ["workspace_id", "created_at", "status", "duration_ms"],
    )
    # Metrics recorded before the roll-up existed, summed into it once.
    hour = (
        "date_trunc('hour', timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        if op.get_bind().dialect.name == "postgresql"
        else "substr(timestamp, 1, 13) || ':00:00.000000'"
    )
    op.execute(
        "INSERT INTO metric_hourly (workspace_id, type, hour, count, total, maximum) "
        f"SELECT workspace_id, type, {hour}, count(*), sum(value), max(value) FROM metrics "
        f"GROUP BY workspace_id, type, {hour}"
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_workspace_created_status_duration", table_name="jobs")
    op.drop_table("metric_hourly")
