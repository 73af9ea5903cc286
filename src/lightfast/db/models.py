"""Tables. The schema follows seeds 001, 003 and 004; Alembic migrations create exactly these
(``tests/test_migrations.py`` proves it), plus the dialect-specific search structures listed in
``DIALECT_OBJECTS``, which models cannot express: the FTS5 table and its triggers on SQLite, the
tsvector column and the HNSW and GIN indexes on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lightfast.db.statuses import JobStatus, JobTrigger
from lightfast.db.types import Embedding, Json, UtcDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Search structures created by the migrations with raw DDL; the migration test ignores them.
DIALECT_OBJECTS = frozenset(
    {
        "ix_vector_entries_hnsw_384",
        "ix_vector_entries_tsv",
        "tsv",
        "ix_documents_source_metadata",
        "search_changes",  # with the next two, the PostgreSQL change log of 0019
        "search_change_horizon",
        "ix_search_changes_xid",
    }
)


def is_dialect_object(name: str) -> bool:
    """FTS5 also creates shadow tables (chunks_fts_data, chunks_fts_idx, ...); on SQLite, triggers
    also log changed chunk rows in ``vector_changes`` for the in-process vector index (migration 0004), and
    on PostgreSQL in ``search_changes`` for the in-process BM25 index (0019)."""
    return name in DIALECT_OBJECTS or name.startswith("chunks_fts") or name == "vector_changes"


SOURCE_TYPES = ("github", "linear", "notion", "sentry", "vercel", "zendesk", "local")
METRIC_TYPES = ("query_latency", "queries_count", "documents_indexed", "api_calls", "errors", "job_duration")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Organization(Timestamps, Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("org"))
    slug: Mapped[str] = mapped_column(String(191), unique=True)
    name: Mapped[str] = mapped_column(String(255))


class Workspace(Timestamps, Base):
    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("ws"))
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(191))
    slug: Mapped[str] = mapped_column(String(191))
    # The organization's default workspace (one per organization, lightfast.db.tenancy.default_workspace):
    # commands without --workspace and API requests without a key act on it.
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # When a delete was asked: the workspace takes nothing new while its delete job removes it.
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Store(Timestamps, Base):
    __tablename__ = "stores"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("store"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(191))
    embedding_provider: Mapped[str] = mapped_column(String(64))
    embedding_model: Mapped[str] = mapped_column(String(191))
    embedding_dim: Mapped[int] = mapped_column(Integer)
    chunk_max_tokens: Mapped[int] = mapped_column(Integer)
    chunk_overlap: Mapped[int] = mapped_column(Integer)
    # Bumped in the same transaction as every change of the store's vectors, so an in-process vector
    # cache can tell with one cheap read whether it is stale.
    index_generation: Mapped[int] = mapped_column(BigInteger, default=0)


class ConnectedSource(Timestamps, Base):
    __tablename__ = "connected_sources"
    __table_args__ = (UniqueConstraint("workspace_id", "source_type", "external_key"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("src"))
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[str | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="SET NULL"), index=True
    )
    source_type: Mapped[str] = mapped_column(String(32), index=True)
    # What identifies the source outside Lightfast: the repository id on GitHub (it survives renames), an
    # absolute path locally.
    external_key: Mapped[str] = mapped_column(String(1024))
    display_name: Mapped[str] = mapped_column(String(255))
    source_metadata: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    config_status: Mapped[str] = mapped_column(String(16), default="pending")
    config_message: Mapped[str | None] = mapped_column(Text)
    # The last sync's failure (or its documents' failures), cleared by a clean sync: seed 000.
    last_error: Mapped[str | None] = mapped_column(Text)
    document_count: Mapped[int] = mapped_column(Integer, default=0)
    last_synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_ingested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    connected_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # When a disconnect was asked: the row is on its way out and nothing (an unsuspend, a push) revives it.
    disconnected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class InstallationGrant(Base):
    """An installation of an outside App (a GitHub App installation) bound to the one organization whose
    workspaces may connect what it can read. An operator binds it (``lightfast orgs grant-installation``)."""

    __tablename__ = "installation_grants"
    __table_args__ = (UniqueConstraint("provider", "installation_id"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("igrant"))
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(32))  # "github"
    installation_id: Mapped[str] = mapped_column(String(64))
    granted_by: Mapped[str | None] = mapped_column(String(191))  # "cli", "development"
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PathGrant(Base):
    """A directory on the server whose local and git sources an organization's workspaces may connect
    through the API (it must lie inside LIGHTFAST_LOCAL_SOURCE_ROOTS as well)."""

    __tablename__ = "path_grants"
    __table_args__ = (UniqueConstraint("organization_id", "path"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("pgrant"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1024))  # absolute, symbolic links resolved
    granted_by: Mapped[str | None] = mapped_column(String(191))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class StoreSource(Base):
    __tablename__ = "store_sources"
    __table_args__ = (UniqueConstraint("store_id", "source_id"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("link"))
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("connected_sources.id", ondelete="CASCADE"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Document(Timestamps, Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("store_id", "source_type", "source_id"),
        Index("ix_documents_store_slug", "store_id", "slug"),
        Index("ix_documents_store_path", "store_id", "path"),
    )

    id: Mapped[str] = mapped_column(String(191), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    # The connected source that produced the document: its removal removes the document.
    connection_id: Mapped[str | None] = mapped_column(
        ForeignKey("connected_sources.id", ondelete="CASCADE"), index=True
    )
    source_type: Mapped[str] = mapped_column(String(32), index=True)
    source_id: Mapped[str] = mapped_column(String(1024))
    source_metadata: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    parent_doc_id: Mapped[str | None] = mapped_column(String(191), index=True)
    # Location inside the source (a file path); kept as a column so the path-prefix filter is indexed.
    path: Mapped[str] = mapped_column(String(1024))
    url: Mapped[str | None] = mapped_column(String(2048))
    slug: Mapped[str] = mapped_column(String(256))
    title: Mapped[str] = mapped_column(String(512))
    content_hash: Mapped[str] = mapped_column(String(64))
    config_hash: Mapped[str | None] = mapped_column(String(64))
    frontmatter: Mapped[dict[str, Any] | None] = mapped_column(Json)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    relationships: Mapped[dict[str, Any] | None] = mapped_column(Json)
    # The parsed text (front matter removed): what /v1/contents returns, since chunks overlap.
    content: Mapped[str | None] = mapped_column(Text)


class VectorEntry(Base):
    """One chunk of a document: its text (for the lexical index and snippets) and its embedding."""

    __tablename__ = "vector_entries"
    __table_args__ = (
        UniqueConstraint("store_id", "document_id", "chunk_index", "content_hash"),
        Index("ix_vector_entries_document", "document_id", "chunk_index"),
    )

    # An integer key so SQLite's FTS5 index can refer to the row (a rowid alias survives VACUUM).
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(255), unique=True)  # "{documentId}#{chunkIndex}"
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    chunk_index: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int] = mapped_column(Integer)
    embedding: Mapped[np.ndarray] = mapped_column(Embedding)
    upserted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class IngestionEvent(Base):
    """One event received from a source (a webhook delivery), keyed by the source's own id for it (the
    X-GitHub-Delivery header): the unique key is what makes a redelivery a no-op."""

    __tablename__ = "ingestion_events"
    __table_args__ = (UniqueConstraint("source_type", "event_key"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("evt"))
    # The store it fed, when there is one: a delivery such as an installation event spans several.
    store_id: Mapped[str | None] = mapped_column(ForeignKey("stores.id", ondelete="SET NULL"), index=True)
    source_type: Mapped[str] = mapped_column(String(32), index=True)
    event_key: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str | None] = mapped_column(String(64))  # "push", "installation.deleted", ...
    event_metadata: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    origin: Mapped[str] = mapped_column(String(16), default="manual")  # webhook|backfill|manual|api
    status: Mapped[str] = mapped_column(String(16), default="processed", index=True)  # an EventStatus
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Job(Timestamps, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_workspace_created", "workspace_id", "created_at"),
        Index("ix_jobs_workspace_status", "workspace_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("job"))
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    store_id: Mapped[str | None] = mapped_column(ForeignKey("stores.id", ondelete="SET NULL"))
    source_id: Mapped[str | None] = mapped_column(
        ForeignKey("connected_sources.id", ondelete="SET NULL"), index=True
    )
    engine_run_id: Mapped[str | None] = mapped_column(String(191), index=True)
    retry_of: Mapped[str | None] = mapped_column(String(191))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), default=JobStatus.QUEUED)  # a JobStatus
    trigger: Mapped[str] = mapped_column(String(16), default=JobTrigger.MANUAL)  # a JobTrigger
    triggered_by: Mapped[str | None] = mapped_column(String(191))
    input: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    output: Mapped[dict[str, Any] | None] = mapped_column(Json)
    error_message: Mapped[str | None] = mapped_column(Text)
    progress_processed: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    # The worker (DBOS executor) running the job and until when it vouches for it: it renews the lease
    # while it runs the job; once the lease has passed the job is interrupted and a live worker takes over.
    worker_id: Mapped[str | None] = mapped_column(String(191))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Seconds the rest of the run should take at its rate so far, as of its last progress update.
    eta_seconds: Mapped[float | None] = mapped_column(Float)


class DocumentFailure(Base):
    """A document a job could not index, and why; the run went on without it. One row per job and path:
    a step run again after a crash updates its row instead of adding one."""

    __tablename__ = "document_failures"
    __table_args__ = (UniqueConstraint("job_id", "path_key"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("fail"))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(1024))  # shortened in the middle when longer
    path: Mapped[str] = mapped_column(String(1024))  # shortened in the middle when longer
    path_key: Mapped[str | None] = mapped_column(String(64))  # sha256 of the whole path
    # binary|invalid_utf8|invalid_path|path_too_long|too_large|unreadable|database_error|...
    reason: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class JobStepResult(Base):
    """What one step of a sync wrote (a batch, the deletions), stored in the transaction that wrote it. A
    step run again after a crash, once its writes committed, returns this instead of redoing its work and
    counting its own documents as unchanged."""

    __tablename__ = "job_step_results"
    __table_args__ = (UniqueConstraint("job_id", "step"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("jstep"))
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(64))  # "batch:0", "batch:32", ..., "delete"
    result: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Metric(Base):
    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_workspace_type_ts", "workspace_id", "type", "timestamp"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("met"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    source_id: Mapped[str | None] = mapped_column(ForeignKey("connected_sources.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ApiKey(Base):
    """A workspace-bound API key; only its SHA-256 hash and a preview are stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("key"))
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    preview: Mapped[str] = mapped_column(String(32))  # "sk-lf-AbCd…wxyz"
    created_by: Mapped[str | None] = mapped_column(String(191))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_address: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class IdempotencyRecord(Base):
    """The first answer to a mutating request with an Idempotency-Key, replayed for repeats."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("api_key_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("idem"))
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(1024))
    body_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MetricHourly(Base):
    """Metrics summed per workspace, type and UTC hour, kept up to date by ``record_metric`` in the
    transaction that adds the metric: the dashboard's hourly charts read at most 720 rows a type instead
    of scanning a million metric rows (bench/dashboard.py measured both). Count, sum and maximum roll up;
    percentiles do not, so the charts show the average and the maximum."""

    __tablename__ = "metric_hourly"

    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    type: Mapped[str] = mapped_column(String(32), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)  # start of the hour, UTC
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[float] = mapped_column(Float, default=0.0)
    maximum: Mapped[float] = mapped_column(Float, default=0.0)


# The dashboard's job figures (counts by status, durations, hourly series) read only these columns of a
# workspace's jobs in a time window: covered by one index, they never touch the table rows.
Index(
    "ix_jobs_workspace_created_status_duration",
    Job.workspace_id,
    Job.created_at,
    Job.status,
    Job.duration_ms,
)


class User(Base):
    """A console user: an argon2id hash of the password only; the email lowercased (one address, one user)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("user"))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # None: cannot sign in yet
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Membership(Base):
    """A user's role in one organization: owner | admin | member."""

    __tablename__ = "memberships"
    # (organization_id, user_id): the unique index also serves listing an organization's members.
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("mem"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConsoleSession(Base):
    """A signed-in browser (the SHA-256 of its cookie's token); ends when idle too long or at expires_at."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("sess"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    workspace_id: Mapped[str | None] = mapped_column(ForeignKey("workspaces.id", ondelete="SET NULL"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class Invitation(Base):
    """A one-time link into an organization with a role; only the SHA-256 of its token is stored."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("inv"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(254))  # when set, only this address may accept
    created_by: Mapped[str | None] = mapped_column(String(191))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    used_by: Mapped[str | None] = mapped_column(String(191))


class LoginAttempt(Base):
    """One sign-in try, kept for the rate limit (failures per email and per address in a window)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("login"))
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# Linear and Notion (issue 13): their own module, registered on this metadata when this one is imported.
# The activity log (issue 12): its own module, like the vendors' tables.
# The relationship graph (issue 14): edges, the keys documents are known by, commits' changed paths.
from lightfast.db.activity_models import Activity as Activity  # noqa: E402
from lightfast.db.generation_models import EmbeddingGeneration, GenerationVector  # noqa: E402, F401
from lightfast.db.identity_models import DatabaseIdentity  # noqa: E402, F401 - issue 11, migration 0020
from lightfast.db.relationship_models import CommitChange, DocumentEdge, DocumentKey  # noqa: E402, F401
from lightfast.db.vendor_models import SourceCredential, VendorEntity  # noqa: E402, F401

# The live feed (db/live.py) polls a workspace's jobs changed since its last read (issue 12).
Index("ix_jobs_workspace_updated", Job.workspace_id, Job.updated_at)
