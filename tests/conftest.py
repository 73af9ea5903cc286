"""Shared fixtures: a PostgreSQL started by the tests themselves (pgserver wheel, PostgreSQL 16 with
pgvector), a fresh database per test, and services wired to the fake embedder on both databases."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from lightfast.settings import Settings

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    import pgserver

    # Not under pytest's basetemp: pytest prunes old basetemps, which would pull the data directory
    # from under a server another concurrent session still runs.
    data = Path(tempfile.mkdtemp(prefix="lightfast-pg-"))
    server = pgserver.get_server(data, cleanup_mode="stop")
    yield server
    server.cleanup()
    shutil.rmtree(data, ignore_errors=True)


def _pg_url(server: Any, database: str) -> str:
    base = server.get_uri()  # postgresql://postgres:@/postgres?host=/tmp/...
    return base.replace("/postgres?", f"/{database}?", 1).replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.psql(f"CREATE DATABASE {name};")
    yield _pg_url(pg_server, name)
    pg_server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE);")


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'lightfast.db'}"
    return str(request.getfixturevalue("pg_url"))


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "home": tmp_path / "home",
        "database_url": database_url,
        "embedding_provider": "fake",
        "default_workspace": "default",
        "ingest_batch_documents": 4,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings, engine=make_engine(settings.resolved_database_url))
    yield built
    built.close()


@pytest.fixture
def sqlite_services(tmp_path: Path) -> Iterator[Services]:
    """Services on SQLite only, whatever ``database_url`` runs: for what only the embedded index has
    (its in-memory tables, their files)."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'lightfast.db'}")
    built = build_services(settings, engine=make_engine(settings.resolved_database_url))
    yield built
    built.close()


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root
