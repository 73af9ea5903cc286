"""Dashboard query benchmark: the figures of /dashboard and /v1/workspace/... over a big workspace.

    python bench/dashboard.py [--jobs 100000] [--metrics 1000000] [--runs 20] [--db sqlite postgres]

For each database it fills one workspace by bulk insert with ``--jobs`` jobs created over the last 30
days (every status; durations log-normal, a few very slow), ``--metrics`` metric rows over the same 30
days (query_latency, queries_count and api_calls, as the API writes them) and their hourly roll-up
(``metric_hourly``, built with the same GROUP BY the migration uses; in the app ``record_metric`` keeps
it on write), 8 sources, 2 stores and 2,000 documents. A second workspace holds a tenth as much, so every
query has to filter. Then it times each InsightService call (p50 and p95 of ``--runs`` runs after one
warm-up), the whole dashboard page's set of calls, and, for comparison, the hourly query latency read
from the raw ``metrics`` rows instead of the roll-up. PostgreSQL is started with pgserver in a temporary
directory. Prints a Markdown table (also to ``--out``).
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from lightfast.app.container import Services, build_services
from lightfast.db.models import (
    ConnectedSource,
    Document,
    Job,
    Metric,
    Store,
    StoreSource,
    new_id,
)
from lightfast.settings import Settings

STATUSES = (
    ["completed"] * 90 + ["completed_with_errors"] * 3 + ["failed"] * 4 + ["cancelled"] * 2 + ["queued"]
)
METRIC_TYPES = ["query_latency"] * 4 + ["queries_count"] * 4 + ["api_calls"] * 2
BATCH = 20_000
SPAN = timedelta(days=30)


def start_postgres(tmp: Path) -> tuple[Any, str]:
    import pgserver

    server = pgserver.get_server(tmp / "pgdata", cleanup_mode="stop")
    server.psql("CREATE DATABASE lightfast_dashboard;")
    uri = server.get_uri().replace("/postgres?", "/lightfast_dashboard?", 1)
    return server, uri.replace("postgresql://", "postgresql+psycopg://", 1)


def bulk(services: Services, model: Any, rows: list[dict[str, Any]]) -> None:
    with services.sessions.begin() as session:
        for i in range(0, len(rows), BATCH):
            session.execute(insert(model), rows[i : i + BATCH])


def fill(services: Services, workspace: str, jobs: int, metrics: int, rng: random.Random) -> None:
    now = datetime.now(UTC)
    organization = services.workspaces.get(workspace).organization_id
    stores = [new_id("store") for _ in range(2)]
    bulk(
        services,
        Store,
        [
            {
                "id": s,
                "workspace_id": workspace,
                "name": f"store-{i}",
                "embedding_provider": "fake",
                "embedding_model": "fake",
                "embedding_dim": 8,
                "chunk_max_tokens": 256,
                "chunk_overlap": 20,
            }
            for i, s in enumerate(stores)
        ],
    )
    sources = [new_id("src") for _ in range(8)]
    bulk(
        services,
        ConnectedSource,
        [
            {
                "id": s,
                "organization_id": organization,
                "workspace_id": workspace,
                "source_type": ("github", "local", "git")[i % 3],
                "external_key": f"{workspace}/{i}",
                "display_name": f"repo-{i}",
                "config_status": "configured",
                "connected_at": now - timedelta(days=rng.uniform(0, 40)),
            }
            for i, s in enumerate(sources)
        ],
    )
    bulk(
        services,
        StoreSource,
        [{"id": new_id("link"), "store_id": stores[i % 2], "source_id": s} for i, s in enumerate(sources)],
    )
    bulk(
        services,
        Document,
        [
            {
                "id": f"{workspace}:doc{i}",
                "store_id": stores[i % 2],
                "connection_id": sources[i % 8],
                "source_type": "local",
                "source_id": f"doc{i}.md",
                "path": f"docs/doc{i}.md",
                "slug": f"doc{i}",
                "title": f"Doc {i}",
                "content_hash": "0" * 64,
                "chunk_count": rng.randint(1, 12),
                "created_at": now - timedelta(days=rng.uniform(0, 40)),
            }
            for i in range(jobs // 50)
        ],
    )
    rows = []
    for _ in range(jobs):
        created = now - SPAN * rng.random()
        status = rng.choice(STATUSES)
        finished = status in ("completed", "completed_with_errors", "failed")
        source = rng.randrange(8)
        rows.append(
            {
                "id": new_id("job"),
                "workspace_id": workspace,
                "organization_id": organization,
                "store_id": stores[source % 2],
                "source_id": sources[source],
                "name": "sync",
                "status": status,
                "trigger": "webhook",
                "created_at": created,
                "updated_at": created,
                "duration_ms": int(rng.lognormvariate(8, 1.2)) if finished else None,
            }
        )
    bulk(services, Job, rows)
    for start in range(0, metrics, 200_000):  # in slices, so a million rows never sit in memory at once
        rows = []
        for _ in range(min(200_000, metrics - start)):
            kind = rng.choice(METRIC_TYPES)
            value = rng.lognormvariate(3, 0.8) if kind == "query_latency" else 1.0
            rows.append(
                {
                    "id": new_id("met"),
                    "workspace_id": workspace,
                    "type": kind,
                    "value": value,
                    "unit": "ms" if kind == "query_latency" else None,
                    "tags": {"mode": "balanced"},
                    "timestamp": now - SPAN * rng.random(),
                }
            )
        bulk(services, Metric, rows)


def build_roll_up(services: Services) -> None:
    """What ``record_metric`` maintains on write, built in one statement (as migration 0010 does)."""
    postgres = services.engine.dialect.name == "postgresql"
    hour = (
        "date_trunc('hour', timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        if postgres
        else "substr(timestamp, 1, 13) || ':00:00.000000'"
    )
    with services.engine.begin() as connection:
        connection.execute(text("DELETE FROM metric_hourly"))
        connection.execute(
            text(
                "INSERT INTO metric_hourly (workspace_id, type, hour, count, total, maximum) "
                f"SELECT workspace_id, type, {hour}, count(*), sum(value), max(value) FROM metrics "
                f"GROUP BY workspace_id, type, {hour}"
            )
        )
        if not postgres:
            connection.execute(text("ANALYZE"))  # fresh planner statistics, as after a day of writes
    if postgres:
        # What autovacuum does after a bulk load: planner statistics, and the visibility map that lets
        # index-only scans skip the table (right after the load every row would be fetched from it).
        with services.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


def raw_latency_hours(services: Services, workspace: str) -> int:
    """The hourly query latency of 30 days read from the raw metrics (what the roll-up replaces)."""
    postgres = services.engine.dialect.name == "postgresql"
    hour = (
        func.to_char(func.timezone("UTC", Metric.timestamp), "YYYY-MM-DD HH24")
        if postgres
        else func.substr(Metric.timestamp, 1, 13)
    )
    since = datetime.now(UTC) - SPAN
    with services.sessions() as session:
        rows = session.execute(
            select(hour, func.count(), func.avg(Metric.value), func.max(Metric.value))
            .where(
                Metric.workspace_id == workspace, Metric.type == "query_latency", Metric.timestamp >= since
            )
            .group_by(hour)
        ).all()
    return len(rows)


def timed(call: Callable[[], object], runs: int) -> tuple[float, float]:
    call()  # warm-up: caches, prepared statements
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[max(0, math.ceil(0.95 * len(samples)) - 1)]
    return statistics.median(samples), p95


def run(db: str, url: str, home: Path, jobs: int, metrics: int, runs: int) -> list[tuple[str, float, float]]:
    settings = Settings(home=home, database_url=url, embedding_provider="fake", default_workspace="bench")
    services = build_services(settings)
    try:
        rng = random.Random(12)
        workspace = services.workspaces.ensure_workspace_id("bench")
        other = services.workspaces.create(workspace, "noise").id
        started = time.perf_counter()
        fill(services, workspace, jobs, metrics, rng)
        fill(services, other, jobs // 10, metrics // 10, rng)
        build_roll_up(services)
        with services.sessions() as session:
            counted = (
                session.scalar(select(func.count(Job.id))),
                session.scalar(select(func.count(Metric.id))),
            )
        elapsed = time.perf_counter() - started
        print(f"{db}: filled {counted[0]:,} jobs and {counted[1]:,} metrics in {elapsed:.0f} s")
        insights = services.insights
        cases: list[tuple[str, Callable[[], object]]] = []
        for period in ("24h", "7d", "30d"):
            cases.append((f"statistics {period}", lambda p=period: insights.statistics(workspace, p)))
        for period in ("24h", "7d", "30d"):
            cases.append((f"percentiles {period}", lambda p=period: insights.percentiles(workspace, p)))
        for period in ("24h", "7d", "30d"):
            cases.append((f"timeseries {period}", lambda p=period: insights.timeseries(workspace, p)))
        cases.append(("health", lambda: insights.health(workspace)))

        def page() -> None:  # what /dashboard?period=30d asks for (console/dashboard.py)
            insights.statistics(workspace, "30d")
            for p in ("24h", "7d", "30d"):
                insights.percentiles(workspace, p)
            insights.timeseries(workspace, "30d")
            insights.health(workspace)

        cases.append(("whole page, 30d", page))
        cases.append(
            ("(raw metrics) query latency by hour, 30d", lambda: raw_latency_hours(services, workspace))
        )
        results = []
        for name, call in cases:
            p50, p95 = timed(call, runs)
            results.append((name, p50, p95))
            print(f"  {name:44} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms", flush=True)
        return results
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--metrics", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args()
    tables: list[str] = []
    report = ""
    with tempfile.TemporaryDirectory(prefix="lightfast-dashboard-") as tmp:
        root = Path(tmp)
        for db in args.db:
            server = None
            if db == "postgres":
                server, url = start_postgres(root)
            else:
                url = f"sqlite:///{root / 'dashboard.db'}"
            try:
                results = run(db, url, root / f"home-{db}", args.jobs, args.metrics, args.runs)
            finally:
                if server is not None:
                    server.cleanup()
            lines = [
                f"### {db} ({args.jobs:,} jobs, {args.metrics:,} metrics in the workspace; "
                f"a tenth as much in another; {args.runs} runs)",
                "",
                "| query | p50 ms | p95 ms |",
                "|---|---:|---:|",
                *(f"| {name} | {p50:.1f} | {p95:.1f} |" for name, p50, p95 in results),
                "",
            ]
            tables.append("\n".join(lines))
            report = f"Python {platform.python_version()}, {platform.machine()}\n\n" + "\n".join(tables)
            if args.out:  # after each database: a long run that fails later keeps what it measured
                args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
