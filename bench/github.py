"""GitHub source benchmark: full syncs through the GitHub REST API, push-to-searchable latency and the
cost of a resync of an unchanged repository.

    python bench/github.py [--docs N] [--repeats R] [--data ../shared/data/scifact] [--standin-in-process]

A git repository of the first N SciFact abstracts (``docs/{doc_id}.md``: ``# title`` + text, and a
``lightfast.yml`` with ``store: docs``, ``include: ['docs/**/*.md']``) is served by the GitHub REST
stand-in (``lightfast.testing.github``) on loopback, in a child process of its own by default so
its request handling (a ``git cat-file`` per blob, JSON, base64) does not share this process's GIL with
the product, as a remote GitHub would not. Every run uses a fresh SQLite database in a temporary
directory and the product's default settings (32 documents per batch) unless noted.

1. Initial full sync (``connect_github`` + ``runner.run_inline`` of its job): with the fake embedder at
   ``github_blob_concurrency`` 1 and 8, to isolate the GitHub fetch and pipeline overhead; with the real
   model (all-MiniLM-L6-v2, warmed up first) at concurrency 8; and the same corpus ingested from a local
   directory (``ingest.ingest_path``) with the real model. Time spent planning (``SyncRunner.plan``: the
   branch head, recursive tree, config blob, unchanged check) and fetching blobs
   (``RepositoryClient.blobs``, one call per batch) is measured by wrapping those two methods in this
   process; embedding time is the pipeline's own ``embedding_seconds``.
2. Push to searchable, on the repository indexed by the real-model run: a real worker (``JobEngine``)
   runs in this process; each repeat commits a change to 1 (then 10) documents, adding a new unique
   word, posts the signed ``push`` delivery to ``POST /webhooks/github`` (FastAPI TestClient) and polls a
   bm25 search for that word every 50 ms until every changed document is returned. Timed from just
   before the POST. Also reported: the POST's answer time, the job's start (after the POST) and its own
   duration (``duration_ms``), and the blob requests the stand-in logged for it.
3. A full resync of the unchanged repository (worker stopped, job run inline): time and blob requests.

Prints tables and writes bench/results/github.md.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import importlib.metadata
import json
import multiprocessing
import os
import platform
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from lightfast.app.sync import SyncRunner
from lightfast.settings import Settings
from lightfast.sources.github.client import GitHubApp, RepositoryClient
from lightfast.testing.github import GitHubStandIn, generate_private_key

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "github.md"
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "scifact"
APP_ID = 424242
INSTALLATION = 77
REPO_ID = 9001
FULL_NAME = "acme/scifact"
SECRET = "bench-webhook-secret"
CONFIG = "version: 1\nstore: docs\ninclude: ['docs/**/*.md']\n"
POLL = 0.05
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


# --------------------------------------------------------------------------- corpus and repository


def load_docs(data: Path, limit: int) -> dict[str, str]:
    """{path: Markdown body} of the first ``limit`` documents of a BEIR corpus."""
    docs: dict[str, str] = {}
    with (data / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            title, text = row.get("title") or "", row.get("text") or ""
            docs[f"docs/{row['_id']}.md"] = f"# {title}\n\n{text}\n" if title else f"{text}\n"
            if len(docs) == limit:
                break
    return docs


def write_tree(root: Path, docs: dict[str, str]) -> Path:
    (root / "docs").mkdir(parents=True, exist_ok=True)
    (root / "lightfast.yml").write_text(CONFIG, encoding="utf-8")
    for path, body in docs.items():
        (root / path).write_text(body, encoding="utf-8")
    return root


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return result.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


# --------------------------------------------------------------------------- the stand-in


def _serve_standin(conn: Connection, public_pem: str, repo: str) -> None:
    """Child process: serve ``repo`` as FULL_NAME and answer commands from the parent."""
    standin = GitHubStandIn(app_id=APP_ID, public_key_pem=public_pem)
    standin.add_repository(FULL_NAME, Path(repo), repo_id=REPO_ID, installation_id=INSTALLATION)
    conn.send(standin.start())
    try:
        while True:
            command, args = conn.recv()
            if command == "stop":
                break
            if command == "push_payload":
                conn.send(standin.push_payload(FULL_NAME, *args))
            elif command == "count":
                conn.send(len(standin.requests))
            elif command == "blobs_since":
                conn.send(sum(1 for r in standin.requests[args[0] :] if "/git/blobs/" in r.path))
    finally:
        standin.stop()
        conn.close()


class StandIn:
    """The GitHub stand-in, in a child process (default) or in this one; the few calls the bench uses."""

    def __init__(self, public_pem: str, repo: Path, *, in_process: bool) -> None:
        self._local: GitHubStandIn | None = None
        self._process: Any = None
        if in_process:
            self._local = GitHubStandIn(app_id=APP_ID, public_key_pem=public_pem)
            self._local.add_repository(FULL_NAME, repo, repo_id=REPO_ID, installation_id=INSTALLATION)
            self.url = self._local.start()
            return
        context = multiprocessing.get_context("spawn")  # no fork of a process with torch threads
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve_standin, args=(child, public_pem, str(repo)), name="github-standin", daemon=True
        )
        self._process.start()
        child.close()
        if not self._conn.poll(60):
            raise RuntimeError("the GitHub stand-in did not start")
        self.url = str(self._conn.recv())

    def _ask(self, command: str, *args: Any) -> Any:
        self._conn.send((command, args))
        return self._conn.recv()

    def push_payload(self, before: str, after: str) -> dict[str, Any]:
        if self._local is not None:
            return self._local.push_payload(FULL_NAME, before, after)
        return dict(self._ask("push_payload", before, after))

    def count(self) -> int:
        return len(self._local.requests) if self._local is not None else int(self._ask("count"))

    def blobs_since(self, index: int) -> int:
        if self._local is not None:
            return sum(1 for r in self._local.requests[index:] if "/git/blobs/" in r.path)
        return int(self._ask("blobs_since", index))

    def stop(self) -> None:
        if self._local is not None:
            self._local.stop()
            return
        with suppress(OSError):
            self._conn.send(("stop", ()))
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)


# --------------------------------------------------------------------------- measurements


@dataclass
class FullSync:
    name: str
    embedder: str
    concurrency: int | None  # None: a local directory, no GitHub
    docs: int
    wall: float
    plan: float | None
    fetch: float | None
    embedding: float
    chunks: int
    tokens: int
    requests: int | None
    blobs: int | None

    @property
    def other(self) -> float:
        return self.wall - (self.plan or 0.0) - (self.fetch or 0.0) - self.embedding


@dataclass
class Push:
    files: int
    searchable_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    start_ms: list[float] = field(default_factory=list)  # POST sent -> the job's started_at
    job_ms: list[float] = field(default_factory=list)  # the job's own duration_ms
    blobs: list[int] = field(default_factory=list)
    plan_ms: list[float] = field(default_factory=list)  # in SyncRunner.plan
    fetch_ms: list[float] = field(default_factory=list)  # in RepositoryClient.blobs
    embedding_ms: list[float] = field(default_factory=list)  # the job's embedding_seconds
    tokens: list[int] = field(default_factory=list)  # the job's tokens_embedded
    before_done: int = 0  # repeats in which search found the change before the job was completed


@dataclass
class Resync:
    wall: float
    plan: float
    job_ms: float
    blobs: int
    requests: int
    output: dict[str, Any]


@contextmanager
def timed_github(runner: SyncRunner) -> Iterator[dict[str, float]]:
    """Accumulates the seconds spent in ``runner.plan`` and in ``RepositoryClient.blobs`` meanwhile."""
    times = {"plan": 0.0, "fetch": 0.0}
    original_blobs = RepositoryClient.blobs
    original_plan = runner.plan

    def blobs(self: RepositoryClient, full_name: str, shas: Any) -> Any:
        started = time.perf_counter()
        try:
            return original_blobs(self, full_name, shas)
        finally:
            times["fetch"] += time.perf_counter() - started

    def plan(job_id: str) -> Any:
        started = time.perf_counter()
        try:
            return original_plan(job_id)
        finally:
            times["plan"] += time.perf_counter() - started

    RepositoryClient.blobs = blobs  # type: ignore[method-assign]
    runner.plan = plan  # type: ignore[method-assign]
    try:
        yield times
    finally:
        RepositoryClient.blobs = original_blobs  # type: ignore[method-assign]
        del runner.plan  # back to the class's method


def github_settings(home: Path, url: str, private_pem: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "home": home / "home",
        "database_url": f"sqlite:///{home / 'lightfast.db'}",
        "github_app_id": str(APP_ID),
        "github_private_key": private_pem,
        "github_webhook_secret": SECRET,
        "github_api_url": url,
    }
    return Settings(**{**values, **overrides})


def warm_up_github(url: str, private_pem: str) -> None:
    """One call of each endpoint, so githubkit's lazy imports are not charged to the first run."""
    client = GitHubApp(str(APP_ID), private_pem, url).installation(INSTALLATION)
    head = client.branch_head(FULL_NAME, client.repository(FULL_NAME).default_branch)
    entries = client.tree(FULL_NAME, head)
    client.blobs(FULL_NAME, [e.sha for e in entries[:2]])


