"""The SDK against a live server (uvicorn in a thread) on both databases."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from lightfast import AsyncLightfast, Lightfast
from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from lightfast.sdk.errors import AuthenticationError, BadRequestError, ConflictError, NotFoundError
from tests.conftest import make_settings, write


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[tuple[str, str, Services]]:
    settings = make_settings(tmp_path, database_url, allow_anonymous=False)
    services = build_services(settings, engine=make_engine(database_url))
    repo = write(
        tmp_path / "repo",
        {
            "docs/deploy.md": "# Deploying\n\nRun the release pipeline to deploy the service to prod.\n",
            "docs/keys.md": "# API keys\n\nRotate API keys every ninety days from the settings page.\n",
        },
    )
    services.ingest.ingest_path(repo, "live")
    secret = services.api_keys.create(services.workspaces.workspace_id("live"), "sdk").secret
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", secret, services
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        services.close()


def test_sync_client_against_a_live_server(live: tuple[str, str, Services]) -> None:
    base_url, secret, _ = live
    with Lightfast(secret, base_url=base_url) as client:
        found = client.search("rotate keys", limit=5)
        assert found.data[0].source.path == "docs/keys.md"
        assert found.request_id.startswith("req_")
        document_id = found.data[0].document_id
        contents = client.contents([document_id, "doc_missing"])
        assert contents.items[0].content.startswith("# API keys")
        assert contents.missing == ["doc_missing"]
        similar = client.find_similar(document_id, limit=5)
        assert all(item.document_id != document_id for item in similar.data)
        jobs = client.jobs.list(limit=5)
        assert jobs.items
        assert jobs.items[0].status == "completed"
        detail = client.jobs.get(jobs.items[0].id)
        assert detail.id == jobs.items[0].id
        with pytest.raises(ConflictError) as conflict:
            client.jobs.retry(jobs.items[0].id)
        assert conflict.value.request_id
        with pytest.raises(NotFoundError):
            client.jobs.get("job_does_not_exist")
        sources = client.sources.list()
        assert [s.type for s in sources] == ["local"]
    with Lightfast("sk-lf-" + "x" * 43, base_url=base_url) as bad, pytest.raises(AuthenticationError) as info:
        bad.search("anything")
    assert info.value.code == "unauthorized"


def test_async_client_against_a_live_server(live: tuple[str, str, Services]) -> None:
    base_url, secret, _ = live

    async def run() -> list[str]:
        async with AsyncLightfast(secret, base_url=base_url) as client:
            found = await client.search("deploy to production", mode="fast")
            return [item.source.path for item in found.data]

    assert asyncio.run(run())[0] == "docs/deploy.md"


def test_the_sdk_connects_a_vendor_source_and_reads_its_webhook_setup(
    live: tuple[str, str, Services],
) -> None:
    """A webhook-only Linear connection (no token: no backfill job) and a refused Zendesk one."""
    base_url, secret, _ = live
    with Lightfast(secret, base_url=base_url) as client:
        linear = client.sources.connect_vendor("linear", name="acme")
        assert linear.type == "linear"
        assert linear.job_id is None
        assert linear.mode == "webhook-only"
        assert linear.webhook_url is not None
        assert linear.webhook_url.endswith(f"/webhooks/linear/{linear.id}")
        assert linear.webhook_secret is not None  # generated, shown this once
        again = client.sources.connect_vendor("linear", name="acme")
        assert again.id == linear.id
        assert again.webhook_secret is None  # a reconnect keeps the secret and does not show it
        with pytest.raises(BadRequestError) as refused:
            client.sources.connect_vendor("zendesk", subdomain="not a subdomain!")
        assert "subdomain" in str(refused.value)
