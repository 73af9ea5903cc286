"""The console's notification targets page (/settings/notifications): list, add (the signing secret shown
once, on the answer to the form), remove; CSRF on every form; refusals shown on the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from tests.conftest import make_settings


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[TestClient, Services]]:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'lf.db'}", host="127.0.0.1")
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    services.workspaces.ensure_workspace_id()
    with TestClient(create_app(services), follow_redirects=False) as client:
        yield client, services
    services.close()


def token(client: TestClient) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/settings/notifications").text)
    assert found
    return found.group(1)


def test_add_shows_the_secret_once_then_lists_and_removes(console: tuple[TestClient, Services]) -> None:
    client, services = console
    workspace_id = services.workspaces.ensure_workspace_id()
    assert "No notification target" in client.get("/settings/notifications").text
    form = {"csrf_token": token(client), "kind": "generic", "url": "http://127.0.0.1:9/hook", "name": "ops"}
    added = client.post("/settings/notifications", data={**form, "events": ["job.failed"]})
    assert added.status_code == 201
    (target,) = services.notifications.list_targets(workspace_id)
    assert target.events == ["job.failed"]
    secret = re.search(r'<code class="secret">(lfsig_[^<]+)</code>', added.text)
    assert secret
    listed = client.get("/settings/notifications").text
    assert target.id in listed
    assert secret.group(1) not in listed  # never again
    assert "/settings/notifications" in client.get("/settings").text  # the settings page links here
    removed = client.post(f"/settings/notifications/{target.id}/delete", data={"csrf_token": token(client)})
    assert removed.status_code == 303
    assert services.notifications.list_targets(workspace_id) == []


def test_refusals_are_shown_and_nothing_is_added(console: tuple[TestClient, Services]) -> None:
    client, services = console
    refused = client.post(
        "/settings/notifications",
        data={"csrf_token": token(client), "kind": "generic", "url": "file:///etc/passwd"},
    )
    assert refused.status_code == 400
    assert "http://" in refused.text
    assert services.notifications.list_targets(services.workspaces.ensure_workspace_id()) == []
    assert (
        client.post("/settings/notifications", data={"kind": "generic", "url": "http://x/"}).status_code
        == 403
    )
    assert client.post("/settings/notifications/ntg_x/delete", data={}).status_code == 403
    missing = client.post("/settings/notifications/ntg_x/delete", data={"csrf_token": token(client)})
    assert missing.status_code == 404
