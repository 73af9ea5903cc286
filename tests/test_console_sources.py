"""The console's sources page through the ASGI app: the list, the config dialog's page with the file as
read and its problems by line and column, and the actions (each a CSRF-checked form post recording the
viewer as who triggered it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from tests.conftest import make_settings, write

VALID = "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n"
# Line 3 holds the problem: the store name has upper-case letters.
BROKEN = "version: 1\ninclude: ['**/*.md']\nstore: Not_Valid\n"


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[TestClient, Services]]:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'lf.db'}", host="127.0.0.1")
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    with TestClient(create_app(services), follow_redirects=False) as client:
        yield client, services
    services.close()


def csrf(client: TestClient, path: str = "/sources") -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def connect(services: Services, root: Path) -> str:
    workspace_id = services.workspaces.ensure_workspace_id()
    write(root, {"lightfast.yml": VALID, "a.md": "# A\n\nalpha\n"})
    return services.sources.connect_local(workspace_id, root).source.id


def test_empty_workspace_says_what_to_do(console: tuple[TestClient, Services]) -> None:
    client, _ = console
    page = client.get("/sources")
    assert page.status_code == 200
    assert "No source is connected" in page.text


def test_list_shows_each_source_with_status_and_actions(
    console: tuple[TestClient, Services], tmp_path: Path
) -> None:
    client, services = console
    source_id = connect(services, tmp_path / "repo")
    page = client.get("/sources").text
    assert f'id="source-{source_id}"' in page
    assert "repo" in page
    for action in ("Sync now", "Reindex (full)", "Detect config", "Disconnect"):
        assert action in page
    assert re.search(r'data-config-status="(configured|pending|ingesting)"', page)


def test_config_page_shows_the_file_and_problems_with_line_and_column(
    console: tuple[TestClient, Services], tmp_path: Path
) -> None:
    client, services = console
    root = tmp_path / "repo"
    source_id = connect(services, root)
    (root / "lightfast.yml").write_text(BROKEN)
    token = csrf(client)
    detected = client.post(f"/sources/{source_id}/detect-config", data={"csrf_token": token})
    assert detected.status_code == 303
    page = client.get(detected.headers["location"]).text
    assert "store: Not_Valid" in page  # the file as read
    assert re.search(r"line 3:8</span> <code>store</code>", page)  # the value's position, 1-based
    assert 'class="bad" data-line="3"' in page  # the line is marked in the listing
    fragment = client.get(f"/sources/{source_id}/config?fragment=1").text
    assert "<html" not in fragment
    assert "store: Not_Valid" in fragment


def test_actions_need_the_csrf_token(console: tuple[TestClient, Services], tmp_path: Path) -> None:
    client, services = console
    source_id = connect(services, tmp_path / "repo")
    for action in ("sync", "detect-config", "schedule", "disconnect"):
        assert client.post(f"/sources/{source_id}/{action}", data={}).status_code == 403
        assert client.post(f"/sources/{source_id}/{action}", data={"csrf_token": "forged"}).status_code == 403


def test_sync_now_and_reindex_queue_jobs_triggered_by_the_viewer(
    console: tuple[TestClient, Services], tmp_path: Path
) -> None:
    client, services = console
    source_id = connect(services, tmp_path / "repo")
    workspace_id = services.workspaces.ensure_workspace_id()
    token = csrf(client)
    before = {j.id for j in services.jobs.list_jobs(workspace_id, limit=50)[0]}
    answer = client.post(f"/sources/{source_id}/sync", data={"csrf_token": token, "full": "1"})
    assert answer.status_code == 303
    assert "queued" in answer.headers["location"]
    new = [j for j in services.jobs.list_jobs(workspace_id, limit=50)[0] if j.id not in before]
    assert new, "no job was queued"
    assert {j.triggered_by for j in new} == {"local-admin"}


def test_schedule_set_and_cleared(console: tuple[TestClient, Services], tmp_path: Path) -> None:
    client, services = console
    source_id = connect(services, tmp_path / "repo")
    workspace_id = services.workspaces.ensure_workspace_id()
    token = csrf(client)
    client.post(f"/sources/{source_id}/schedule", data={"csrf_token": token, "cron": "0 * * * *"})
    assert services.sources.get(workspace_id, source_id).source_metadata["schedule"]["cron"] == "0 * * * *"
    refused = client.post(f"/sources/{source_id}/schedule", data={"csrf_token": token, "cron": "not cron"})
    assert "error=" in refused.headers["location"]
    client.post(f"/sources/{source_id}/schedule", data={"csrf_token": token, "clear": "1"})
    assert "schedule" not in services.sources.get(workspace_id, source_id).source_metadata
    too_long = client.post(f"/sources/{source_id}/schedule", data={"csrf_token": token, "cron": "*" * 500})
    assert too_long.status_code == 400  # bounded: refused before the service


def test_disconnect_confirmation_names_what_is_deleted_then_disconnects(
    console: tuple[TestClient, Services], tmp_path: Path
) -> None:
    client, services = console
    source_id = connect(services, tmp_path / "repo")
    workspace_id = services.workspaces.ensure_workspace_id()
    confirm = client.get(f"/sources/{source_id}/disconnect").text
    assert "document" in confirm
    assert "queued or running job" in confirm
    token = csrf(client)
    done = client.post(f"/sources/{source_id}/disconnect", data={"csrf_token": token})
    assert done.status_code == 303
    assert "Disconnecting" in done.headers["location"]
    assert services.sources.get(workspace_id, source_id).disconnected_at is not None


def test_unknown_source_is_404(console: tuple[TestClient, Services]) -> None:
    client, _ = console
    assert client.get("/sources/src_nope/config").status_code == 404
    assert client.get("/sources/src_nope/disconnect").status_code == 404
