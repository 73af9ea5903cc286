"""``lightfast index verify|rebuild`` on SQLite and PostgreSQL: damage the derived index, verify names
the damage and exits non-zero, rebuild repairs it, and searches answer as before the damage."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from lightfast.app.container import Services
from lightfast.app.index_maintenance import IndexMaintenance
from lightfast.app.search import SearchMode, SearchRequest
from lightfast.cli import app
from lightfast.db.models import VectorEntry
from lightfast.errors import NotFound
from lightfast.index.sqlite import SqliteIndex
from lightfast.index.vectors import ChunkRows
from tests.conftest import write

WORDS = ["deploy", "cluster", "helm", "widget", "install", "token", "rotate"]
WORDS += ["signing", "billing", "invoice", "quota", "search", "index", "vector"]
QUERIES = ["deploy the cluster", "rotate signing token", "billing invoice quota", "vector search index"]


def corpus() -> dict[str, str]:
    rng = random.Random(11)
    files = {"lightfast.yml": "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n"}
    for number in range(12):
        paragraphs = [" ".join(rng.choices(WORDS, k=40)) for _ in range(1 + number % 4)]
        files[f"docs/{number:02d}.md"] = f"# Page {number}\n\n" + "\n\n".join(paragraphs) + "\n"
    return files


@pytest.fixture
def ingested(services: Services, tmp_path: Path) -> Services:
    services.ingest.ingest_path(write(tmp_path / "repo", corpus()))
    return services


def maintenance(services: Services) -> IndexMaintenance:
    return services.index_maintenance


def rankings(services: Services) -> dict[tuple[str, str], list[tuple[str, float]]]:
    workspace = services.workspaces.workspace_id(None)
    out = {}
    for mode in (SearchMode.FAST, SearchMode.DENSE, SearchMode.BALANCED):
        for query in QUERIES:
            request = SearchRequest(workspace_id=workspace, query=query, mode=mode, limit=20)
            out[(mode.value, query)] = [(r.id, r.score) for r in services.search.search(request).results]
    return out


def cli(services: Services, *args: str) -> Result:
    settings = services.settings
    env = {
        "LIGHTFAST_HOME": str(settings.home_dir),
        "LIGHTFAST_EMBEDDING_PROVIDER": "fake",
        "LIGHTFAST_DATABASE_URL": settings.resolved_database_url,
        "LIGHTFAST_DEFAULT_WORKSPACE": "default",
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, ["index", *args], env=env)


def damage(services: Services) -> str:
    """Damage the derived index without touching a chunk row; return the id of a chunk it lost."""
    with services.sessions.begin() as session:
        chunk = session.execute(
            text("SELECT seq, id, content FROM vector_entries ORDER BY seq LIMIT 1 OFFSET 3")
        ).one()
        if services.engine.dialect.name == "postgresql":
            session.execute(text("DROP INDEX ix_vector_entries_hnsw_384"))
            session.execute(text("DROP INDEX ix_vector_entries_tsv"))
        else:
            # The lexical index forgets a chunk and gains a row of no chunk.
            session.execute(
                text("INSERT INTO chunks_fts(chunks_fts, rowid, content) VALUES ('delete', :seq, :content)"),
                {"seq": chunk.seq, "content": chunk.content},
            )
            session.execute(
                text("INSERT INTO chunks_fts(rowid, content) VALUES (987654, 'ghost deploy cluster')")
            )
    if isinstance(services.index, SqliteIndex):
        # This process's vector table drifts: a row dropped behind the change log's back.
        (entry,) = services.index._tables.values()  # the one store, loaded by the searches before
        entry.table.apply(np.array([chunk.seq], dtype=np.int64), ChunkRows.empty(384))
        # And so does its in-memory BM25 index.
        with services.sessions() as session:
            services.index.wait_lexical(session).replace([chunk.seq], [])
    return str(chunk.id)


def test_verify_finds_damage_and_rebuild_repairs_it(ingested: Services) -> None:
    services = ingested
    before = rankings(services)
    state = maintenance(services).verify(services.workspaces.workspace_id(None))
    assert state.consistent, state
    (store,) = state.stores
    assert store.chunks == store.lexical_indexed == store.vector_indexed >= 12
    if isinstance(services.index, SqliteIndex):
        assert store.ranked_indexed == store.chunks
    assert cli(services, "verify").exit_code == 0

    lost = damage(services)
    state = maintenance(services).verify(services.workspaces.workspace_id(None), "docs")
    assert not state.consistent
    result = cli(services, "verify", "--store", "docs")
    assert result.exit_code == 1, result.stdout
    assert "differs from the database" in result.stderr
    if services.engine.dialect.name == "postgresql":
        assert set(state.problems) == {
            "index ix_vector_entries_hnsw_384 is missing",
            "index ix_vector_entries_tsv is missing",
        }
        assert "ix_vector_entries_tsv is missing" in result.stderr
    else:
        assert state.stores[0].missing_lexical == [lost]
        assert state.stores[0].vector_indexed == state.stores[0].chunks - 1
        assert state.stores[0].ranked_indexed == state.stores[0].chunks - 1
        assert state.extra_lexical == [987654]
        assert lost in result.stderr
        assert "987654" in result.stderr
    generation = state.stores[0].generation

    result = cli(services, "rebuild")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert "rebuilt in" in result.stdout
    state = maintenance(services).verify(services.workspaces.workspace_id(None))
    assert state.consistent, state
    assert state.stores[0].generation == generation + 1
    assert cli(services, "verify", "--json").exit_code == 0
    # The server process (here: these services) answers as before the damage.
    assert rankings(services) == before


def test_rebuild_in_process_repairs_its_own_tables(ingested: Services) -> None:
    services = ingested
    before = rankings(services)
    damage(services)
    state = maintenance(services).rebuild(services.workspaces.workspace_id(None), "docs")
    assert state.consistent, state
    assert rankings(services) == before


def test_a_chunk_of_another_dimension_is_reported_and_not_hidden_by_a_rebuild(ingested: Services) -> None:
    services = ingested
    with services.sessions.begin() as session:
        chunk_id = session.execute(text("SELECT id FROM vector_entries ORDER BY seq LIMIT 1")).scalar_one()
    with services.sessions.begin() as session:
        vector = np.ones(8, dtype=np.float32) / np.sqrt(8)
        session.query(VectorEntry).filter(VectorEntry.id == chunk_id).update({"embedding": vector})
    state = maintenance(services).rebuild(services.workspaces.workspace_id(None))
    assert not state.consistent
    assert state.stores[0].wrong_dimension == [chunk_id]
    result = cli(services, "verify")
    assert result.exit_code == 1
    assert "re-ingest the store" in result.stderr


def test_an_unknown_store_is_named(ingested: Services) -> None:
    with pytest.raises(NotFound, match="nope"):
        maintenance(ingested).verify(ingested.workspaces.workspace_id(None), "nope")
    result = cli(ingested, "verify", "--store", "nope")
    assert result.exit_code == 2
    assert "nope" in result.stderr
