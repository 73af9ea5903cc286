"""pytest fixtures for testing against Lightfast: a fresh service on SQLite in ``tmp_path`` with the fake
embedder and a fake clock, an HTTP client bound to its API, and a job worker.

Installed with Lightfast as the ``lightfast`` pytest plugin (no ``pytest_plugins`` line needed; disable it
with ``-p no:lightfast``). Every fixture is named ``lightfast_*``. ::

    def test_search_answers(lightfast_client):
        response = lightfast_client.post("/v1/search", json={"query": "rotate keys"})
        assert response.status_code == 200

Change settings by overriding ``lightfast_settings_overrides`` in a conftest::

    @pytest.fixture
    def lightfast_settings_overrides():
        return {"chunk_size": 128}

Lightfast is imported when a fixture is first used, never when pytest loads the plugin.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from lightfast.app.container import Services
    from lightfast.app.engine import JobEngine
    from lightfast.sdk import Lightfast
    from lightfast.settings import Settings
    from lightfast.testing.clock import FakeClock


@pytest.fixture
def lightfast_settings_overrides() -> dict[str, Any]:
    """Settings that ``lightfast_settings`` sets over its defaults; override this fixture to change them."""
    return {}


@pytest.fixture
def lightfast_settings(tmp_path: Path, lightfast_settings_overrides: dict[str, Any]) -> Settings:
    """Settings of a throw-away Lightfast: its home and SQLite database under ``tmp_path``, the fake
    embedder, requests only with an API key. (Settings not given here are still read from ``LIGHTFAST_*``
    variables.)"""
    from lightfast.settings import Settings

    home = tmp_path / "lightfast"
    values: dict[str, Any] = {
        "home": home,
        "database_url": f"sqlite:///{home / 'lightfast.db'}",
        "embedding_provider": "fake",
        "allow_anonymous": False,
        "worker_id": "pytest",
        **lightfast_settings_overrides,
    }
    return Settings(**values)


@pytest.fixture
def lightfast_clock() -> FakeClock:
    """The clock of ``lightfast_services`` and its job engine; move it with ``advance(seconds)``."""
    from lightfast.testing.clock import FakeClock

    return FakeClock()


@pytest.fixture
def lightfast_services(lightfast_settings: Settings, lightfast_clock: FakeClock) -> Iterator[Services]:
    """The application services (migrated database, fake embedder, fake clock); closed after the test."""
    from lightfast.app.container import build_services

    services = build_services(lightfast_settings, clock=lightfast_clock)
    try:
        yield services
    finally:
        services.close()


@pytest.fixture
def lightfast_api_key(lightfast_services: Services) -> str:
    """The secret of an API key of the default workspace (created, with its organization, on first use)."""
    workspace_id = lightfast_services.workspaces.ensure_workspace_id()
    return lightfast_services.api_keys.create(workspace_id, "pytest").secret


@pytest.fixture
def lightfast_client(lightfast_services: Services, lightfast_api_key: str) -> Iterator[TestClient]:
    """A FastAPI ``TestClient`` of the HTTP API, sending ``lightfast_api_key``; no server, no socket."""
    from fastapi.testclient import TestClient

    from lightfast.api.app import create_app

    headers = {"Authorization": f"Bearer {lightfast_api_key}"}
    with TestClient(create_app(lightfast_services), headers=headers) as client:
        yield client


@pytest.fixture
def lightfast_sdk(lightfast_client: TestClient, lightfast_api_key: str) -> Iterator[Lightfast]:
    """The Python SDK's client, talking to the app through ``lightfast_client``; no retries."""
    import httpx

    from lightfast.sdk import Lightfast

    class ThroughTestClient(httpx.BaseTransport):
        """Hands each request to the TestClient (which speaks its own HTTP client library) and its
        answer back to the SDK."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "host"]
            answer = lightfast_client.request(
                request.method, str(request.url), content=request.read(), headers=headers
            )
            decoded = {"content-encoding", "content-length", "transfer-encoding"}  # content is decoded
            kept = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in decoded]
            return httpx.Response(answer.status_code, headers=kept, content=answer.content)

    base_url = str(lightfast_client.base_url).rstrip("/")
    with Lightfast(lightfast_api_key, base_url, max_retries=0, transport=ThroughTestClient()) as sdk:
        yield sdk


@pytest.fixture
def lightfast_worker(lightfast_services: Services) -> Iterator[JobEngine]:
    """A job worker in this process (DBOS and the dispatcher), so queued jobs run; stopped after. DBOS
    allows one per process: use it in one test at a time (with pytest-xdist, one per worker process)."""
    from lightfast.app.engine import JobEngine

    engine = JobEngine(lightfast_services).start()
    try:
        yield engine
    finally:
        engine.stop()
