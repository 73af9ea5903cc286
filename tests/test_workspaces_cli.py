"""Workspaces as an operator sees them (issue 10, items 13 and 15): one notion of "the default
workspace", shared by the CLI, anonymous API requests and the search page; ``lightfast workspaces
create|list|rename|default|delete``; a delete job that removes everything of its workspace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.cli import app
from lightfast.db import events
from lightfast.db.engine import make_engine
from lightfast.db.models import (
    Activity,
    ApiKey,
    ConnectedSource,
    Document,
    IngestionEvent,
    Job,
    Metric,
    Store,
    VectorEntry,
    Workspace,
)
from lightfast.errors import Unauthenticated
from lightfast.settings import Settings
from tests.conftest import write
from tests.test_cli import as_json, cli_env, invoke, ok

CONFIG = "version: 1\nstore: docs\ninclude:\n  - docs/**/*.md\n  - README.md\n"
DOCS = {
    "README.md": "# Widget\n\nWidget indexes things quickly.\n",
    "docs/deploy.md": "# Deploying\n\nDeploy the kubernetes cluster with helm charts.\n",
    "docs/keys.md": "# Keys\n\nRotate keys every quarter.\n",
}


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """A fresh home on SQLite or PostgreSQL."""
    return cli_env(tmp_path, database_url)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write(tmp_path / "repo", {"lightfast.yml": CONFIG, **DOCS})


Server = Callable[[], tuple[Services, TestClient]]


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[Server]:
    """The API as ``lightfast serve`` runs it on the CLI's home: development on loopback, so requests
    without a key are allowed. Built lazily by the test (after the CLI made the database)."""
    made: list[tuple[Services, TestClient]] = []

    def start() -> tuple[Services, TestClient]:
        settings = Settings(
            home=Path(env["LIGHTFAST_HOME"]),
            database_url=env["LIGHTFAST_DATABASE_URL"],
            embedding_provider="fake",
        )
        services = build_services(settings)
        made.append((services, TestClient(create_app(services), raise_server_exceptions=False)))
        return made[-1]

    yield start
    for services, client in made:
        client.close()
        services.close()


def confirm(env: dict[str, str], answer: str, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env, input=answer)


def names(env: dict[str, str]) -> list[str]:
    return [w["name"] for w in as_json(ok(env, "workspaces", "list", "--json"))]


def default_name(env: dict[str, str]) -> str:
    [default] = [w["name"] for w in as_json(ok(env, "workspaces", "list", "--json")) if w["isDefault"]]
    return str(default)


# -- item 13: one default workspace -----------------------------------------------------------------


def test_anonymous_requests_use_the_workspace_the_cli_made(
    env: dict[str, str], repo: Path, server: Server
) -> None:
    """``lightfast ingest repo -w acme`` then ``lightfast serve``: the search page, POST /v1/search and
    GET /v1/stores answered 500 (later 404) because the setting said "default" while the database
    marked acme as the default workspace."""
    ok(env, "ingest", str(repo), "-w", "acme")
    services, client = server()
    assert services.settings.anonymous_allowed
    found = client.post("/v1/search", json={"query": "kubernetes helm", "mode": "fast"})
    assert found.status_code == 200, found.text
    assert found.json()["data"][0]["source"]["path"] == "docs/deploy.md"
    stores = client.get("/v1/stores")
    assert stores.status_code == 200, stores.text
    assert [s["name"] for s in stores.json()["items"]] == ["docs"]
    page = client.get("/")
    assert page.status_code == 200
    [workspace] = client.get("/v1/workspaces").json()["items"]
    assert (workspace["name"], workspace["isDefault"]) == ("acme", True)

    # The CLI agrees: commands without --workspace act on acme.
    assert default_name(env) == "acme"
    assert [j["name"] for j in as_json(ok(env, "jobs", "list", "--json"))] == [f"Ingest {repo.name}"]
    assert as_json(ok(env, "search", "rotate keys", "--json"))["results"]

    # Choosing another default moves every shell at once; the setting names no workspace any more.
    ok(env, "workspaces", "create", "empty")
    ok(env, "workspaces", "default", "empty")
    assert default_name(env) == "empty"
    assert client.get("/v1/stores").json()["items"] == []
    assert as_json(ok(env, "search", "rotate keys", "--json"))["results"] == []
    assert as_json(ok(env, "ingest", str(repo), "--json"))["workspace"] == "empty"


def test_anonymous_requests_on_a_fresh_install_say_what_to_do(env: dict[str, str], server: Server) -> None:
    _, client = server()
    answer = client.get("/v1/stores")
    assert answer.status_code == 404
    assert "no workspace yet" in answer.json()["message"]
    assert names(env) == []  # asking made nothing


def test_the_first_workspace_of_an_organization_is_its_default(env: dict[str, str], repo: Path) -> None:
    ok(env, "workspaces", "create", "first")
    ok(env, "workspaces", "create", "second")
    assert default_name(env) == "first"
    # LIGHTFAST_DEFAULT_WORKSPACE only names the workspace made when an organization has none.
    assert as_json(ok(env, "ingest", str(repo), "--json"))["workspace"] == "first"
    other = env | {"LIGHTFAST_DEFAULT_WORKSPACE": "second"}
    assert as_json(ok(other, "ingest", str(repo), "--json"))["workspace"] == "first"
    ok(env, "workspaces", "create", "third", "--default")
    assert default_name(env) == "third"
    assert sum(w["isDefault"] for w in as_json(ok(env, "workspaces", "list", "--json"))) == 1


# -- item 15: workspaces without ingesting ---------------------------------------------------------


def test_workspaces_create_list_rename(env: dict[str, str]) -> None:
    missing = invoke(env, "keys", "create", "--workspace", "other")
    assert missing.exit_code == 2
    assert "workspace 'other' does not exist" in missing.stderr

    created = as_json(ok(env, "workspaces", "create", "other", "--json"))
    assert (created["name"], created["isDefault"]) == ("other", True)
    key = as_json(ok(env, "keys", "create", "--workspace", "other", "--json"))
    assert key["key"].startswith("sk-lf-")

    again = invoke(env, "workspaces", "create", "other")
    assert again.exit_code == 1
    assert "workspace 'other' already exists" in again.stderr
    bad = invoke(env, "workspaces", "create", "no/such/org")
    assert bad.exit_code == 2
    assert "organization 'no/such' does not exist" in bad.stderr
    invalid = invoke(env, "workspaces", "create", "bad*name")
    assert invalid.exit_code == 2

    ok(env, "workspaces", "rename", "other", "docs")
    assert names(env) == ["docs"]
    keys = as_json(ok(env, "keys", "list", "--workspace", "docs", "--json"))
    assert [k["id"] for k in keys] == [key["id"]]  # a rename keeps what the workspace holds

    # Another organization: ORG/NAME, and its own default.
    ok(env, "orgs", "create", "acme", "--workspace", "main")
    ok(env, "workspaces", "create", "acme/wiki")
    listed = as_json(ok(env, "workspaces", "list", "--org", "acme", "--json"))
    assert [(w["name"], w["isDefault"]) for w in listed] == [("main", True), ("wiki", False)]
    human = ok(env, "workspaces", "list", "--org", "acme").stdout
    assert "acme/wiki" in human
    assert names(env) == ["docs"]  # the default organization's


# -- item 15: delete is a job that removes everything -------------------------------------------------


def rows_of(url: str, workspace_id: str) -> dict[str, set[Any]]:
    """Every row that belongs to a workspace, by table."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            stores = set(session.scalars(select(Store.id).where(Store.workspace_id == workspace_id)))
            return {
                "workspaces": set(session.scalars(select(Workspace.id).where(Workspace.id == workspace_id))),
                "stores": stores,
                "documents": set(session.scalars(select(Document.id).where(Document.store_id.in_(stores)))),
                "chunks": set(
                    session.scalars(select(VectorEntry.seq).where(VectorEntry.store_id.in_(stores)))
                ),
                "events": set(
                    session.scalars(select(IngestionEvent.id).where(IngestionEvent.store_id.in_(stores)))
                ),
                "sources": set(
                    session.scalars(
                        select(ConnectedSource.id).where(ConnectedSource.workspace_id == workspace_id)
                    )
                ),
                "keys": set(session.scalars(select(ApiKey.id).where(ApiKey.workspace_id == workspace_id))),
                "jobs": set(session.scalars(select(Job.id).where(Job.workspace_id == workspace_id))),
                "metrics": set(session.scalars(select(Metric.id).where(Metric.workspace_id == workspace_id))),
                "activities": set(
                    session.scalars(select(Activity.id).where(Activity.workspace_id == workspace_id))
                ),
            }
    finally:
        engine.dispose()


