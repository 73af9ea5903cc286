"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 00:01:02.694453
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import lightfast.db.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("slug", sa.String(length=191), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("slug", name=op.f("uq_organizations_slug")),
    )
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("organization_id", sa.String(length=191), nullable=False),
        sa.Column("name", sa.String(length=191), nullable=False),
        sa.Column("slug", sa.String(length=191), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("settings", lightfast.db.types.Json(), nullable=False),
        sa.Column("created_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_workspaces_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.UniqueConstraint("organization_id", "name", name=op.f("uq_workspaces_organization_id_name")),
    )
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workspaces_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "activities",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("workspace_id", sa.String(length=191), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=191), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=191), nullable=True),
        sa.Column("details", lightfast.db.types.Json(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("timestamp", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_activities_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_workspace_ts", ["workspace_id", "timestamp"], unique=False)

    op.create_table(
        "connected_sources",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("organization_id", sa.String(length=191), nullable=False),
        sa.Column("workspace_id", sa.String(length=191), nullable=True),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("external_key", sa.String(length=1024), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("source_metadata", lightfast.db.types.Json(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("config_status", sa.String(length=16), nullable=False),
        sa.Column("config_message", sa.Text(), nullable=True),
        sa.Column("document_count", sa.Integer(), nullable=False),
        sa.Column("last_synced_at", lightfast.db.types.UtcDateTime(), nullable=True),
        sa.Column("last_ingested_at", lightfast.db.types.UtcDateTime(), nullable=True),
        sa.Column("connected_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.Column("created_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_connected_sources_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_connected_sources_workspace_id_workspaces"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connected_sources")),
        sa.UniqueConstraint(
            "workspace_id",
            "source_type",
            "external_key",
            name=op.f("uq_connected_sources_workspace_id_source_type_external_key"),
        ),
    )
    with op.batch_alter_table("connected_sources", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_connected_sources_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_connected_sources_source_type"), ["source_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_connected_sources_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "stores",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("workspace_id", sa.String(length=191), nullable=False),
        sa.Column("name", sa.String(length=191), nullable=False),
        sa.Column("embedding_provider", sa.String(length=64), nullable=False),
        sa.Column("embedding_model", sa.String(length=191), nullable=False),
        sa.Column("embedding_dim", sa.Integer(), nullable=False),
        sa.Column("chunk_max_tokens", sa.Integer(), nullable=False),
        sa.Column("chunk_overlap", sa.Integer(), nullable=False),
        sa.Column("index_generation", sa.BigInteger(), nullable=False),
        sa.Column("created_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_stores_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stores")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_stores_workspace_id_name")),
    )
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stores_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "documents",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("store_id", sa.String(length=191), nullable=False),
        sa.Column("connection_id", sa.String(length=191), nullable=True),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=1024), nullable=False),
        sa.Column("source_metadata", lightfast.db.types.Json(), nullable=False),
        sa.Column("parent_doc_id", sa.String(length=191), nullable=True),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("slug", sa.String(length=256), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=True),
        sa.Column("frontmatter", lightfast.db.types.Json(), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("relationships", lightfast.db.types.Json(), nullable=True),
        sa.Column("created_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connected_sources.id"],
            name=op.f("fk_documents_connection_id_connected_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_documents_store_id_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint(
            "store_id", "source_type", "source_id", name=op.f("uq_documents_store_id_source_type_source_id")
        ),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_documents_connection_id"), ["connection_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_parent_doc_id"), ["parent_doc_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_source_type"), ["source_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_store_id"), ["store_id"], unique=False)
        batch_op.create_index("ix_documents_store_path", ["store_id", "path"], unique=False)
        batch_op.create_index("ix_documents_store_slug", ["store_id", "slug"], unique=False)

    op.create_table(
        "ingestion_events",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("store_id", sa.String(length=191), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("event_key", sa.String(length=255), nullable=False),
        sa.Column("event_metadata", lightfast.db.types.Json(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("processed_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_ingestion_events_store_id_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingestion_events")),
        sa.UniqueConstraint(
            "store_id",
            "source_type",
            "event_key",
            name=op.f("uq_ingestion_events_store_id_source_type_event_key"),
        ),
    )
    with op.batch_alter_table("ingestion_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingestion_events_source_type"), ["source_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingestion_events_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingestion_events_store_id"), ["store_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("organization_id", sa.String(length=191), nullable=True),
        sa.Column("workspace_id", sa.String(length=191), nullable=False),
        sa.Column("store_id", sa.String(length=191), nullable=True),
        sa.Column("source_id", sa.String(length=191), nullable=True),
        sa.Column("engine_run_id", sa.String(length=191), nullable=True),
        sa.Column("retry_of", sa.String(length=191), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("triggered_by", sa.String(length=191), nullable=True),
        sa.Column("input", lightfast.db.types.Json(), nullable=False),
        sa.Column("output", lightfast.db.types.Json(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("progress_processed", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column("started_at", lightfast.db.types.UtcDateTime(), nullable=True),
        sa.Column("completed_at", lightfast.db.types.UtcDateTime(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("created_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_jobs_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["connected_sources.id"],
            name=op.f("fk_jobs_source_id_connected_sources"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_jobs_store_id_stores"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_jobs_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_jobs_idempotency_key")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_engine_run_id"), ["engine_run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_source_id"), ["source_id"], unique=False)
        batch_op.create_index("ix_jobs_workspace_created", ["workspace_id", "created_at"], unique=False)
        batch_op.create_index("ix_jobs_workspace_status", ["workspace_id", "status"], unique=False)

    op.create_table(
        "metrics",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("workspace_id", sa.String(length=191), nullable=False),
        sa.Column("source_id", sa.String(length=191), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=True),
        sa.Column("tags", lightfast.db.types.Json(), nullable=False),
        sa.Column("timestamp", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["connected_sources.id"],
            name=op.f("fk_metrics_source_id_connected_sources"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_metrics_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics")),
    )
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.create_index(
            "ix_metrics_workspace_type_ts", ["workspace_id", "type", "timestamp"], unique=False
        )

    op.create_table(
        "store_sources",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("store_id", sa.String(length=191), nullable=False),
        sa.Column("source_id", sa.String(length=191), nullable=False),
        sa.Column("linked_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["connected_sources.id"],
            name=op.f("fk_store_sources_source_id_connected_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_store_sources_store_id_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_sources")),
        sa.UniqueConstraint("store_id", "source_id", name=op.f("uq_store_sources_store_id_source_id")),
    )
    with op.batch_alter_table("store_sources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_store_sources_source_id"), ["source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_store_sources_store_id"), ["store_id"], unique=False)

    op.create_table(
        "document_failures",
        sa.Column("id", sa.String(length=191), nullable=False),
        sa.Column("job_id", sa.String(length=191), nullable=True),
        sa.Column("store_id", sa.String(length=191), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=1024), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_document_failures_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_document_failures_store_id_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_failures")),
    )
    with op.batch_alter_table("document_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_failures_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_failures_store_id"), ["store_id"], unique=False)

    op.create_table(
        "vector_entries",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("store_id", sa.String(length=191), nullable=False),
        sa.Column("document_id", sa.String(length=191), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=False),
        sa.Column("embedding", lightfast.db.types.Embedding(), nullable=False),
        sa.Column("upserted_at", lightfast.db.types.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_vector_entries_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_vector_entries_store_id_stores"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_vector_entries")),
        sa.UniqueConstraint("id", name=op.f("uq_vector_entries_id")),
        sa.UniqueConstraint(
            "store_id",
            "document_id",
            "chunk_index",
            "content_hash",
            name=op.f("uq_vector_entries_store_id_document_id_chunk_index_content_hash"),
        ),
    )
    with op.batch_alter_table("vector_entries", schema=None) as batch_op:
        batch_op.create_index("ix_vector_entries_document", ["document_id", "chunk_index"], unique=False)
        batch_op.create_index(batch_op.f("ix_vector_entries_store_id"), ["store_id"], unique=False)

    if dialect == "sqlite":
        _create_sqlite_search()
    elif dialect == "postgresql":
        _create_postgres_search()


def _create_sqlite_search() -> None:
    # FTS5 over vector_entries.content, kept in step by triggers in the same transaction as the rows.
    op.execute(
        "CREATE VIRTUAL TABLE chunks_fts USING fts5(content, content='vector_entries', "
        "content_rowid='seq', tokenize='porter unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER vector_entries_fts_insert AFTER INSERT ON vector_entries BEGIN "
        "INSERT INTO chunks_fts(rowid, content) VALUES (new.seq, new.content); END"
    )
    op.execute(
        "CREATE TRIGGER vector_entries_fts_delete AFTER DELETE ON vector_entries BEGIN "
        "INSERT INTO chunks_fts(chunks_fts, rowid, content) VALUES ('delete', old.seq, old.content); END"
    )
    op.execute(
        "CREATE TRIGGER vector_entries_fts_update AFTER UPDATE OF content ON vector_entries BEGIN "
        "INSERT INTO chunks_fts(chunks_fts, rowid, content) VALUES ('delete', old.seq, old.content); "
        "INSERT INTO chunks_fts(rowid, content) VALUES (new.seq, new.content); END"
    )


def _create_postgres_search() -> None:
    op.execute(
        "ALTER TABLE vector_entries ADD COLUMN tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english', content)) STORED"
    )
    op.execute("CREATE INDEX ix_vector_entries_tsv ON vector_entries USING gin (tsv)")
    # One partial HNSW index per supported dimension: the column itself has no fixed dimension.
    op.execute(
        "CREATE INDEX ix_vector_entries_hnsw_384 ON vector_entries "
        "USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE vector_dims(embedding) = 384"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS vector_entries_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS chunks_fts")
    with op.batch_alter_table("vector_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vector_entries_store_id"))
        batch_op.drop_index("ix_vector_entries_document")

    op.drop_table("vector_entries")
    with op.batch_alter_table("document_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_failures_store_id"))
        batch_op.drop_index(batch_op.f("ix_document_failures_job_id"))

    op.drop_table("document_failures")
    with op.batch_alter_table("store_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_store_sources_store_id"))
        batch_op.drop_index(batch_op.f("ix_store_sources_source_id"))

    op.drop_table("store_sources")
    with op.batch_alter_table("metrics", schema=None) as batch_op:
        batch_op.drop_index("ix_metrics_workspace_type_ts")

    op.drop_table("metrics")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_workspace_status")
        batch_op.drop_index("ix_jobs_workspace_created")
        batch_op.drop_index(batch_op.f("ix_jobs_source_id"))
        batch_op.drop_index(batch_op.f("ix_jobs_engine_run_id"))

    op.drop_table("jobs")
    with op.batch_alter_table("ingestion_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingestion_events_store_id"))
        batch_op.drop_index(batch_op.f("ix_ingestion_events_status"))
        batch_op.drop_index(batch_op.f("ix_ingestion_events_source_type"))

    op.drop_table("ingestion_events")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_store_slug")
        batch_op.drop_index("ix_documents_store_path")
        batch_op.drop_index(batch_op.f("ix_documents_store_id"))
        batch_op.drop_index(batch_op.f("ix_documents_source_type"))
        batch_op.drop_index(batch_op.f("ix_documents_parent_doc_id"))
        batch_op.drop_index(batch_op.f("ix_documents_connection_id"))

    op.drop_table("documents")
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stores_workspace_id"))

    op.drop_table("stores")
    with op.batch_alter_table("connected_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connected_sources_workspace_id"))
        batch_op.drop_index(batch_op.f("ix_connected_sources_source_type"))
        batch_op.drop_index(batch_op.f("ix_connected_sources_organization_id"))

    op.drop_table("connected_sources")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_workspace_ts")

    op.drop_table("activities")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workspaces_organization_id"))

    op.drop_table("workspaces")
    op.drop_table("organizations")
