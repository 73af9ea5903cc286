"""activities: status, summary and source_id, so the timeline filters by source through an index and
searches the words it shows instead of the details' JSON

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 09:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="ok"))
        batch.add_column(sa.Column("summary", sa.String(300), nullable=False, server_default=""))
        batch.add_column(sa.Column("source_id", sa.String(191), nullable=True))
    # Rows written before: the source is the entity itself or the source its job synced; the status
    # follows the action's last word; the summary is the action (new rows get a sentence).
    op.execute("UPDATE activities SET source_id = entity_id WHERE entity_type = 'source'")
    op.execute(
        "UPDATE activities SET source_id ="
        " (SELECT jobs.source_id FROM jobs WHERE jobs.id = activities.entity_id)"
        " WHERE entity_type = 'job'"
    )
    op.execute(
        "UPDATE activities SET status = CASE"
        " WHEN action LIKE '%.failed' OR action LIKE '%.error' THEN 'failed'"
        " WHEN action LIKE '%.refused' THEN 'refused'"
        " WHEN action LIKE '%.cancelled' OR action LIKE '%.superseded' THEN 'cancelled'"
        " WHEN action LIKE '%.queued' OR action LIKE '%.retried' THEN 'queued'"
        " WHEN action LIKE '%.started' THEN 'running'"
        " ELSE 'ok' END"
    )
    op.execute("UPDATE activities SET summary = action")
    with op.batch_alter_table("activities") as batch:  # the default only filled the rows above
        batch.alter_column("summary", server_default=None)
    op.create_index(
        "ix_activities_workspace_source_ts", "activities", ["workspace_id", "source_id", "timestamp"]
    )


def downgrade() -> None:
    op.drop_index("ix_activities_workspace_source_ts", table_name="activities")
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("source_id")
        batch.drop_column("summary")
        batch.drop_column("status")
