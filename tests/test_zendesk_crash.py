"""A Zendesk backfill survives SIGKILL (issue 14): a real worker process lists the stand-in over HTTP
(each answer slowed down), is killed in the middle of the ticket export, and a restarted worker resumes
the same job from the checkpoint; the index then equals what an uninterrupted listing builds."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from lightfast.db.models import ConnectedSource, Document, Job
from lightfast.testing.zendesk import ZendeskStandIn
from tests.conftest import make_settings
from tests.test_crash import Workers, job_row, wait_until

pytestmark = pytest.mark.slow

TOKEN = "zd_standin_token_0123456789"
EMAIL = "agent@acme.example"
TICKETS = 24
DELAY = 0.08  # seconds per answer: the listing takes a few seconds


def populate(standin: ZendeskStandIn) -> None:
    section = standin.add_section("Billing", standin.add_category("Accounts"))
    standin.add_article("Update your card", "<p>Open <b>Billing</b> and replace the card.</p>", section)
    for n in range(TICKETS):
        ticket = standin.add_ticket(f"Crash ticket {n} about gadget{n}", f"gadget{n} rattles when shaken")
        if n % 2 == 0:
            standin.add_comment(ticket["id"], f"Reply {n}: tighten the gadget{n} screws")


class Served:
    """The stand-in behind a real HTTP server, so a worker process can reach it."""

    def __init__(self, standin: ZendeskStandIn) -> None:
        served = standin

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(DELAY)
                request = httpx.Request(
                    "GET", f"http://stand-in{self.path}", headers=dict(self.headers.items())
                )
                answer = served.handle(request)
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp_path)
    try:
        yield started
    finally:
        started.kill_all()


@pytest.fixture
def served() -> Iterator[tuple[ZendeskStandIn, Served]]:
    standin = ZendeskStandIn(TOKEN, EMAIL, export_page=3)
    populate(standin)
    server = Served(standin)
    try:
        yield standin, server
    finally:
        server.close()


def index(services: Services) -> Counter[tuple[str, str, str]]:
    with services.sessions() as session:
        rows = session.execute(
            select(Document.source_id, Document.path, Document.content_hash).where(
                Document.source_type == "zendesk"
            )
        )
        return Counter((r.source_id, r.path, r.content_hash) for r in rows)


def checkpoint(services: Services, source_id: str) -> dict[str, Any]:
    with services.sessions() as session:
        source = session.get(ConnectedSource, source_id)
        assert source is not None
        return dict((source.source_metadata or {}).get("backfill") or {})


def test_a_killed_worker_resumes_the_backfill_from_its_checkpoint(
    tmp_path: Path,
    database_url: str,
    served: tuple[ZendeskStandIn, Served],
    workers: Workers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    standin, server = served
    monkeypatch.setenv("LIGHTFAST_ZENDESK_BASE_URL", server.url)
    settings = make_settings(tmp_path, database_url, zendesk_base_url=server.url, worker_id="crash-test")
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    try:
        workspace_id = services.workspaces.ensure_workspace_id()
        connected = services.vendors.connections.connect(
            workspace_id, "zendesk", name="acme", token=TOKEN, options={"subdomain": "acme", "email": EMAIL}
        )
        job_id = connected.job_id
        assert job_id is not None
        first = workers.start(settings)

        def mid_listing() -> bool:
            found = checkpoint(services, connected.source.id)
            return bool(found.get("cursors", {}).get("tickets")) and int(found.get("changed", 0)) >= 6

        wait_until(
            mid_listing, timeout=60, proc=first, what="the export's second page", log=lambda: workers.log(0)
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        killed = checkpoint(services, connected.source.id)
        assert killed["done"] == []  # killed inside the ticket export
        assert job_row(services, job_id).status == "running"
        exports_before = sum(p.endswith("cursor.json") for p in standin.requests)

        second = workers.start(settings)
        deadline = time.monotonic() + 120
        while (job := job_row(services, job_id)).status in ("queued", "running"):
            if second.poll() is not None:
                pytest.fail(f"the restarted worker exited ({second.returncode}):\n{workers.log(1)}")
            if time.monotonic() > deadline:
                pytest.fail(f"job still {job.status}:\n{workers.log(1)}")
            time.sleep(0.05)
        assert job.status == "completed", (job.error_message, workers.log(1))
        exports_after = sum(p.endswith("cursor.json") for p in standin.requests)
        # 24 tickets, 3 a page: 8 pages in all; the resumed run asked only for those not listed yet.
        assert exports_after - exports_before < 8
        with services.sessions() as session:
            assert list(session.scalars(select(Job.id))) == [job_id]
        crashed = index(services)
    finally:
        services.close()

    clean_settings = make_settings(tmp_path / "clean", f"sqlite:///{tmp_path / 'clean.db'}")
    clean = build_services(clean_settings, engine=make_engine(clean_settings.resolved_database_url))
    try:
        assert clean.vendors.zendesk is not None
        clean.vendors.zendesk.transport = standin.transport()
        workspace_id = clean.workspaces.ensure_workspace_id()
        again = clean.vendors.connections.connect(
            workspace_id, "zendesk", name="acme", token=TOKEN, options={"subdomain": "acme", "email": EMAIL}
        )
        assert again.job_id is not None
        clean.runner.run_inline(again.job_id)
        expected = index(clean)
    finally:
        clean.close()
    assert sum(expected.values()) == TICKETS + TICKETS // 2 + 1
    assert crashed == expected
