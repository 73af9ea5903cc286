"""The activity log: a job's life recorded where it happens with its actor and impact; filters, the
cursor, and exports of exactly the filtered rows (CSV safe to open in a spreadsheet), on both databases."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightfast.app.activity_log import FORMULA_STARTS, csv_cell, decode_cursor
from lightfast.app.container import Services
from lightfast.db.activities import ActivityFilters, actor_of
from lightfast.errors import InvalidInput
from tests.conftest import write

CONFIG = "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n"


def ingest(services: Services, root: Path, files: dict[str, str]) -> tuple[str, str]:
    """A local source synced inline; (workspace id, source id)."""
    write(root, {"lightfast.yml": CONFIG, **files})
    services.ingest.ingest_path(root)
    workspace = services.workspaces.workspace_id()
    source = services.sources.list(workspace)[0].id
    return workspace, source


def everything(services: Services, workspace: str, filters: ActivityFilters, size: int = 2) -> list[str]:
    """Every filtered activity id, page by page with the cursor."""
    ids: list[str] = []
    cursor = None
    while True:
        page = services.activity.page(workspace, filters, limit=size, cursor=cursor)
        ids += [a.id for a in page.items]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def test_a_jobs_life_is_recorded_with_its_actor_and_impact(services: Services, tmp_path: Path) -> None:
    workspace, source = ingest(
        services, tmp_path / "docs", {"a.md": "# A\n\nalpha\n", "b.md": "# B\n\nbeta\n"}
    )
    jobs = services.activity.page(workspace, ActivityFilters(category="job"), limit=50).items
    actions = [a.action for a in reversed(jobs)]
    assert actions == ["job.queued", "job.started", "job.completed"]
    finished = jobs[0]
    assert finished.details["impact"]["documents_added"] == 2
    assert finished.details["duration_ms"] >= 0
    assert finished.details["source_id"] == source
    assert {a.entity_id for a in jobs} == {finished.entity_id}

    queued = services.jobs.enqueue_sync(workspace, source, triggered_by="user:usr_1").job_id
    services.jobs.cancel(workspace, queued)
    retried = services.jobs.retry(workspace, queued, triggered_by="local-admin")
    by_job = {
        a.action: a for a in services.activity.page(workspace, ActivityFilters(text=queued), limit=50).items
    }
    assert (by_job["job.queued"].actor_type, by_job["job.queued"].actor_id) == ("user", "usr_1")
    assert by_job["job.cancelled"].details["error"] == "cancelled"
    (retry,) = services.activity.page(workspace, ActivityFilters(text=retried.id), limit=50).items
    assert retry.action == "job.retried"
    assert retry.details["retry_of"] == queued
    assert (retry.actor_type, retry.actor_id) == ("user", "local-admin")


def test_filters_and_the_cursor_cover_exactly_the_matching_rows(services: Services, tmp_path: Path) -> None:
    workspace, source = ingest(services, tmp_path / "docs", {"a.md": "# A\n\nalpha\n"})
    for _ in range(3):
        services.jobs.cancel(workspace, services.jobs.enqueue_sync(workspace, source).job_id)
    every = everything(services, workspace, ActivityFilters())
    assert len(every) == len(set(every))  # no row twice across pages
    assert every == [a.id for a in services.activity.page(workspace, ActivityFilters(), limit=200).items]

    jobs_only = everything(services, workspace, ActivityFilters(category="job"))
    assert jobs_only
    assert set(jobs_only) <= set(every)
    of_source = everything(services, workspace, ActivityFilters(source=source))
    source_rows = services.activity.page(workspace, ActivityFilters(category="source"), limit=200).items
    # The source's own rows, its jobs', and the store its first sync created.
    (store_created,) = services.activity.page(workspace, ActivityFilters(category="store"), limit=200).items
    assert (store_created.action, store_created.source_id) == ("store.created", source)
    assert set(of_source) == set(jobs_only) | {a.id for a in source_rows if a.entity_id == source} | {
        store_created.id
    }
    assert everything(services, workspace, ActivityFilters(source="src_nope")) == []
    assert len(everything(services, workspace, ActivityFilters(text="job.cancelled"))) == 3
    assert everything(services, workspace, ActivityFilters(text="100%_")) == []  # LIKE wildcards are literal
    by_system = everything(services, workspace, ActivityFilters(actor="system"))
    assert set(jobs_only) <= set(by_system)
    system_rows = services.activity.page(workspace, ActivityFilters(actor="system"), limit=200).items
    assert {a.actor_type for a in system_rows} == {"system"}

    newest = services.activity.page(workspace, ActivityFilters(), limit=1).items[0].timestamp
    assert everything(services, workspace, ActivityFilters(since=newest + timedelta(seconds=1))) == []
    assert everything(services, workspace, ActivityFilters(until=newest - timedelta(days=1))) == []
    assert everything(services, workspace, ActivityFilters(since=newest - timedelta(days=1))) == every


def test_exports_hold_exactly_the_filtered_rows(services: Services, tmp_path: Path) -> None:
    workspace, source = ingest(services, tmp_path / "docs", {"a.md": "# A\n\nalpha\n"})
    services.jobs.cancel(workspace, services.jobs.enqueue_sync(workspace, source).job_id)
    filters = ActivityFilters(text="job.cancelled")
    shown = everything(services, workspace, filters)
    assert len(shown) == 1

    rows = list(csv.DictReader(io.StringIO("".join(services.activity.export_csv(workspace, filters)))))
    assert [row["id"] for row in rows] == shown
    assert rows[0]["action"] == "job.cancelled"
    assert json.loads(rows[0]["details"])["error"] == "cancelled"

    exported = json.loads("".join(services.activity.export_json(workspace, filters)))
    assert [item["id"] for item in exported["items"]] == shown
    assert exported["nextCursor"] is None
    everything_exported = json.loads("".join(services.activity.export_json(workspace, ActivityFilters())))
    assert [item["id"] for item in everything_exported["items"]] == everything(
        services, workspace, ActivityFilters()
    )


def test_a_cursor_not_issued_by_the_server_is_refused() -> None:
    for forged in ("zzz", "", "bm90IGEgY3Vyc29y"):
        with pytest.raises(InvalidInput, match="cursor"):
            decode_cursor(forged)


@given(st.text(max_size=40))
def test_a_csv_cell_never_starts_a_formula(value: str) -> None:
    cell = csv_cell(value)
    assert not cell.startswith(FORMULA_STARTS)
    assert cell in (value, "'" + value)


@given(st.sampled_from(["manual", "scheduled", "webhook", "automatic"]), st.none() | st.text(max_size=20))
def test_every_job_has_one_kind_of_actor(trigger: str, triggered_by: str | None) -> None:
    actor_type, _ = actor_of(trigger, triggered_by)
    assert actor_type in ("user", "api_key", "webhook", "scheduler", "system")


def test_config_detection_and_connections_are_on_the_timeline(services: Services, tmp_path: Path) -> None:
    workspace, source = ingest(services, tmp_path / "docs", {"a.md": "# A\n\nalpha\n"})
    sources = services.activity.page(workspace, ActivityFilters(category="source"), limit=50).items
    detected = [a for a in sources if a.action.startswith("config.")]
    assert [a.action for a in detected] == ["config.configured"]
    assert detected[0].entity_id == source
    assert detected[0].details["path"] == "lightfast.yml"

    (tmp_path / "docs" / "lightfast.yml").write_text("version: 1\nstore: [\n")
    assert services.sources.detect_config(workspace, source).status == "error"
    actions = [
        a.action for a in services.activity.page(workspace, ActivityFilters(source=source), limit=50).items
    ]
    assert actions.count("config.error") == 1
    # Detection that finds the same again adds nothing.
    services.sources.detect_config(workspace, source)
    again = [
        a.action for a in services.activity.page(workspace, ActivityFilters(source=source), limit=50).items
    ]
    assert again.count("config.error") == 1


def test_searches_by_api_key_are_recorded_without_their_text(lightfast_client: Any) -> None:
    answer = lightfast_client.post("/v1/search", json={"query": "secret plans for the launch"})
    assert answer.status_code == 200
    log = lightfast_client.get("/v1/activity", params={"category": "search"}).json()["items"]
    assert [a["action"] for a in log] == ["search"]
    assert log[0]["actorType"] == "api_key"
    assert log[0]["entityId"] == answer.headers["X-Request-Id"]
    assert "secret plans" not in str(log)
