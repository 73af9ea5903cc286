"""A Sentry backfill survives SIGKILL (issue 14): a real worker process lists the stand-in over HTTP
(each answer slowed down), is killed in the middle of a project's issues, and a restarted worker resumes
the same job from the checkpoint; the index then equals what an uninterrupted listing builds."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from lightfast.db.models import ConnectedSource, Document, Job
from lightfast.testing.sentry import SentryStandIn
from tests.conftest import make_settings
from tests.test_crash import Workers, job_row, wait_until
from tests.test_zendesk_crash import Served

pytestmark = pytest.mark.slow

TOKEN = "sntrys_standin_token_0123456789"
ISSUES = 18


def populate(standin: SentryStandIn) -> None:
    standin.add_project("api")
    standin.add_project("web", platform="javascript")
    for n in range(ISSUES):
        issue = standin.add_issue("api" if n < 12 else "web", f"ValueError: gadget{n} rattles", frames=5)
        if n % 2 == 0:
            standin.add_comment(issue["id"], f"Reply {n}: tighten the gadget{n} screws")


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp_path)
    try:
        yield started
    finally:
        started.kill_all()


@pytest.fixture
def served() -> Iterator[tuple[SentryStandIn, Served]]:
    standin = SentryStandIn(TOKEN, page_cap=3)
    populate(standin)
    server = Served(standin)  # type: ignore[arg-type]  # any stand-in with handle(request)
    try:
        yield standin, server
    finally:
        server.close()


def index(services: Services) -> Counter[tuple[str, str, str]]:
    with services.sessions() as session:
        rows = session.execute(
            select(Document.source_id, Document.path, Document.content_hash).where(
                Document.source_type == "sentry"
            )
        )
        # Without the connection's id (the two runs' connections differ): "<connection>:issue:N".
        return Counter((r.source_id.split(":", 1)[1], r.path, r.content_hash) for r in rows)


def checkpoint(services: Services, source_id: str) -> dict[str, Any]:
    with services.sessions() as session:
        source = session.get(ConnectedSource, source_id)
        assert source is not None
        return dict((source.source_metadata or {}).get("backfill") or {})


def test_a_killed_worker_resumes_the_backfill_from_its_checkpoint(
    tmp_path: Path,
    database_url: str,
    served: tuple[SentryStandIn, Served],
    workers: Workers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    standin, server = served
    monkeypatch.setenv("LIGHTFAST_SENTRY_BASE_URL", server.url)
    settings = make_settings(tmp_path, database_url, sentry_base_url=server.url, worker_id="crash-test")
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    try:
        workspace_id = services.workspaces.ensure_workspace_id()
        connected = services.vendors.connections.connect(
            workspace_id, "sentry", name="acme", token=TOKEN, options={"organization": "acme"}
        )
        job_id = connected.job_id
        assert job_id is not None
        first = workers.start(settings)

        def mid_listing() -> bool:
            found = checkpoint(services, connected.source.id)
            return bool(found.get("cursors", {}).get("api")) and int(found.get("changed", 0)) >= 6

        wait_until(
            mid_listing, timeout=60, proc=first, what="the issues' second page", log=lambda: workers.log(0)
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        killed = checkpoint(services, connected.source.id)
        assert "web" not in killed["done"]  # killed inside the listing
        assert job_row(services, job_id).status == "running"
        pages_before = sum(p.endswith("/issues/") for p in standin.requests)

        second = workers.start(settings)
        deadline = time.monotonic() + 120
        while (job := job_row(services, job_id)).status in ("queued", "running"):
            if second.poll() is not None:
                pytest.fail(f"the restarted worker exited ({second.returncode}):\n{workers.log(1)}")
            if time.monotonic() > deadline:
                pytest.fail(f"job still {job.status}:\n{workers.log(1)}")
            time.sleep(0.05)
        assert job.status == "completed", (job.error_message, workers.log(1))
        pages_after = sum(p.endswith("/issues/") for p in standin.requests)
        # 12 + 6 issues, 3 a page: 6 pages in all; the resumed run asked only for those not listed yet.
        assert pages_after - pages_before < 6
        with services.sessions() as session:
            assert list(session.scalars(select(Job.id))) == [job_id]
        crashed = index(services)
    finally:
        services.close()

    clean_settings = make_settings(tmp_path / "clean", f"sqlite:///{tmp_path / 'clean.db'}")
    clean = build_services(clean_settings, engine=make_engine(clean_settings.resolved_database_url))
    try:
        assert clean.vendors.sentry is not None
        clean.vendors.sentry.transport = standin.transport()
        workspace_id = clean.workspaces.ensure_workspace_id()
        again = clean.vendors.connections.connect(
            workspace_id, "sentry", name="acme", token=TOKEN, options={"organization": "acme"}
        )
        assert again.job_id is not None
        clean.runner.run_inline(again.job_id)
        expected = index(clean)
    finally:
        clean.close()
    assert sum(expected.values()) == ISSUES + ISSUES // 2
    assert crashed == expected
