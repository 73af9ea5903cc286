"""The search backend for a database, chosen by its dialect (as ``embed/registry.py`` chooses a model)."""

from __future__ import annotations

from sqlalchemy import Engine

from lightfast.index.base import SearchIndex
from lightfast.index.postgres import PostgresIndex
from lightfast.index.sqlite import SqliteIndex


def make_index(engine: Engine) -> SearchIndex:
    if engine.dialect.name == "postgresql":
        return PostgresIndex()
    return SqliteIndex()
