"""notification_targets, notification_deliveries (the durable queue of outgoing webhooks) and
workspace_health_states (the health last told), for seed 003 §8's notifications (issue 12)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lightfast.db.types import Json, UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_targets",
        sa.Column("id", sa.String(191), nullable=False),
        sa.Column("workspace_id", sa.String(191), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("events", Json(), nullable=False),
        sa.Column("created_by", sa.String(191), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_notification_targets_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notification_targets"),
    )
    op.create_index("ix_notification_targets_workspace_id", "notification_targets", ["workspace_id"])
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.String(191), nullable=False),
        sa.Column("target_id", sa.String(191), nullable=False),
        sa.Column("workspace_id", sa.String(191), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", Json(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["notification_targets.id"],
            name="fk_notification_deliveries_target_id_notification_targets",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_notification_deliveries_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notification_deliveries"),
    )
    op.create_index("ix_notification_deliveries_target_id", "notification_deliveries", ["target_id"])
    op.create_index(
        "ix_notification_deliveries_due", "notification_deliveries", ["status", "next_attempt_at"]
    )
    op.create_table(
        "workspace_health_states",
        sa.Column("workspace_id", sa.String(191), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name="fk_workspace_health_states_workspace_id_workspaces",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name="pk_workspace_health_states"),
    )


def downgrade() -> None:
    op.drop_table("workspace_health_states")
    op.drop_index("ix_notification_deliveries_due", table_name="notification_deliveries")
    op.drop_index("ix_notification_deliveries_target_id", table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
    op.drop_index("ix_notification_targets_workspace_id", table_name="notification_targets")
    op.drop_table("notification_targets")
