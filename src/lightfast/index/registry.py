"""The search backend for a database, chosen by its dialect (as ``embed/registry.py`` chooses a model)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from lightfast.index.base import SearchIndex
from lightfast.index.postgres import PostgresIndex
from lightfast.index.sqlite import SqliteIndex


def make_index(engine: Engine, vector_dir: Path | None = None) -> SearchIndex:
    """``vector_dir``: where SQLite's in-memory vector tables are persisted (None: not at all);
    PostgreSQL searches vectors in the database and keeps none."""
    if engine.dialect.name == "postgresql":
        return PostgresIndex()
    return SqliteIndex(vector_dir)