def test_delete_removes_everything_of_the_workspace(env: dict[str, str], repo: Path, server: Server) -> None:
    ok(env, "ingest", str(repo), "-w", "main")
    ok(env, "ingest", str(repo), "-w", "doomed")
    services, client = server()
    doomed = services.workspaces.workspace_id("doomed")
    main = services.workspaces.workspace_id("main")
    secret = as_json(ok(env, "keys", "create", "-w", "doomed", "--json"))["key"]
    ok(env, "keys", "create", "-w", "main")
    bearer = {"Authorization": f"Bearer {secret}"}
    made = client.post("/v1/stores", json={"name": "notes"}, headers=bearer)  # an activity, a second store
    assert made.status_code == 201, made.text
    with services.sessions.begin() as session:  # a webhook delivery that fed its store
        [store, _] = services.workspaces.stores(doomed)
        events.record_event(
            session,
            source_type="github",
            event_key="delivery-1",
            event_type="push",
            metadata={},
            origin="webhook",
            status="processed",
            store_id=store.store.id,
        )
    url = env["LIGHTFAST_DATABASE_URL"]
    before, kept = rows_of(url, doomed), rows_of(url, main)
    assert all(before.values()), before  # something in every table

    asked = confirm(env, "n\n", "workspaces", "delete", "doomed")
    assert asked.exit_code == 1  # aborted
    assert "Delete workspace doomed with its 2 store(s), 1 source(s), 3 document(s)" in asked.stderr
    assert rows_of(url, doomed) == before

    result = as_json(ok(env, "workspaces", "delete", "doomed", "--yes", "--json"))
    assert result == {
        "workspace": "doomed",
        "jobId": result["jobId"],
        "status": "completed",
        "stores": 2,
        "sources": 1,
        "documents": 3,
        "keys": 1,
        "error": None,
    }
    assert rows_of(url, doomed) == {table: set() for table in before}
    assert rows_of(url, main) == kept
    assert names(env) == ["main"]
    with pytest.raises(Unauthenticated):
        services.api_keys.authenticate(secret, "127.0.0.1")
    assert as_json(ok(env, "search", "kubernetes", "-w", "main", "--json"))["results"]
    assert client.post("/v1/search", json={"query": "kubernetes"}).json()["data"]  # main: the default
    gone = invoke(env, "jobs", "show", result["jobId"])
    assert gone.exit_code == 2  # the job went with its workspace
    assert "does not exist" in gone.stderr


