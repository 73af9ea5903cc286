"""organizations' grants (GitHub installations, server paths); sources being disconnected

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 03:40:00

An installation is bound to one organization; a path is granted to any number of them. Before this
revision every GitHub source could name any installation, so an installation whose sources all belong
to one organization is bound to it here: what was connected keeps syncing and can be connected again.
An installation used by several organizations is left unbound, for the operator to decide.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import lightfast.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "installation_grants",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("organization_id", sa.String(length=191), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("installation_id", sa.String(length=64), nullable=False),
        sa.Column("granted_by", sa.String(length=191), nullable=True),
        sa.Column("granted_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_installation_grants_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation_grants")),
        sa.UniqueConstraint(
            "provider", "installation_id", name=op.f("uq_installation_grants_provider_installation_id")
        ),
    )
    op.create_index(
        op.f("ix_installation_grants_organization_id"), "installation_grants", ["organization_id"]
    )
    op.create_table(
        "path_grants",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("organization_id", sa.String(length=191), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("granted_by", sa.String(length=191), nullable=True),
        sa.Column("granted_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_path_grants_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_path_grants")),
        sa.UniqueConstraint("organization_id", "path", name=op.f("uq_path_grants_organization_id_path")),
    )
    # A plain ADD COLUMN: a batch rebuild of connected_sources would cascade-delete its documents.
    op.add_column(
        "connected_sources", sa.Column("disconnected_at", lightfast.db.types.UtcDateTime(), nullable=True)
    )
    _bind_installations_in_use()


def _bind_installations_in_use() -> None:
    bind = op.get_bind()
    sources = sa.table(
        "connected_sources",
        sa.column("organization_id", sa.String),
        sa.column("source_type", sa.String),
        sa.column("source_metadata", lightfast.db.types.Json()),
    )
    used: dict[str, set[str]] = {}
    rows = bind.execute(
        sa.select(sources.c.organization_id, sources.c.source_metadata).where(
            sources.c.source_type == "github"
        )
    )
    for organization_id, metadata in rows:
        if isinstance(metadata, str):  # JSON text, whatever the driver hands back
            metadata = json.loads(metadata)
        installation = (metadata or {}).get("githubInstallationId")
        if installation is not None:
            used.setdefault(str(installation), set()).add(organization_id)
    grants = sa.table(
        "installation_grants",
        sa.column("id", sa.String),
        sa.column("organization_id", sa.String),
        sa.column("provider", sa.String),
        sa.column("installation_id", sa.String),
        sa.column("granted_by", sa.String),
        sa.column("granted_at", lightfast.db.types.UtcDateTime()),
    )
    now = datetime.now(UTC)
    values: list[dict[str, Any]] = [
        {
            "id": f"igrant_{uuid.uuid4().hex}",
            "organization_id": next(iter(organizations)),
            "provider": "github",
            "installation_id": installation,
            "granted_by": "migration",
            "granted_at": now,
        }
        for installation, organizations in sorted(used.items())
        if len(organizations) == 1
    ]
    if values:
        op.bulk_insert(grants, values)


def downgrade() -> None:
    op.drop_column("connected_sources", "disconnected_at")
    op.drop_table("path_grants")
    op.drop_index(op.f("ix_installation_grants_organization_id"), table_name="installation_grants")
    op.drop_table("installation_grants")
