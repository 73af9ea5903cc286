"""The Alembic migrations create exactly the schema of ``lightfast.db.models`` on SQLite and PostgreSQL,
plus the dialect-specific search structures the models cannot express."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Text, event, inspect, text

from lightfast.db.engine import alembic_config, make_engine, migrate
from lightfast.db.models import DIALECT_OBJECTS, NAMING, Base, is_dialect_object
from lightfast.db.types import UtcDateTime

HEAD = "0020"  # the newest revision

FTS_TRIGGERS = {"vector_entries_fts_insert", "vector_entries_fts_delete", "vector_entries_fts_update"}
# The log of changed chunk rows the in-process vector index reads (migration 0004), by trigger and table.
CHANGE_TRIGGERS = {
    "vector_entries_changes_insert": "vector_entries",
    "vector_entries_changes_delete": "vector_entries",
    "vector_entries_changes_update": "vector_entries",
    "vector_changes_prune": "vector_changes",
}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An empty database: SQLite in a temporary file, or a fresh PostgreSQL database (``pg_url``)."""
    built = make_engine(database_url)
    yield built
    built.dispose()


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """The filter of ``migrations/env.py``: the search structures created with raw DDL are not models."""
    return name is None or not is_dialect_object(name)


def differences(engine: Engine, metadata: MetaData = Base.metadata, *, filtered: bool = True) -> list[Any]:
    """What ``alembic revision --autogenerate`` would still emit, flattened to one entry per change.

    Types are compared (``compare_type=True``) with Alembic's own comparator. It needs no help with the
    TypeDecorators of ``lightfast.db.types`` (UtcDateTime, Json, Embedding): it renders the model's type
    with the database's type compiler, which goes through ``load_dialect_impl``, so it compares
    TIMESTAMP WITH TIME ZONE / JSONB / VECTOR on PostgreSQL and DATETIME / JSON / BLOB on SQLite with what
    the database reports — no false positives, and real mismatches are found (see
    ``test_type_and_schema_drift_is_detected``), so no custom ``compare_type`` callable is needed.
    """
    opts: dict[str, Any] = {"compare_type": True, "compare_server_default": True}
    if filtered:
        opts["include_name"] = include_name
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=opts)
        diffs = compare_metadata(context, metadata)
    flat: list[Any] = []
    for diff in diffs:
        flat.extend(diff if isinstance(diff, list) else [diff])
    return flat


def diff_name(diff: tuple[Any, ...]) -> tuple[str, str]:
    """(operation, name of the table, column or index) of one autogenerate difference."""
    operation = diff[0]
    if operation.startswith("modify_"):
        return operation, f"{diff[2]}.{diff[3]}"
    if operation in ("add_column", "remove_column"):
        return operation, str(diff[3].name)
    return operation, str(diff[1].name)


def names(engine: Engine, kind: str) -> set[str]:
    with engine.connect() as connection:
        return set(
            connection.scalars(text("SELECT name FROM sqlite_master WHERE type = :kind"), {"kind": kind})
        )


def schema_snapshot(engine: Engine) -> Any:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            return connection.execute(text("SELECT type, name, sql FROM sqlite_master ORDER BY name")).all()
        columns = connection.execute(
            text(
                "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = 'public' ORDER BY table_name, column_name"
            )
        ).all()
        indexes = connection.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")
        ).all()
        return columns + indexes


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


# --------------------------------------------------------------------------------------------------
# Both databases
# --------------------------------------------------------------------------------------------------


def test_migrations_create_exactly_the_models(engine: Engine) -> None:
    migrate(engine)
    assert current_revision(engine) == HEAD
    assert differences(engine) == []
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)


def test_the_filter_hides_only_the_dialect_search_structures(engine: Engine) -> None:
    migrate(engine)
    hidden = {diff_name(d) for d in differences(engine, filtered=False)}
    assert hidden, "the search structures should exist (and be seen without the filter)"
    assert all(is_dialect_object(name) for _, name in hidden), hidden
    assert {op for op, _ in hidden} <= {"remove_table", "remove_index", "remove_column"}
    if engine.dialect.name == "postgresql":
        assert {name for _, name in hidden} == DIALECT_OBJECTS
    else:
        assert ("remove_table", "chunks_fts") in hidden


