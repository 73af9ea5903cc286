"""Concurrent creation of the same named row, on SQLite and PostgreSQL: a get-or-create gives every
caller the one row, and a create that must be new answers one caller and tells the others it exists."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from lightfast.db.models import ConnectedSource, Organization, Store, Workspace
from lightfast.errors import Conflict
from tests.conftest import make_settings, write

CALLERS = 6


@pytest.fixture
def fresh(tmp_path: Path, database_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, database_url)
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    yield services
    services.close()


def at_once(work: Callable[[], Any]) -> list[Any]:
    """Run ``work`` in CALLERS threads released together; each result or exception, in order."""
    barrier = threading.Barrier(CALLERS)
    results: list[Any] = [None] * CALLERS

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def count(services: Services, model: Any) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_fresh_install_creates_one_organization_and_workspace(fresh: Services) -> None:
    results = at_once(lambda: fresh.workspaces.ensure_workspace_id("team"))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(set(results)) == 1
    assert (count(fresh, Organization), count(fresh, Workspace)) == (1, 1)


def test_connecting_the_same_directory_at_once_gives_one_source(fresh: Services, tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {"README.md": "# Repo\n"})
    results = at_once(lambda: fresh.ingest.register_local(repo, "team").connection_id)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(set(results)) == 1
    assert count(fresh, ConnectedSource) == 1


def test_creating_the_same_store_at_once_is_one_store_and_conflicts(fresh: Services) -> None:
    workspace = fresh.workspaces.ensure_workspace_id("team")
    results = at_once(lambda: fresh.workspaces.create_store(workspace, "notes").store.id)
    created = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(created) == 1
    assert len(refused) == CALLERS - 1, results
    assert count(fresh, Store) == 1


def test_creating_the_same_workspace_at_once_conflicts_instead_of_failing(fresh: Services) -> None:
    parent = fresh.workspaces.ensure_workspace_id("team")
    results = at_once(lambda: fresh.workspaces.create(parent, "other").id)
    assert len([r for r in results if isinstance(r, str)]) == 1
    assert len([r for r in results if isinstance(r, Conflict)]) == CALLERS - 1, results
