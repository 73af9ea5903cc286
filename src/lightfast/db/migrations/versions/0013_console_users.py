"""users, memberships, console_sessions, invitations, login_attempts: who signs in to the console (issue 12,
"Who uses it")

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lightfast.db.types import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(191), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("disabled_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.String(191), nullable=False),
        sa.Column("user_id", sa.String(191), nullable=False),
        sa.Column("organization_id", sa.String(191), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        _fk("memberships", "user_id", "users", "CASCADE"),
        _fk("memberships", "organization_id", "organizations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_memberships"),
        sa.UniqueConstraint("organization_id", "user_id", name="uq_memberships_organization_id_user_id"),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(191), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(191), nullable=False),
        sa.Column("organization_id", sa.String(191), nullable=False),
        sa.Column("workspace_id", sa.String(191), nullable=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        _fk("console_sessions", "user_id", "users", "CASCADE"),
        _fk("console_sessions", "organization_id", "organizations", "CASCADE"),
        _fk("console_sessions", "workspace_id", "workspaces", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_console_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_console_sessions_token_hash"),
    )
    op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(191), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(191), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("created_by", sa.String(191), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.Column("used_by", sa.String(191), nullable=True),
        _fk("invitations", "organization_id", "organizations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_invitations"),
        sa.UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
    )
    op.create_index("ix_invitations_organization_id", "invitations", ["organization_id"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.String(191), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_attempts"),
    )
    op.create_index("ix_login_attempts_email_at", "login_attempts", ["email", "at"])
    op.create_index("ix_login_attempts_address_at", "login_attempts", ["address", "at"])


def downgrade() -> None:
    op.drop_table("login_attempts")
    op.drop_table("invitations")
    op.drop_table("console_sessions")
    op.drop_table("memberships")
    op.drop_table("users")
