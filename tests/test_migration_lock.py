"""Any number of processes may start at once on a fresh home or database: migrations are serialized (a
file lock next to a SQLite database, an advisory lock on PostgreSQL), so none of them dies with ``table
organizations already exists`` and the schema ends at head.

Each test starts several real processes (``subprocess``, a fresh interpreter each, like ``lightfast
worker &`` next to ``lightfast ingest``). They first import everything and report ready; only when all
are ready does the test let them go, so their migrations start within a millisecond of each other.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from lightfast.db.engine import MIGRATIONS_DIR, make_engine, migrate, migration_lock_path
from tests.test_migrations import differences

PROCESSES = 5
READY_TIMEOUT = 120.0  # importing the package on a busy 2-core machine
RUN_TIMEOUT = 180.0

# Run by each child: import, say ready, wait for the go file, then migrate (or build the services).
CHILD = """
import os, sys, time
from pathlib import Path

mode, url, home, ready, go = sys.argv[1:6]
from lightfast.db.engine import make_engine, migrate
from lightfast.app.container import build_services
from lightfast.settings import Settings

Path(ready).touch()
while not os.path.exists(go):
    time.sleep(0.001)
if mode == "migrate":
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
else:
    settings = Settings(home=home, database_url=url, embedding_provider="fake")
    build_services(settings).close()
print("done")
"""


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def start_together(tmp_path: Path, mode: str, url: str, count: int = PROCESSES) -> list[tuple[int, str]]:
    """Run ``count`` children that migrate ``url`` at the same moment; their (exit code, output)."""
    go = tmp_path / "go"
    children: list[tuple[subprocess.Popen[str], Path]] = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for i in range(count):
        ready = tmp_path / f"ready-{i}"
        home = tmp_path / "home"
        args = [sys.executable, "-c", CHILD, mode, url, str(home), str(ready), str(go)]
        child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        children.append((child, ready))
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not all(ready.exists() for _, ready in children):
            failed = [child for child, _ in children if child.poll() is not None]
            assert not failed, failed[0].communicate()[0]
            assert time.monotonic() < deadline, "the children did not start"
            time.sleep(0.02)
        go.touch()
        return [(child.wait(RUN_TIMEOUT), child.communicate()[0]) for child, _ in children]
    finally:
        for child, _ in children:
            if child.poll() is None:
                child.kill()
                child.wait()


def assert_all_succeeded(results: list[tuple[int, str]]) -> None:
    failures = [output for code, output in results if code != 0]
    assert not failures, f"{len(failures)} of {len(results)} processes failed; first:\n{failures[0]}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fresh' / 'lightfast.db'}"


def check_at_head(url: str) -> None:
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head_revision()
        assert differences(engine) == []
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------
# SQLite: a file lock next to the database file
# --------------------------------------------------------------------------------------------------


def test_processes_migrating_a_fresh_sqlite_file_at_once_all_succeed(tmp_path: Path, sqlite_url: str) -> None:
    assert_all_succeeded(start_together(tmp_path, "migrate", sqlite_url))
    check_at_head(sqlite_url)


def test_processes_building_services_on_a_fresh_home_at_once_all_succeed(tmp_path: Path) -> None:
    """``lightfast worker &`` then ``lightfast ingest``: every process builds the services."""
    url = f"sqlite:///{tmp_path / 'home' / 'lightfast.db'}"
    assert_all_succeeded(start_together(tmp_path, "services", url))
    check_at_head(url)


def test_the_sqlite_lock_file_lives_next_to_the_database(tmp_path: Path, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        lock = migration_lock_path(engine)
        assert lock is not None
        assert lock.parent == tmp_path / "fresh"
        assert lock.name.startswith("lightfast.db")
        migrate(engine)
        assert lock.exists()  # left in place: deleting it would let a waiter lock a different file
    finally:
        engine.dispose()


def test_an_in_memory_database_needs_no_lock() -> None:
    engine = make_engine("sqlite://")
    try:
        assert migration_lock_path(engine) is None
        # One connection per thread would be a new, empty database: keep the one migrate uses.
        migrate(engine)
    finally:
        engine.dispose()


def test_the_sqlite_lock_is_held_while_migrating(tmp_path: Path, sqlite_url: str) -> None:
    """Another process holding the lock keeps ``migrate`` waiting; it proceeds once the lock is free."""
    import fcntl
    import threading

    engine = make_engine(sqlite_url)
    lock = migration_lock_path(engine)
    assert lock is not None
    lock.parent.mkdir(parents=True, exist_ok=True)
    finished = threading.Event()

    def run() -> None:
        migrate(engine)
        finished.set()

    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        thread = threading.Thread(target=run)
        thread.start()
        assert not finished.wait(1.0), "migrate did not wait for the lock"
        fcntl.flock(handle, fcntl.LOCK_UN)
    thread.join(60)
    assert finished.is_set()
    engine.dispose()
    check_at_head(sqlite_url)


# --------------------------------------------------------------------------------------------------
# PostgreSQL: an advisory lock on the migration connection
# --------------------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_processes_migrating_a_fresh_postgres_database_at_once_all_succeed(
    tmp_path: Path, pg_url: str
) -> None:
    assert_all_succeeded(start_together(tmp_path, "migrate", pg_url))
    check_at_head(pg_url)


@pytest.mark.postgres
def test_processes_building_services_on_a_fresh_postgres_database_at_once_all_succeed(
    tmp_path: Path, pg_url: str
) -> None:
    assert_all_succeeded(start_together(tmp_path, "services", pg_url))
    check_at_head(pg_url)


@pytest.mark.postgres
def test_the_advisory_lock_is_released_after_migrating(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        migrate(engine)
        with engine.connect() as connection:
            held = connection.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"))
        assert held == 0
    finally:
        engine.dispose()