def github_full_sync(
    services: Any, standin: StandIn, name: str, embedder: str, concurrency: int
) -> tuple[FullSync, str, str]:
    """Connect the repository and run its full sync inline; returns (figures, workspace id, source id)."""
    workspace_id = services.ensure_workspace_id()
    seen = standin.count()
    with timed_github(services.runner) as times:
        started = time.perf_counter()
        connected = services.sources.connect_github(workspace_id, FULL_NAME, INSTALLATION)
        summary = services.runner.run_inline(connected.job_id)
        wall = time.perf_counter() - started
    if summary.documents_failed:
        sys.exit(f"{name}: {summary.documents_failed} documents failed: {summary.failures[:3]}")
    figures = FullSync(
        name=name,
        embedder=embedder,
        concurrency=concurrency,
        docs=summary.documents_added + summary.documents_updated + summary.documents_unchanged,
        wall=wall,
        plan=times["plan"],
        fetch=times["fetch"],
        embedding=summary.embedding_seconds,
        chunks=summary.chunks_embedded,
        tokens=summary.tokens_embedded,
        requests=standin.count() - seen,
        blobs=standin.blobs_since(seen),
    )
    return figures, workspace_id, connected.source.id


def signed_post(client: Any, payload: dict[str, Any]) -> Callable[[], Any]:
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }
    return lambda: client.post("/webhooks/github", content=body, headers=headers)