def test_a_workspace_being_deleted_takes_nothing_new(env: dict[str, str], repo: Path) -> None:
    ok(env, "ingest", str(repo), "-w", "main")
    ok(env, "ingest", str(repo), "-w", "old")
    job_id = ok(env, "workspaces", "delete", "old", "--yes", "--detach").stdout.strip()
    assert job_id.startswith("job_")
    shown = as_json(ok(env, "jobs", "show", job_id, "--json"))  # found through its id (item 14)
    assert (shown["name"], shown["status"]) == ("Delete workspace old", "queued")
    assert "deleting" in ok(env, "workspaces", "list").stdout
    for command in (
        ("keys", "create", "-w", "old"),
        ("ingest", str(repo), "-w", "old"),
        ("search", "x", "-w", "old"),
    ):
        refused = invoke(env, *command)
        assert refused.exit_code == 1, command
        assert "workspace 'old' is being deleted" in refused.stderr
    # Asking again follows the pending job (a worker runs here) instead of queueing another.
    again = as_json(ok(env, "workspaces", "delete", "old", "--yes", "--json"))
    assert (again["jobId"], again["status"]) == (job_id, "completed")
    assert names(env) == ["main"]
    ok(env, "workspaces", "create", "old")  # the name is free again
    assert as_json(ok(env, "keys", "list", "-w", "old", "--json")) == []


def test_the_default_workspace_goes_last(env: dict[str, str], repo: Path) -> None:
    ok(env, "ingest", str(repo), "-w", "main")
    ok(env, "workspaces", "create", "spare")
    refused = invoke(env, "workspaces", "delete", "main", "--yes")
    assert refused.exit_code == 1
    assert "make another one the default first (lightfast workspaces default spare)" in refused.stderr
    assert names(env) == ["main", "spare"]
    ok(env, "workspaces", "delete", "spare", "--yes")
    ok(env, "workspaces", "delete", "main", "--yes")  # the only one left
    assert names(env) == []
    # The next thing put into the organization makes LIGHTFAST_DEFAULT_WORKSPACE, as on a fresh install.
    assert as_json(ok(env, "ingest", str(repo), "--json"))["workspace"] == "default"
    assert default_name(env) == "default"