def test_type_and_schema_drift_is_detected(engine: Engine) -> None:
    """The comparison can fail: changes to the database or to the models show up as differences."""
    migrate(engine)
    # Models that differ from the database, on columns of each TypeDecorator.
    drifted = MetaData(naming_convention=NAMING)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["vector_entries"].c.embedding.type = Text()
    drifted.tables["documents"].c.frontmatter.type = UtcDateTime()
    drifted.tables["jobs"].c.started_at.type = Text()
    found = {diff_name(d) for d in differences(engine, drifted)}
    assert found == {
        ("modify_type", "vector_entries.embedding"),
        ("modify_type", "documents.frontmatter"),
        ("modify_type", "jobs.started_at"),
    }

    # A database that differs from the models.
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE documents ADD COLUMN extra INTEGER"))
        connection.execute(text("DROP INDEX ix_documents_store_slug"))
        if engine.dialect.name == "postgresql":
            # The dialect implementations matter: timestamptz vs timestamp, jsonb vs json.
            connection.execute(text("ALTER TABLE jobs ALTER COLUMN started_at TYPE timestamp"))
            connection.execute(text("ALTER TABLE jobs ALTER COLUMN input TYPE json"))
    found = {diff_name(d) for d in differences(engine)}
    expected = {("remove_column", "extra"), ("add_index", "ix_documents_store_slug")}
    if engine.dialect.name == "postgresql":
        expected |= {("modify_type", "jobs.started_at"), ("modify_type", "jobs.input")}
    assert found == expected


