"""Linear and Notion backfills survive SIGKILL (issue 13): a real worker process lists the stand-in over
HTTP (each listing answer slowed down), is killed in the middle of the listing, and a restarted worker
resumes the same job from the checkpoint; the index then equals what an uninterrupted run builds in
another install against the same upstream data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from lightfast.db.models import ConnectedSource, Document, Job
from lightfast.settings import Settings
from lightfast.testing.linear import LinearStandIn
from lightfast.testing.notion import NotionStandIn
from lightfast.testing.notion.server import block
from tests.conftest import make_settings
from tests.test_crash import ROOT, WORKER, WORKER_ID, job_row, wait_until

pytestmark = pytest.mark.slow

LINEAR_KEY = "lin_api_standin_key_0123456789"
NOTION_TOKEN = "secret_standin_integration_token"
LISTING_DELAY = 0.4  # seconds per listing answer: the window in which the worker is killed


class Served:
    """A stand-in behind a real HTTP server (GET and POST), so a worker process can reach it. Answers
    for which ``slow`` says so wait LISTING_DELAY first."""

    def __init__(self, handle: Callable[[httpx.Request], httpx.Response], slow: Callable[[str, bytes], bool]):
        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if slow(self.path, body):
                    time.sleep(LISTING_DELAY)
                request = httpx.Request(
                    self.command,
                    f"http://stand-in{self.path}",
                    headers=dict(self.headers.items()),
                    content=body,
                )
                answer = handle(request)
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "content-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Vendor:
    kind: str  # "linear" | "notion"
    token: str
    documents: int  # what an uninterrupted run indexes
    listing: str  # the checkpoint's connection whose pages the kill lands between
    later: str | None  # a connection listed after it (not done when killed), if any
    settings: dict[str, str]  # Settings overrides pointing at the served stand-in
    env: dict[str, str]


def linear_vendor(stack: list[Served]) -> Vendor:
    standin = LinearStandIn(LINEAR_KEY)
    standin.add_project("Roadmap", "Where we are going")
    issues = [standin.add_issue(f"Issue {n} about topic{n}", f"Text of topic{n}") for n in range(120)]
    for n in range(0, 120, 6):
        standin.add_comment(issues[n], f"Comment on topic{n}")
    served = Served(standin.handle, lambda _path, body: b"issues" in body)
    stack.append(served)
    return Vendor(
        "linear",
        LINEAR_KEY,
        1 + 120 + 20,
        "issues",
        "comments",
        {"linear_api_url": served.url},
        {"LIGHTFAST_LINEAR_API_URL": served.url},
    )


def notion_vendor(stack: list[Served]) -> Vendor:
    standin = NotionStandIn(NOTION_TOKEN)
    for n in range(230):
        standin.add_page(f"Page {n}", [block("paragraph", f"Notes on subject{n}")])
    served = Served(standin.handle, lambda path, _body: path.startswith("/v1/search"))
    stack.append(served)
    return Vendor(
        "notion",
        NOTION_TOKEN,
        230,
        "pages",
        None,
        {"notion_api_url": served.url},
        {"LIGHTFAST_NOTION_API_URL": served.url},
    )


@pytest.fixture
def stack() -> Iterator[list[Served]]:
    servers: list[Served] = []
    yield servers
    for server in servers:
        server.close()


class Workers:
    """Worker processes (tests/crash_worker.py) that index quickly: only the listing is slowed down."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path, self.env = tmp_path, env
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, settings: Settings) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            **self.env,
            "LIGHTFAST_HOME": str(settings.home_dir),
            "LIGHTFAST_DATABASE_URL": settings.resolved_database_url,
            "LIGHTFAST_EMBEDDING_PROVIDER": "fake",
            "LIGHTFAST_WORKER_ID": WORKER_ID,
            "LIGHTFAST_DISPATCH_INTERVAL": "0.05",
            "CRASH_EMBED_DELAY": "0",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
        }
        log = (self.tmp_path / f"worker{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, str(WORKER)], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp_path
        )
        log.close()
        self.procs.append(proc)
        return proc

    def log(self, index: int) -> str:
        path = self.tmp_path / f"worker{index}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


def index(services: Services, kind: str, connection_id: str) -> Counter[tuple[str, str, str, str]]:
    """The index by what does not depend on the install: source ids without the connection's prefix."""
    with services.sessions() as session:
        rows = session.execute(
            select(Document.source_id, Document.path, Document.title, Document.content_hash).where(
                Document.source_type == kind
            )
        )
        prefix = f"{connection_id}:"
        return Counter((r.source_id.removeprefix(prefix), r.path, r.title, r.content_hash) for r in rows)


def checkpoint(services: Services, source_id: str) -> dict[str, Any]:
    with services.sessions() as session:
        source = session.get(ConnectedSource, source_id)
        assert source is not None
        return dict((source.source_metadata or {}).get("backfill") or {})


@pytest.mark.parametrize("make_vendor", [linear_vendor, notion_vendor], ids=["linear", "notion"])
def test_a_killed_worker_resumes_the_backfill_to_an_identical_index(
    tmp_path: Path,
    database_url: str,
    stack: list[Served],
    make_vendor: Callable[[list[Served]], Vendor],
) -> None:
    vendor = make_vendor(stack)
    workers = Workers(tmp_path, vendor.env)
    settings = make_settings(tmp_path, database_url, worker_id=WORKER_ID, **vendor.settings)
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    try:
        workspace_id = services.workspaces.ensure_workspace_id()
        connected = services.vendors.connections.connect(
            workspace_id, vendor.kind, name="acme", token=vendor.token
        )
        job_id = connected.job_id
        assert job_id is not None
        first = workers.start(settings)

        def mid_listing() -> bool:
            found = checkpoint(services, connected.source.id)
            return bool(found.get("cursors", {}).get(vendor.listing)) and vendor.listing not in found["done"]

        wait_until(
            mid_listing, timeout=90, proc=first, what="the listing's second page", log=lambda: workers.log(0)
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        killed = checkpoint(services, connected.source.id)
        assert vendor.listing not in killed["done"]  # killed inside the listing
        if vendor.later:
            assert vendor.later not in killed["done"]
        assert job_row(services, job_id).status == "running"

        second = workers.start(settings)
        deadline = time.monotonic() + 180
        while (job := job_row(services, job_id)).status in ("queued", "running"):
            if second.poll() is not None:
                pytest.fail(f"the restarted worker exited ({second.returncode}):\n{workers.log(1)}")
            if time.monotonic() > deadline:
                pytest.fail(f"job still {job.status}:\n{workers.log(1)}")
            time.sleep(0.05)
        assert job.status == "completed", (job.error_message, workers.log(1))
        with services.sessions() as session:
            assert list(session.scalars(select(Job.id))) == [job_id]  # resumed, not started again
        crashed = index(services, vendor.kind, connected.source.id)
    finally:
        workers.kill_all()
        services.close()

    clean_settings = make_settings(
        tmp_path / "clean", f"sqlite:///{tmp_path / 'clean.db'}", **vendor.settings
    )
    clean = build_services(clean_settings, engine=make_engine(clean_settings.resolved_database_url))
    try:
        workspace_id = clean.workspaces.ensure_workspace_id()
        again = clean.vendors.connections.connect(workspace_id, vendor.kind, name="acme", token=vendor.token)
        assert again.job_id is not None
        clean.runner.run_inline(again.job_id)
        expected = index(clean, vendor.kind, again.source.id)
    finally:
        clean.close()
    assert sum(expected.values()) == vendor.documents
    assert crashed == expected, json.dumps(sorted(set(expected) ^ set(crashed))[:5], default=str)
