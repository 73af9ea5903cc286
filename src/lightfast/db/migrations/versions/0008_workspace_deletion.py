"""workspaces: when a delete was asked; one default workspace per organization

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 12:00:00

``workspaces.deleted_at`` marks a workspace whose delete job is removing it: it takes nothing new. The
default workspace of an organization is the one marked ``is_default``; should a race have marked two,
only the oldest keeps the mark.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lightfast.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: a batch rebuild of workspaces on SQLite would cascade-delete everything in them.
    op.add_column("workspaces", sa.Column("deleted_at", lightfast.db.types.UtcDateTime(), nullable=True))
    workspaces = sa.table(
        "workspaces",
        sa.column("id", sa.String),
        sa.column("organization_id", sa.String),
        sa.column("is_default", sa.Boolean),
        sa.column("created_at", lightfast.db.types.UtcDateTime),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(workspaces.c.id, workspaces.c.organization_id)
        .where(workspaces.c.is_default.is_(True))
        .order_by(workspaces.c.created_at, workspaces.c.id)
    )
    seen: set[str] = set()
    extra = []
    for workspace_id, organization_id in rows:
        if organization_id in seen:
            extra.append(workspace_id)
        seen.add(organization_id)
    if extra:
        bind.execute(sa.update(workspaces).where(workspaces.c.id.in_(extra)).values(is_default=False))


def downgrade() -> None:
    op.drop_column("workspaces", "deleted_at")