def measure_pushes(
    services: Any,
    standin: StandIn,
    repo: Path,
    workspace_id: str,
    paths: list[str],
    sizes: list[int],
    repeats: int,
) -> list[Push]:
    from fastapi.testclient import TestClient

    from lightfast.api.app import create_app
    from lightfast.app.engine import JobEngine
    from lightfast.app.search import SearchMode, SearchRequest

    chooser = random.Random(0)
    pool = chooser.sample(paths, min(len(paths), sum(sizes) * repeats))
    results = []
    engine = JobEngine(services).start()
    try:
        with TestClient(create_app(services)) as client, timed_github(services.runner) as times:
            for size in sizes:
                push = Push(size)
                for repeat in range(repeats):
                    changed, pool = pool[:size], pool[size:]
                    word = f"pushprobe{size}r{repeat}{secrets.token_hex(4)}"
                    for path in changed:
                        with (repo / path).open("a", encoding="utf-8") as handle:
                            handle.write(f"\nRevision note {word}.\n")
                    before = git(repo, "rev-parse", "HEAD")
                    after = commit_all(repo, f"probe {word}")
                    post = signed_post(client, standin.push_payload(before, after))
                    seen, before_times = standin.count(), dict(times)
                    request = SearchRequest(workspace_id, word, limit=max(10, 2 * size), mode=SearchMode.FAST)
                    posted_at = datetime.now(UTC)
                    started = time.perf_counter()
                    response = post()
                    push.post_ms.append((time.perf_counter() - started) * 1000)
                    if response.status_code != 202:
                        sys.exit(f"push delivery answered {response.status_code}: {response.text}")
                    [job_id] = response.json()["jobs"]
                    deadline = started + 300
                    while True:
                        found = {r.path for r in services.search.search(request).results}
                        if set(changed) <= found:
                            break
                        if time.perf_counter() > deadline:
                            sys.exit(f"push {word}: not searchable after 300 s")
                        time.sleep(POLL)
                    push.searchable_ms.append((time.perf_counter() - started) * 1000)
                    push.before_done += services.jobs.get_job(workspace_id, job_id).status == "running"
                    job = services.jobs.wait(workspace_id, job_id, timeout=300, poll=POLL)
                    if job.status != "completed" or job.started_at is None:
                        sys.exit(f"push job {job_id} ended {job.status}: {job.error_message}")
                    push.start_ms.append((job.started_at - posted_at).total_seconds() * 1000)
                    push.job_ms.append(float(job.duration_ms or 0))
                    push.blobs.append(standin.blobs_since(seen))
                    push.plan_ms.append((times["plan"] - before_times["plan"]) * 1000)
                    push.fetch_ms.append((times["fetch"] - before_times["fetch"]) * 1000)
                    push.embedding_ms.append(float((job.output or {}).get("embedding_seconds", 0)) * 1000)
                    push.tokens.append(int((job.output or {}).get("tokens_embedded", 0)))
                    print(
                        f"  push of {size} file(s) #{repeat + 1}: searchable after "
                        f"{push.searchable_ms[-1]:.0f} ms, job {push.job_ms[-1]:.0f} ms, "
                        f"{push.blobs[-1]} blob requests",
                        file=sys.stderr,
                        flush=True,
                    )
                results.append(push)
    finally:
        engine.stop()
    return results


