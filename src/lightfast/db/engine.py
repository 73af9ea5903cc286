"""Engines, sessions and schema migration for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The PostgreSQL advisory lock migrations take (advisory locks are per database): any fixed bigint
# that nothing else uses; this one spells "lf-migr" in ASCII.
MIGRATION_LOCK_KEY = 0x6C662D6D696772


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given without a driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets searches read while an ingest writes; foreign keys make deletes cascade to chunks.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migration_lock_path(engine: Engine) -> Path | None:
    """The file locked while a SQLite database migrates: next to the database file, so every process
    opening that file finds the same lock. None for an in-memory database, which no other process sees."""
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        return None
    path = Path(database.removeprefix("file:")).expanduser()
    return path.with_name(f"{path.name}.migrate.lock")


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path``, waited for; the kernel releases it if the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The file stays: removing it would let a process waiting on the old inode and a newcomer locking
    # a new file both go ahead.
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _upgrade(connection: Connection, engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent).

    Any number of processes may call this at once on a fresh database (a worker and the CLI starting
    together): they take turns under a lock, and each one after the first finds the schema current.
    PostgreSQL: a session-level advisory lock held by the migration connection, released once the
    migration's transaction has committed. SQLite: an exclusive file lock next to the database file.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
            try:
                with connection.begin():
                    _upgrade(connection, engine, revision)
            finally:
                if not connection.invalidated:  # a lost connection's session took its lock with it
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                    connection.commit()
        return
    lock = migration_lock_path(engine)
    with _file_lock(lock) if lock is not None else nullcontext(), engine.begin() as connection:
        _upgrade(connection, engine, revision)
