"""The dashboard's API on SQLite and PostgreSQL: /v1/workspace/statistics, /jobs/percentiles,
/timeseries and /health over a workspace whose jobs, documents and searches the test placed in time
(a fake clock), their validation (400 naming the field), the hourly roll-up of metrics, and the SDK."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from lightfast.db.models import (
    ConnectedSource,
    Document,
    Job,
    Metric,
    MetricHourly,
    Store,
    StoreSource,
)
from lightfast.insights.buckets import hour_of
from lightfast.sdk import Lightfast
from lightfast.testing.clock import FakeClock
from tests.conftest import make_settings


@dataclass
class Dash:
    services: Services
    client: TestClient
    clock: FakeClock
    key: str
    workspace: str
    store: str
    source: str
    broken_source: str
    other_key: str

    def get(self, url: str, status: int = 200, key: str | None = None) -> Any:
        response = self.client.get(url, headers={"Authorization": f"Bearer {key or self.key}"})
        assert response.status_code == status, response.text
        return response.json()


def add_job(
    services: Services,
    workspace: str,
    created: datetime,
    status: str,
    duration_ms: int | None,
    store: str | None = None,
    source: str | None = None,
) -> None:
    with services.sessions.begin() as session:
        session.add(
            Job(
                workspace_id=workspace,
                store_id=store,
                source_id=source,
                name="sync",
                status=status,
                duration_ms=duration_ms,
                created_at=created,
            )
        )


@pytest.fixture
def dash(tmp_path: Path, database_url: str) -> Iterator[Dash]:
    clock = FakeClock(datetime.now(UTC).replace(minute=30, second=0, microsecond=0) - timedelta(hours=1))
    settings = make_settings(tmp_path, database_url, allow_anonymous=False)
    services = build_services(settings, engine=make_engine(settings.resolved_database_url), clock=clock)
    workspace = services.workspaces.ensure_workspace_id("default")
    other = services.workspaces.create(workspace, "other").id
    now = clock.now()
    with services.sessions.begin() as session:
        store = Store(
            workspace_id=workspace,
            name="docs",
            embedding_provider="fake",
            embedding_model="fake",
            embedding_dim=8,
            chunk_max_tokens=256,
            chunk_overlap=20,
        )
        session.add(store)
        session.flush()
        common = {"organization_id": services.workspaces.get(workspace).organization_id}
        source = ConnectedSource(
            **common,
            workspace_id=workspace,
            source_type="local",
            external_key="/a",
            display_name="repo-a",
            connected_at=now - timedelta(days=3),
        )
        broken = ConnectedSource(
            **common,
            workspace_id=workspace,
            source_type="github",
            external_key="42",
            display_name="repo-b",
            config_status="error",
            config_message="include must not be empty",
            connected_at=now - timedelta(hours=2),
        )
        session.add_all([source, broken])
        session.flush()
        session.add_all(
            [
                StoreSource(store_id=store.id, source_id=source.id),
                StoreSource(store_id=store.id, source_id=broken.id),
            ]
        )
        for i, (created, chunks) in enumerate([(now - timedelta(days=2), 3), (now - timedelta(hours=1), 4)]):
            session.add(
                Document(
                    id=f"local:/a:doc{i}.md",
                    store_id=store.id,
                    connection_id=source.id,
                    source_type="local",
                    source_id=f"doc{i}.md",
                    path=f"doc{i}.md",
                    slug=f"doc{i}",
                    title=f"Doc {i}",
                    content_hash="0" * 64,
                    chunk_count=chunks,
                    created_at=created,
                )
            )
        store_id, source_id, broken_id = store.id, source.id, broken.id
    # The last 24 hours: 8 completed (100..800 ms), 2 failed; the day before: 5 completed (1 s each).
    for i in range(8):
        add_job(
            services, workspace, now - timedelta(hours=i), "completed", (i + 1) * 100, store_id, source_id
        )
    for i in range(2):
        add_job(services, workspace, now - timedelta(minutes=10 + i), "failed", 50, store_id, source_id)
    for i in range(5):
        add_job(services, workspace, now - timedelta(hours=30 + i), "completed", 1000, store_id, source_id)
    add_job(services, workspace, now - timedelta(hours=3), "cancelled", None, store_id, source_id)
    # The other workspace: one slow job that must never show in the first one's figures.
    add_job(services, other, now - timedelta(hours=1), "completed", 999_999)
    for latency in (10.0, 30.0, 20.0):
        services.usage.record_search(workspace, latency, "balanced")
    services.usage.record_search(other, 5000.0, "fast")
    clock.advance_to(datetime.now(UTC))  # the searches above were stamped with the real time
    client = TestClient(create_app(services), raise_server_exceptions=False)
    yield Dash(
        services,
        client,
        clock,
        services.api_keys.create(workspace, "t").secret,
        workspace,
        store_id,
        source_id,
        broken_id,
        services.api_keys.create(other, "o").secret,
    )
    client.close()
    services.close()


def test_statistics_compare_with_the_previous_period(dash: Dash) -> None:
    stats = dash.get("/v1/workspace/statistics?period=24h")
    assert stats["period"] == "24h"
    assert stats["current"]["start"] == stats["previous"]["end"]
    # 8 completed + 2 failed + 1 cancelled against 5 completed.
    assert stats["jobs"] == {"current": 11, "previous": 5, "changePercent": 120.0}
    assert stats["jobsByStatus"] == {"cancelled": 1, "completed": 8, "failed": 2}
    assert stats["successRate"] == {"current": 0.8, "previous": 1.0, "changePercent": -20.0}
    assert stats["averageDurationMs"] == {"current": 450.0, "previous": 1000.0, "changePercent": -55.0}
    assert stats["documents"] == {"current": 2, "previous": 1, "changePercent": 100.0}
    assert stats["chunks"] == {"current": 7, "previous": 3, "changePercent": 133.3}
    assert stats["sources"] == {"current": 2, "previous": 1, "changePercent": 100.0}
    assert stats["sourcesByType"] == {"github": 1, "local": 1}
    assert stats["stores"] == [{"id": dash.store, "name": "docs", "documents": 2, "chunks": 7}]
    week = dash.get("/v1/workspace/statistics?period=7d")
    assert week["jobs"] == {"current": 16, "previous": 0, "changePercent": None}  # from nothing: no %


def test_percentiles_are_nearest_rank_over_completed_jobs(dash: Dash) -> None:
    day = dash.get("/v1/workspace/jobs/percentiles?range=24h")
    assert day == {"range": "24h", "count": 8, "p50Ms": 400.0, "p95Ms": 800.0, "p99Ms": 800.0, "maxMs": 800.0}
    month = dash.get("/v1/workspace/jobs/percentiles?range=30d")
    assert month["count"] == 13
    assert month["p50Ms"] == 700.0  # 100..800 and five 1000s: the 7th of 13
    assert month["maxMs"] == 1000.0


def test_timeseries_has_every_hour_and_the_right_sums(dash: Dash) -> None:
    series = dash.get("/v1/workspace/timeseries?range=24h")
    points = series["points"]
    assert len(points) == 24
    hours = [datetime.fromisoformat(p["hour"]) for p in points]
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(hours))
    assert hours[-1] == hour_of(dash.clock.now())
    assert series["end"] == (hours[-1] + timedelta(hours=1)).isoformat()
    assert sum(p["jobs"] for p in points) == 11
    assert sum(p["failed"] for p in points) == 2
    assert sum(p["queryCount"] for p in points) == 3
    with_queries = [p for p in points if p["queryCount"]]
    assert sum(p["queryLatencyAvgMs"] * p["queryCount"] for p in with_queries) == pytest.approx(60.0)
    assert max(p["queryLatencyMaxMs"] for p in with_queries) == 30.0
    empty = [p for p in points if p["jobs"] == 0]
    assert empty, "a day with jobs in 8 hours has empty hours"
    assert all(p["successRate"] is None and p["averageDurationMs"] is None for p in empty)
    assert len(dash.get("/v1/workspace/timeseries?range=7d")["points"]) == 168
    assert len(dash.get("/v1/workspace/timeseries?range=30d")["points"]) == 720


def test_health_tree_with_reasons(dash: Dash) -> None:
    tree = dash.get("/v1/workspace/health")
    assert tree["kind"] == "workspace"
    assert tree["status"] == "degraded"  # 8 of 10 finished jobs succeeded: 80 %
    assert tree["reason"] == "2 of 10 jobs failed in the last 24 h (80.0 % succeeded)"
    (store,) = tree["children"]
    assert (store["kind"], store["name"], store["status"]) == ("store", "docs", "degraded")
    by_name = {s["name"]: s for s in store["children"]}
    assert by_name["repo-a"]["status"] == "degraded"
    assert by_name["repo-b"]["status"] == "degraded"
    assert by_name["repo-b"]["reason"] == "configuration error: include must not be empty"


def test_health_is_down_below_eighty_percent(dash: Dash) -> None:
    for _ in range(3):
        add_job(
            dash.services,
            dash.workspace,
            dash.clock.now() - timedelta(minutes=1),
            "failed",
            10,
            dash.store,
            dash.source,
        )
    tree = dash.get("/v1/workspace/health")
    assert tree["status"] == "down"
    assert tree["children"][0]["status"] == "down"


def test_another_workspace_never_sees_these_numbers(dash: Dash) -> None:
    stats = dash.get("/v1/workspace/statistics", key=dash.other_key)
    assert stats["jobs"]["current"] == 1
    assert stats["stores"] == []
    assert stats["sources"]["current"] == 0
    assert dash.get("/v1/workspace/jobs/percentiles", key=dash.other_key)["maxMs"] == 999_999.0
    mine = dash.get("/v1/workspace/jobs/percentiles")
    assert mine["maxMs"] == 800.0
    points = dash.get("/v1/workspace/timeseries", key=dash.other_key)["points"]
    assert sum(p["queryCount"] for p in points) == 1
    assert dash.get("/v1/workspace/health", key=dash.other_key)["children"] == []


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/v1/workspace/statistics?period=1y", "period"),
        ("/v1/workspace/statistics?period=", "period"),
        ("/v1/workspace/jobs/percentiles?range=24H", "range"),
        ("/v1/workspace/timeseries?range=" + "9" * 5000, "range"),
        ("/v1/workspace/timeseries?period=24h", "period"),  # the timeseries takes a range
        ("/v1/workspace/health?workspace=other", "workspace"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(dash: Dash, url: str, field: str) -> None:
    body = dash.get(url, status=400)
    assert body["error"] == "invalid_input"
    assert body["message"].startswith(f"{field}:")


def test_unauthenticated_calls_are_refused(dash: Dash) -> None:
    assert dash.client.get("/v1/workspace/statistics").status_code == 401


def test_hourly_roll_up_matches_the_metrics(dash: Dash) -> None:
    with dash.services.sessions() as session:
        raw = session.execute(
            select(
                Metric.workspace_id, Metric.type, func.count(), func.sum(Metric.value), func.max(Metric.value)
            )
            .group_by(Metric.workspace_id, Metric.type)
            .order_by(Metric.workspace_id, Metric.type)
        ).all()
        rolled = session.execute(
            select(
                MetricHourly.workspace_id,
                MetricHourly.type,
                func.sum(MetricHourly.count),
                func.sum(MetricHourly.total),
                func.max(MetricHourly.maximum),
            )
            .group_by(MetricHourly.workspace_id, MetricHourly.type)
            .order_by(MetricHourly.workspace_id, MetricHourly.type)
        ).all()
    assert [tuple(r) for r in raw] == [tuple(r) for r in rolled]
    assert any(r[1] == "query_latency" for r in raw)


def test_sdk_reads_the_same_figures(dash: Dash) -> None:
    with Lightfast(dash.key, "http://testserver", http_client=dash.client) as lf:
        stats = lf.statistics("24h")
        assert stats.jobs.current == 11
        assert stats.success_rate.change_percent == -20.0
        assert lf.jobs.percentiles("24h").p50_ms == 400.0
        assert len(lf.timeseries("7d").points) == 168
        health = lf.health()
        assert health.status == "degraded"
        assert health.children[0].children[0].status == "degraded"
        with pytest.raises(ValueError, match="period must be one of 24h, 7d, 30d"):
            lf.statistics("1y")


@pytest.mark.parametrize("size", [1, 2, 20, 37, 101])
def test_database_percentiles_are_the_pure_nearest_rank(dash: Dash, size: int) -> None:
    """PostgreSQL ranks with percentile_disc, SQLite in Python: both must give nearest_rank_percentile."""
    import random

    from lightfast.insights.percentiles import nearest_rank_percentile

    other = dash.services.workspaces.create(dash.workspace, f"ranks-{size}").id
    rng = random.Random(size)
    durations = [rng.randint(1, 50) for _ in range(size)]  # repeats on purpose: ties must rank alike
    for value in durations:
        add_job(dash.services, other, dash.clock.now() - timedelta(minutes=5), "completed", value)
    found = dash.services.insights.percentiles(other, "24h")
    assert found.count == size
    assert (found.p50_ms, found.p95_ms, found.p99_ms, found.max_ms) == (
        nearest_rank_percentile(durations, 50),
        nearest_rank_percentile(durations, 95),
        nearest_rank_percentile(durations, 99),
        float(max(durations)),
    )
