"""Job machinery benchmark: how fast one worker picks up and completes small sync jobs.

    python bench/jobs.py [--jobs N] [--db sqlite postgres]

For each database it starts a real worker (``python -m lightfast.cli worker``, fake embedder, so the
numbers measure queueing, dispatch and the durable workflow, not a model) and, from this process:

- latency: enqueues N jobs one at a time on an idle worker (each a full sync of its own tiny repo of 1-3
  Markdown files) and takes the time from ``enqueue_sync`` returning to the job row's ``started_at``
  (set by the workflow's plan step), and to its ``completed_at``;
- throughput: enqueues N more such jobs at once (on N other sources) and counts how many the worker
  completes per minute, from the first enqueue to the last completion.

The dispatcher polls the jobs table every ``LIGHTFAST_DISPATCH_INTERVAL`` seconds (default 0.2), which
bounds the latency; ``--dispatch-interval`` overrides it. PostgreSQL is started with pgserver in a
temporary directory. Prints a table and writes bench/results/jobs.md.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lightfast.app.container import Services, build_services
from lightfast.db.models import Job
from lightfast.settings import Settings

RESULTS = Path(__file__).parent / "results" / "jobs.md"
TERMINAL = ("completed", "completed_with_errors", "failed", "cancelled")
POLL = 0.005


@dataclass
class Result:
    db: str
    jobs: int
    start_ms: list[float]  # enqueue returned -> started_at
    end_ms: list[float]  # enqueue returned -> completed_at
    burst_seconds: float
    burst_statuses: dict[str, int]

    @property
    def per_minute(self) -> float:
        return self.jobs / self.burst_seconds * 60


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q) - 1]


def make_repo(root: Path, index: int) -> Path:
    root.mkdir(parents=True)
    for f in range(1 + index % 3):
        (root / f"note{f}.md").write_text(
            f"# Note {index}.{f}\n\nA tiny document number {index} about topic{index % 5} and item{f}.\n",
            encoding="utf-8",
        )
    return root


def start_postgres(tmp: Path) -> tuple[Any, str]:
    import pgserver

    server = pgserver.get_server(tmp / "pgdata", cleanup_mode="stop")
    server.psql("CREATE DATABASE lightfast_bench;")
    uri = server.get_uri().replace("/postgres?", "/lightfast_bench?", 1)
    # The app uses psycopg 3; the DBOS system database URL stays postgresql:// (derived by Settings).
    return server, uri.replace("postgresql://", "postgresql+psycopg://", 1)


def start_worker(settings: Settings, log: Path, dispatch_interval: float | None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LIGHTFAST_HOME": str(settings.home_dir),
        "LIGHTFAST_DATABASE_URL": settings.resolved_database_url,
        "LIGHTFAST_EMBEDDING_PROVIDER": "fake",
        "LIGHTFAST_WORKER_ID": "bench",
    }
    if dispatch_interval is not None:
        env["LIGHTFAST_DISPATCH_INTERVAL"] = str(dispatch_interval)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "lightfast.cli", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def job_times(svc: Services, job_id: str) -> tuple[str, datetime | None, datetime | None]:
    with svc.sessions() as session:
        row = session.execute(
            select(Job.status, Job.started_at, Job.completed_at).where(Job.id == job_id)
        ).one()
        return row.status, row.started_at, row.completed_at


def wait_done(
    svc: Services, job_id: str, worker: subprocess.Popen[bytes], log: Path, timeout: float = 120
) -> tuple[str, datetime | None, datetime | None]:
    deadline = time.monotonic() + timeout
    while True:
        status, started, completed = job_times(svc, job_id)
        if status in TERMINAL:
            return status, started, completed
        if worker.poll() is not None:
            sys.exit(f"the worker exited ({worker.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            sys.exit(f"job {job_id} still {status} after {timeout} s")
        time.sleep(POLL)


def run(db: str, jobs: int, dispatch_interval: float | None) -> Result:
    interval = dispatch_interval if dispatch_interval is not None else Settings().dispatch_interval
    with tempfile.TemporaryDirectory(prefix="lightfast-bench-jobs-") as tmpdir:
        tmp = Path(tmpdir)
        server = None
        url = None
        if db == "postgres":
            server, url = start_postgres(tmp)
        settings = Settings(home=tmp / "home", database_url=url, embedding_provider="fake")
        svc = build_services(settings)
        log = tmp / "worker.log"
        worker = start_worker(settings, log, dispatch_interval)
        try:
            sources = [svc.ingest.register_local(make_repo(tmp / f"repo{i}", i)) for i in range(2 * jobs + 1)]
            # Warm-up: the worker has started (imports, migrations, DBOS launch) once this job is done.
            warm = sources.pop()
            wait_done(svc, svc.jobs.enqueue_sync(warm.workspace_id, warm.connection_id).job_id, worker, log)

            start_ms: list[float] = []
            end_ms: list[float] = []
            jitter = random.Random(0)
            for src in sources[:jobs]:
                # Arrive at a random phase of the dispatcher's poll, not right after its last tick.
                time.sleep(jitter.uniform(0, interval))
                job_id = svc.jobs.enqueue_sync(src.workspace_id, src.connection_id).job_id
                enqueued = datetime.now(UTC)
                status, started, completed = wait_done(svc, job_id, worker, log)
                if status != "completed" or started is None or completed is None:
                    sys.exit(f"job {job_id} ended {status}")
                start_ms.append((started - enqueued).total_seconds() * 1000)
                end_ms.append((completed - enqueued).total_seconds() * 1000)

            began = datetime.now(UTC)
            burst = [svc.jobs.enqueue_sync(s.workspace_id, s.connection_id).job_id for s in sources[jobs:]]
            statuses: dict[str, int] = {}
            last = began
            for job_id in burst:
                status, _, completed = wait_done(svc, job_id, worker, log, timeout=600)
                statuses[status] = statuses.get(status, 0) + 1
                last = max(last, completed or last)
            return Result(db, jobs, start_ms, end_ms, (last - began).total_seconds(), statuses)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            svc.close()
            if server is not None:
                server.cleanup()


def table(results: list[Result]) -> str:
    lines = [
        "| database | jobs | to running p50 ms | p95 ms | max ms | to completed p50 ms | p95 ms "
        "| burst jobs/min | burst outcome |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        outcome = ", ".join(f"{n} {s}" for s, n in sorted(r.burst_statuses.items()))
        lines.append(
            f"| {r.db} | {r.jobs} | {percentile(r.start_ms, 50):.0f} | {percentile(r.start_ms, 95):.0f} "
            f"| {max(r.start_ms):.0f} | {percentile(r.end_ms, 50):.0f} | {percentile(r.end_ms, 95):.0f} "
            f"| {r.per_minute:.0f} ({r.burst_seconds:.1f} s) | {outcome} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=40, help="jobs per phase (default 40)")
    parser.add_argument("--db", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"])
    parser.add_argument(
        "--dispatch-interval", type=float, default=None, help="seconds; default the setting's (0.2)"
    )
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    results = []
    for db in args.db:
        print(f"{db}: {args.jobs} sequential jobs, then {args.jobs} at once ...", file=sys.stderr, flush=True)
        results.append(run(db, args.jobs, args.dispatch_interval))
    rendered = table(results)
    print(rendered)

    defaults = Settings(embedding_provider="fake")
    interval = args.dispatch_interval if args.dispatch_interval is not None else defaults.dispatch_interval
    command = " ".join(["python bench/jobs.py", *sys.argv[1:]])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "\n".join(
            [
                "# Job machinery benchmark",
                "",
                f"Command: `{command}`",
                "",
                "## Setup",
                "",
                f"- Machine: {platform.machine()}, {os.cpu_count()} logical cores, shared with other work "
                f"(load average {load_before:.2f} at start, {os.getloadavg()[0]:.2f} at end). "
                f"Python {platform.python_version()}, dbos {importlib.metadata.version('dbos')}.",
                "- One worker process (`python -m lightfast.cli worker`), fake embedder, "
                f"dispatch interval {interval} s, worker concurrency {defaults.worker_concurrency}, "
                f"workspace concurrency {defaults.workspace_concurrency}. The job system database is "
                "a SQLite file next to the app's (SQLite) or the app's own database (PostgreSQL, "
                "pgserver, local socket).",
                "- Each job is a full sync of its own tiny repo (1-3 Markdown files, one chunk each): "
                "plan, one index batch, delete-removed, finish, each a recorded DBOS step.",
                "- **to running**: `enqueue_sync` returning -> the job row's `started_at` (set by the "
                "plan step), measured one job at a time on an idle worker, each enqueued after a random "
                "pause of 0 to one dispatch interval so arrivals fall at random phases of the "
                "dispatcher's poll; **to completed**: the same jobs, until `completed_at`. Clock: the "
                "same host for enqueuer and worker.",
                "- **burst**: N more jobs (other sources) enqueued at once; jobs/min = N / (last "
                "`completed_at` - first enqueue). A finished job frees its slot at the dispatcher's next "
                "tick, so the ceiling is about worker concurrency / dispatch interval "
                f"= {defaults.worker_concurrency / interval * 60:.0f} jobs/min.",
                "",
                "## Results",
                "",
                rendered,
                "",
                f"Total wall time: {time.perf_counter() - started:.0f}s.",
                "",
            ]
        ),
        encoding="utf-8",
    )
    print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
