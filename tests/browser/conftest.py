"""Browser tests: a real Lightfast server (uvicorn on a free loopback port, with its job worker) driven by
Debian's Chromium through Playwright. ``make test`` installs Chromium when it is missing.

Each test's final page is kept as a screenshot under ``test-artifacts/screenshots/``."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.app.engine import JobEngine
from lightfast.settings import Settings

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")
# Headless, offline, and nothing of the user's profile: a clean browser for each run.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_executable() -> str:
    configured = os.environ.get("LIGHTFAST_CHROMIUM")
    found = configured or next((p for c in CHROMIUM_CANDIDATES if (p := shutil.which(c))), None)
    if not found:
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium (or set LIGHTFAST_CHROMIUM)")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    services: Services
    settings: Settings


def start_server(
    settings: Settings, port: int
) -> tuple[uvicorn.Server, threading.Thread, Services, JobEngine]:
    services = build_services(settings)
    engine = JobEngine(services).start()
    config = uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    return server, thread, services, engine


@pytest.fixture
def live_settings_overrides() -> dict[str, Any]:
    """Override to change the live server's settings (for example ``{"allow_anonymous": False}``)."""
    return {}


@pytest.fixture
def live_server(tmp_path: Path, live_settings_overrides: dict[str, Any]) -> Iterator[LiveServer]:
    port = free_port()
    values: dict[str, Any] = {
        "home": tmp_path / "home",
        "database_url": f"sqlite:///{tmp_path / 'home' / 'lightfast.db'}",
        "embedding_provider": "fake",
        "worker_id": f"browser-{port}",
        "host": "127.0.0.1",
        "port": port,
        "allow_anonymous": True,  # the development install: the local admin, no password
        "ingest_batch_documents": 2,
        **live_settings_overrides,
    }
    settings = Settings(**values)
    server, thread, services, engine = start_server(settings, port)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", services, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        engine.stop()
        services.close()


# One browser per test, not per session: while Playwright's sync API is open it keeps an event loop running
# in the test thread, and every later test of that xdist worker calling asyncio.run() would fail.
@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
        with contextlib.suppress(Exception):  # a page that crashed has nothing to keep
            opened.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        context.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