def test_migrating_twice_is_a_no_op(engine: Engine) -> None:
    migrate(engine)
    before = schema_snapshot(engine)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        migrate(engine)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    changes = [
        s
        for s in statements
        if s.lstrip().split(None, 1)[0].upper() in {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"}
    ]
    assert changes == []
    assert schema_snapshot(engine) == before
    assert current_revision(engine) == HEAD
    assert differences(engine) == []


def test_downgrade_to_base_then_upgrade_to_head(engine: Engine) -> None:
    migrate(engine)
    command.downgrade(alembic_config(engine), "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    if engine.dialect.name == "sqlite":
        assert names(engine, "trigger") == set()
    migrate(engine)
    assert current_revision(engine) == HEAD
    assert differences(engine) == []
    if engine.dialect.name == "sqlite":
        assert names(engine, "trigger") == FTS_TRIGGERS | set(CHANGE_TRIGGERS)
        assert "chunks_fts" in names(engine, "table")


# --------------------------------------------------------------------------------------------------
# SQLite: FTS5
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_engine(tmp_path: Any) -> Iterator[Engine]:
    built = make_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
    yield built
    built.dispose()


def test_sqlite_has_the_fts_table_and_its_triggers(sqlite_engine: Engine) -> None:
    migrate(sqlite_engine)
    with sqlite_engine.connect() as connection:
        fts_sql = connection.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'"))
        triggers = dict(
            connection.execute(text("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")).all()
        )
    assert "fts5" in fts_sql.lower()
    assert "content='vector_entries'" in fts_sql
    assert triggers == {**dict.fromkeys(FTS_TRIGGERS, "vector_entries"), **CHANGE_TRIGGERS}


def test_sqlite_triggers_keep_the_fts_index_in_step(sqlite_engine: Engine) -> None:
    migrate(sqlite_engine)

    def matches(connection: Any, query: str) -> list[int]:
        return list(
            connection.scalars(text("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH :q"), {"q": query})
        )

    # The chunk row has no parent rows here: switch foreign keys off (outside a transaction, where the
    # pragma takes effect) rather than build a whole tenancy for a trigger test.
    with sqlite_engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
        connection.commit()
        connection.execute(
            text(
                "INSERT INTO vector_entries (seq, id, store_id, document_id, chunk_index, content_hash, "
                "content, token_count, embedding, upserted_at) VALUES (7, 'd#0', 's', 'd', 0, 'h', "
                "'deploying the servers', 3, x'00000000', '2024-01-01 00:00:00')"
            )
        )
        assert matches(connection, "deploy") == [7]  # porter stemming
        connection.execute(text("UPDATE vector_entries SET content = 'rollback plan' WHERE seq = 7"))
        assert matches(connection, "deploy") == []
        assert matches(connection, "rollback") == [7]
        connection.execute(text("DELETE FROM vector_entries WHERE seq = 7"))
        assert matches(connection, "rollback") == []


# --------------------------------------------------------------------------------------------------
# PostgreSQL: pgvector, tsvector, HNSW
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    built = make_engine(pg_url)
    yield built
    built.dispose()


@pytest.mark.postgres
def test_postgres_has_pgvector_the_tsv_column_and_the_search_indexes(pg_engine: Engine) -> None:
    migrate(pg_engine)
    with pg_engine.connect() as connection:
        extensions = set(connection.scalars(text("SELECT extname FROM pg_extension")))
        tsv = connection.execute(
            text(
                "SELECT data_type, is_generated, generation_expression FROM information_schema.columns "
                "WHERE table_name = 'vector_entries' AND column_name = 'tsv'"
            )
        ).one()
        embedding_type = connection.scalar(
            text(
                "SELECT udt_name FROM information_schema.columns "
                "WHERE table_name = 'vector_entries' AND column_name = 'embedding'"
            )
        )
        indexes = dict(
            connection.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'vector_entries'")
            ).all()
        )
    assert "vector" in extensions
    assert embedding_type == "vector"
    assert tsv.data_type == "tsvector"
    assert tsv.is_generated == "ALWAYS"
    assert "to_tsvector('english'" in tsv.generation_expression
    hnsw = indexes["ix_vector_entries_hnsw_384"]
    assert "USING hnsw" in hnsw
    assert "vector_cosine_ops" in hnsw
    assert "vector_dims(embedding) = 384" in hnsw
    assert "USING gin (tsv)" in indexes["ix_vector_entries_tsv"]


def test_activities_written_before_0015_get_their_source_and_status(engine: Engine) -> None:
    """The rows already on a timeline when 0015 runs: a source's own rows and its jobs' rows find the
    source, a failure reads failed, and every row has a summary to search."""
    command.upgrade(alembic_config(engine), "0014")
    with engine.begin() as conn:
        now = "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP"
        conn.execute(
            text(
                "INSERT INTO organizations (id, slug, name, created_at, updated_at)"
                f" VALUES ('org_1', 'acme', 'Acme', {now})"
            )
        )
        conn.execute(
            text(
                "INSERT INTO workspaces (id, organization_id, name, slug, is_default, settings, created_at,"
                f" updated_at) VALUES ('ws_1', 'org_1', 'w', 'w', true, '{{}}', {now})"
            )
        )
        rows = [
            ("act_1", "source", "source.connected", "source", "src_1"),
            ("act_2", "job", "job.failed", "job", "job_1"),
            ("act_3", "api_key", "api_key.created", "api_key", "key_1"),
        ]
        for ident, category, action, entity_type, entity_id in rows:
            conn.execute(
                text(
                    "INSERT INTO activities (id, workspace_id, actor_type, category, action, entity_type,"
                    " entity_id, details, timestamp) VALUES (:id, 'ws_1', 'system', :category, :action,"
                    " :entity_type, :entity_id, '{}', CURRENT_TIMESTAMP)"
                ),
                {"id": ident, "category": category, "action": action, "entity_type": entity_type,
                 "entity_id": entity_id},
            )  # fmt: skip
    migrate(engine)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT id, source_id, status, summary FROM activities ORDER BY id")).all()
    assert [tuple(row) for row in found] == [
        ("act_1", "src_1", "ok", "source.connected"),
        ("act_2", None, "failed", "job.failed"),  # its job is gone: no source to name
        ("act_3", None, "ok", "api_key.created"),
    ]