def measure_resync(services: Any, standin: StandIn, workspace_id: str, source_id: str) -> Resync:
    seen = standin.count()
    job_id = services.jobs.enqueue_sync(workspace_id, source_id, mode="full").job_id
    with timed_github(services.runner) as times:
        started = time.perf_counter()
        services.runner.run_inline(job_id)
        wall = time.perf_counter() - started
    job = services.jobs.get_job(workspace_id, job_id)
    output = {k: v for k, v in (job.output or {}).items() if k.startswith("documents_")}
    return Resync(
        wall,
        times["plan"],
        float(job.duration_ms or 0),
        standin.blobs_since(seen),
        standin.count() - seen,
        output,
    )


# --------------------------------------------------------------------------- report


def share(part: float | None, whole: float) -> str:
    return "-" if part is None else f"{part:.1f} ({part / whole:.0%})"


def full_sync_table(runs: list[FullSync]) -> str:
    lines = [
        "| run | embedder | blob concurrency | docs | wall s | files/s | plan s (share) "
        "| blob fetch s (share) | ms per blob | embedding s (share) | rest s | chunks | requests (blobs) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        requests = "-" if r.requests is None else f"{r.requests} ({r.blobs})"
        per_blob = f"{r.fetch * 1000 / r.blobs:.1f}" if r.fetch is not None and r.blobs else "-"
        lines.append(
            f"| {r.name} | {r.embedder} | {r.concurrency or '-'} | {r.docs} | {r.wall:.1f} "
            f"| {r.docs / r.wall:.1f} | {share(r.plan, r.wall)} | {share(r.fetch, r.wall)} | {per_blob} "
            f"| {share(r.embedding, r.wall)} | {r.other:.1f} | {r.chunks} | {requests} |"
        )
    return "\n".join(lines)


def push_table(pushes: list[Push]) -> str:
    lines = [
        "| files changed | repeats | to searchable p50 ms | max ms | POST answered p50 ms "
        "| job started p50 ms | job duration p50 ms | max ms | in plan p50 ms | in blob fetch p50 ms "
        "| embedding p50 ms (tokens) | blob requests per job |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in pushes:
        blobs = sorted(set(p.blobs))
        lines.append(
            f"| {p.files} | {len(p.searchable_ms)} | {statistics.median(p.searchable_ms):.0f} "
            f"| {max(p.searchable_ms):.0f} | {statistics.median(p.post_ms):.0f} "
            f"| {statistics.median(p.start_ms):.0f} | {statistics.median(p.job_ms):.0f} "
            f"| {max(p.job_ms):.0f} | {statistics.median(p.plan_ms):.0f} "
            f"| {statistics.median(p.fetch_ms):.0f} "
            f"| {statistics.median(p.embedding_ms):.0f} ({statistics.median(p.tokens):.0f}) "
            f"| {', '.join(map(str, blobs))} |"
        )
    return "\n".join(lines)


def resync_table(r: Resync) -> str:
    counts = ", ".join(f"{k.removeprefix('documents_')} {v}" for k, v in r.output.items())
    return "\n".join(
        [
            "| wall s | plan s | job duration ms | API requests | blob requests | documents |",
            "|---|---|---|---|---|---|",
            f"| {r.wall:.2f} | {r.plan:.2f} | {r.job_ms:.0f} | {r.requests} | {r.blobs} | {counts} |",
        ]
    )


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=1000, help="SciFact abstracts in the repo (default 1000)")
    parser.add_argument("--repeats", type=int, default=5, help="pushes per change size (default 5)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR SciFact directory")
    parser.add_argument(
        "--standin-in-process",
        action="store_true",
        help="run the GitHub stand-in as a thread of this process (default: a child process)",
    )
    args = parser.parse_args()
    if args.docs < 10 or args.repeats < 1:
        parser.error("--docs must be at least 10 and --repeats at least 1")

    from lightfast.app.container import build_services

    load_before = load()
    began = time.perf_counter()
    docs = load_docs(args.data, args.docs)
    if len(docs) < args.docs:
        sys.exit(f"{args.data} has only {len(docs)} documents")
    private_pem, public_pem = generate_private_key()
    runs: list[FullSync] = []
    with tempfile.TemporaryDirectory(prefix="lightfast-bench-github-") as tmpdir:
        tmp = Path(tmpdir)
        repo = write_tree(tmp / "repo", docs)
        git(repo, "init", "-q", "-b", "main")
        commit_all(repo, "SciFact abstracts")
        local = write_tree(tmp / "local", docs)
        standin = StandIn(public_pem, repo, in_process=args.standin_in_process)
        try:
            warm_up_github(standin.url, private_pem)
            for concurrency in (1, 8):
                print(f"full sync, fake embedder, blob concurrency {concurrency} ...", file=sys.stderr)
                home = tmp / f"fake{concurrency}"
                settings = github_settings(
                    home,
                    standin.url,
                    private_pem,
                    embedding_provider="fake",
                    github_blob_concurrency=concurrency,
                )
                services = build_services(settings)
                try:
                    run, _, _ = github_full_sync(services, standin, "GitHub", "fake", concurrency)
                    runs.append(run)
                finally:
                    services.close()

            print("ingest from a local directory, real model ...", file=sys.stderr, flush=True)
            services = build_services(Settings(home=tmp / "local-home", database_url=None))
            try:
                services.embedder.embed(["warm up the model"])
                started = time.perf_counter()
                result = services.ingest.ingest_path(local)
                wall = time.perf_counter() - started
                summary = result.summary
                local_run = FullSync(
                    name="local directory",
                    embedder="local",
                    concurrency=None,
                    docs=summary.documents_added + summary.documents_updated + summary.documents_unchanged,
                    wall=wall,
                    plan=None,
                    fetch=None,
                    embedding=summary.embedding_seconds,
                    chunks=summary.chunks_embedded,
                    tokens=summary.tokens_embedded,
                    requests=None,
                    blobs=None,
                )
            finally:
                services.close()

            print("full sync, real model, blob concurrency 8 ...", file=sys.stderr, flush=True)
            services = build_services(github_settings(tmp / "real", standin.url, private_pem))
            try:
                services.embedder.embed(["warm up the model"])
                real, workspace_id, source_id = github_full_sync(services, standin, "GitHub", "local", 8)
                runs += [real, local_run]
                print("pushes with a worker running ...", file=sys.stderr, flush=True)
                pushes = measure_pushes(
                    services, standin, repo, workspace_id, sorted(docs), [1, 10], args.repeats
                )
                print("full resync of the unchanged repository ...", file=sys.stderr, flush=True)
                resync = measure_resync(services, standin, workspace_id, source_id)
            finally:
                services.close()
        finally:
            standin.stop()

    total = time.perf_counter() - began
    load_after = load()
    rendered = [
        "### Initial full sync",
        "",
        full_sync_table(runs),
        "",
        f"GitHub (real model) / local directory (real model) wall time: {real.wall / local_run.wall:.2f}x "
        f"({real.wall - local_run.wall:+.1f} s). Model rate: {real.tokens / real.embedding:.0f} tokens/s "
        f"(GitHub run), {local_run.tokens / local_run.embedding:.0f} tokens/s (local run); "
        f"{real.tokens} tokens in {real.chunks} chunks.",
        "",
        "### Push to searchable (worker running, real model)",
        "",
        push_table(pushes),
        "",
        "Search found the change while the job was still running in "
        + ", ".join(f"{p.before_done}/{len(p.searchable_ms)} ({p.files} file(s))" for p in pushes)
        + " repeats.",
        "",
        "### Full resync of the unchanged repository",
        "",
        resync_table(resync),
    ]
    print("\n".join(rendered))

    defaults = Settings(embedding_provider="fake")
    command = " ".join(["python bench/github.py", *sys.argv[1:]])
    standin_where = "a thread of the benchmark process" if args.standin_in_process else "a child process"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "\n".join(
            [
                "# GitHub source benchmark",
                "",
                f"Command: `{command}`",
                "",
                "## Setup",
                "",
                f"- Machine: {cpu_model()}, {platform.machine()}, {os.cpu_count()} logical cores, which "
                "other processes may share (load average 1 / 5 / 15 min: "
                f"{load_before} at start, {load_after} at end). Python {platform.python_version()}, "
                f"torch {importlib.metadata.version('torch')}, githubkit "
                f"{importlib.metadata.version('githubkit')}, dbos {importlib.metadata.version('dbos')}.",
                f"- Corpus: the first {args.docs} SciFact abstracts as `docs/{{id}}.md` (`# title` + text) "
                "and a `lightfast.yml` (`store: docs`, `include: ['docs/**/*.md']`), one commit of a real "
                f"git repository served by the GitHub REST stand-in on loopback, in {standin_where} "
                "(each blob request runs `git cat-file` there). No network latency: on api.github.com "
                "every request would add a round trip.",
                "- SQLite, a fresh database per run; product defaults: "
                f"{defaults.ingest_batch_documents} documents per batch, embedding batch "
                f"{defaults.embedding_batch_size}, torch threads = all cores. Real model: all-MiniLM-L6-v2 "
                "on the CPU, loaded and warmed up before timing; fake: the deterministic test embedder.",
                "- **Initial full sync**: `connect_github` + the job run inline. *plan* = "
                "`SyncRunner.plan` (branch head, recursive tree, config blob, unchanged check); *blob "
                "fetch* = time inside `RepositoryClient.blobs` (one call per batch, "
                "`github_blob_concurrency` threads; *ms per blob* = that time / blob requests); "
                "*embedding* = the pipeline's `embedding_seconds`; "
                "*rest* = chunking, tokenising, database writes. The batches run one after the other: a "
                "batch's blobs are fetched, then embedded and written. The local-directory row is "
                "`ingest.ingest_path` of the same files.",
                "- **Push to searchable**: a `JobEngine` worker in the benchmark process (dispatch "
                f"interval {defaults.dispatch_interval} s); per repeat, a commit appending a new unique "
                "word to 1 (or 10) documents, the signed `push` delivery posted to `POST /webhooks/github` "
                "(FastAPI TestClient), then a bm25 search for the word every 50 ms until every changed "
                "document is returned; timed from just before the POST. *job started* = the job's "
                "`started_at` - the POST; *job duration* = its `duration_ms`; blob requests as logged by "
                "the stand-in (the changed files + `lightfast.yml`); *in plan*, *in blob fetch*: the same "
                "wrappers as above, around each job; *embedding*: the job's `embedding_seconds` and "
                "`tokens_embedded`.",
                "- **Full resync**: a `mode=full` sync of the unchanged repository, run inline.",
                "",
                "## Results",
                "",
                *rendered,
                "",
                f"Total wall time: {total:.0f} s.",
                "",
            ]
        ),
        encoding="utf-8",
    )
    print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
