"""Search at scale (issue 11): a million chunks on SQLite, and PostgreSQL next to SQLite at the same size.

Stores are built once (and reused from ``--work``) through ``search_latency.build``: the application's
write path (``db.documents.write_document``, one transaction per 128 documents of 8 chunks, the FTS5
and change-log triggers firing), SciFact abstracts cut into ~120-word chunks and cycled, random unit
vectors. The build runs in this process; every measurement runs in a NEW process, so the first thing it
times is a cold start:

- ``cold start``: from the moment this process spawns the measuring one to its first answered hybrid
  search (imports, ``build_services``, the store's vectors loaded, the first lexical answer; that
  answer's own retrieval and total time), then to the in-memory lexical index ready
  (``index.wait_lexical``, where the index has one: until then the database's plan answers); ``RSS``:
  the measuring process's resident memory once both indexes are loaded (psutil), and its peak
  (``ru_maxrss``)
- ``vector k``, ``lexical k``: the index port alone, each of ``--queries`` SciFact claims timed alone
  (fake query embedding). ``lexical`` is whatever ``lexical_search`` answers with once the in-memory
  index is ready; ``the database's plan`` is the one it falls back to: ``index.fts5_search`` (FTS5) on
  SQLite, ``index.sql_search`` (the BM25 SQL of ``lightfast.index.postgres``) on PostgreSQL
- ``hybrid``: ``SearchService.search`` end to end (top 10, the default fusion and candidates, snippets),
  with the fake query embedding and, with ``--real-model``, all-MiniLM-L6-v2 embedding each claim
  (uncached, its 1-thread query budget)
- ``write`` / ``first hybrid after a write``: one document (8 chunks) replaced in its own transaction,
  its first chunk carrying a word no other chunk has and the query's own vector; then the first hybrid
  search for that word, which must return that document first (``found`` counts how often it did)

PostgreSQL is the ``pgserver`` wheel's (16, with pgvector) as the tests start it, its data kept under
``--work``. With ``--explain``, ``EXPLAIN (ANALYZE, BUFFERS)`` of the BM25 query at the largest
PostgreSQL size is printed for the slowest and the median claim.

    python bench/search_scale.py --sqlite-sizes 10000 100000 1000000 --pg-sizes 10000 100000 \
        --real-model --explain

``uptime`` is printed before and after each section; percentiles are nearest-rank.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from lightfast.app.container import Services, build_services  # noqa: E402
from lightfast.app.search import SearchRequest, SearchService  # noqa: E402
from lightfast.db.documents import write_document  # noqa: E402
from lightfast.db.tenancy import (  # noqa: E402
    bump_generation,
)
from lightfast.embed.base import Embedder  # noqa: E402
from lightfast.index.base import SearchFilters  # noqa: E402
from lightfast.settings import Settings  # noqa: E402
from search_latency import (  # noqa: E402 - bench/ is put on the path just above
    CHUNKS_PER_DOCUMENT,
    build,
    chunk_texts,
    document,
    ensure_bench_store,
    once,
    queries,
    timed,
    unit_vectors,
    uptime,
)

RESULT = "RESULT "  # the measuring process's last line: this prefix, then its figures as JSON
NONE = SearchFilters()


@dataclass(frozen=True)
class Target:
    database: str  # "SQLite" | "PostgreSQL"
    size: int
    home: Path
    database_url: str | None

    def settings(self) -> Settings:
        return Settings(
            home=self.home,
            database_url=self.database_url,
            embedding_provider="fake",
            default_workspace="bench",
        )


def stats(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    n = len(ordered)
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[max(0, math.ceil(0.95 * n) - 1)],  # nearest rank, as the insights module ranks
        "mean": statistics.fmean(ordered),
        "n": n,
    }


def prepare(target: Target, data: Path) -> tuple[str, str]:
    """Build the target's store up to its size (a no-op when an earlier run built it)."""
    settings = target.settings()
    services = build_services(settings)
    try:
        workspace_id, store_id = ensure_bench_store(services, settings)
        built = build(services, store_id, target.size, chunk_texts(data), services.embedder.spec.dimension)
        print(f"{target.database} {target.size:,} chunks: built in {built:.1f} s", flush=True)
        return workspace_id, store_id
    finally:
        services.close()


def measure(target: Target, data: Path, query_count: int, writes: int, real_model: bool) -> dict[str, Any]:
    """Spawn the measuring process and return its figures."""
    workspace_id, store_id = prepare(target, data)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        json.dumps(
            {
                "database": target.database,
                "size": target.size,
                "home": str(target.home),
                "database_url": target.database_url,
                "workspace_id": workspace_id,
                "store_id": store_id,
                "data": str(data),
                "queries": query_count,
                "writes": writes,
                "real_model": real_model,
                "spawned_at": time.time(),
            }
        ),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr[-4000:])
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the measuring process failed ({done.returncode}): {done.stdout[-2000:]}")
    print("\n".join(line for line in done.stdout.splitlines() if not line.startswith(RESULT)), flush=True)
    result: dict[str, Any] = json.loads(lines[-1][len(RESULT) :])
    return result


class QueriesByRealModel(Embedder):
    """The store's fake model in name (the search service embeds a query with the model its store names),
    all-MiniLM-L6-v2 in fact: the real model's query path, uncached, timed inside the hybrid search."""

    def __init__(self, spec: Any) -> None:
        from lightfast.embed.local import LocalEmbedder

        super().__init__(spec)
        self.model = LocalEmbedder()

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        return self.model.embed(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.model.embed_query_uncached(text)


def child(job: dict[str, Any]) -> None:
    """The measuring process: cold start first, then the latencies, then the first search after writes."""
    import psutil

    started = job["spawned_at"]
    since = lambda: (time.time() - started) * 1000  # noqa: E731 - milliseconds since the spawn
    cold: dict[str, float | None] = {"imports done": since()}
    target = Target(job["database"], job["size"], Path(job["home"]), job["database_url"])
    services = build_services(target.settings())
    cold["services built"] = since()
    data = Path(job["data"])
    claims = queries(data, job["queries"])
    workspace_id, store_id, stores = job["workspace_id"], job["store_id"], [job["store_id"]]
    first = services.search.search(SearchRequest(workspace_id=workspace_id, query=claims[0]))
    cold["first hybrid answer"] = since()
    # Where the first answer's time went: the retrieval holds the store's vectors loaded whole.
    durations = {"its retrieval": first.latency.retrieval, "its total": first.latency.total}
    index = services.index
    wait_lexical = getattr(index, "wait_lexical", None)
    if wait_lexical is not None:
        with services.sessions() as session:
            wait_lexical(session)
        cold["lexical index ready"] = since()
    process = psutil.Process()
    memory = {
        "rss": process.memory_info().rss / 2**20,
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
    }
    print(f"cold start (ms from spawn): {json.dumps({k: round(v or 0) for k, v in cold.items()})}")
    print(f"memory (MiB): rss {memory['rss']:.0f}, peak {memory['peak']:.0f}", flush=True)

    rows: dict[str, dict[str, Any]] = {}
    vectors = [services.embedder.embed([q])[0] for q in claims]
    # The database's own plan, what answers while the in-memory index builds and under path, date and
    # metadata filters: FTS5 on SQLite, the BM25 SQL on PostgreSQL.
    own_plan = getattr(index, "fts5_search", None) or getattr(index, "sql_search", None)
    with services.sessions() as session:
        for k in (10, 100):
            rows[f"vector k={k}"] = stats(
                timed(lambda v=v, k=k: index.vector_search(session, stores, v, k, NONE) for v in vectors)
            )
            rows[f"lexical k={k}"] = stats(
                timed(lambda q=q, k=k: index.lexical_search(session, stores, q, k, NONE) for q in claims)
            )
            if own_plan is not None:
                rows[f"lexical k={k}, the database's plan (FTS5 / BM25 SQL)"] = stats(
                    timed(lambda q=q, k=k: own_plan(session, stores, q, k, NONE) for q in claims)
                )
    requests = [SearchRequest(workspace_id=workspace_id, query=q) for q in claims]
    rows["hybrid, fake query embedding"] = stats(
        timed(lambda r=r: services.search.search(r) for r in requests)
    )
    if job["real_model"]:
        real = QueriesByRealModel(services.embedder.spec)
        real.model.embed_query("warm up the model")
        search = SearchService(services.sessions, real, index, services.search.fusion)
        rows["hybrid, real model query embedding (uncached)"] = stats(
            timed(lambda r=r: search.search(r) for r in requests)
        )
    rows.update(fresh_searches(services, workspace_id, store_id, target.size, data, job["writes"]))
    services.close()
    figures = {"cold": cold, "first answer": durations, "memory": memory, "rows": rows}
    print(RESULT + json.dumps(figures), flush=True)


def fresh_searches(
    services: Services, workspace_id: str, store_id: str, size: int, data: Path, writes: int
) -> dict[str, dict[str, Any]]:
    """One document replaced, then the first hybrid search for the word only its new version holds."""
    texts = chunk_texts(data)
    dim = services.embedder.spec.dimension
    rng = np.random.default_rng(time.time_ns() % 2**32)  # a new word each run: old runs' words persist
    run = int(rng.integers(10**9))
    write_ms, search_ms, found, found_lexical = [], [], 0, 0
    for i in range(writes):
        number = int(rng.integers(size // CHUNKS_PER_DOCUMENT))
        word = f"freshness{run}x{i}"
        vectors = unit_vectors(rng, CHUNKS_PER_DOCUMENT, dim)
        vectors[0] = services.embedder.embed([word])[0]  # the vector side must find it too
        doc, entries = document(store_id, number, texts, vectors)
        entries[0] = replace(entries[0], content=f"{word} {entries[0].content}")
        started = time.perf_counter()
        with services.sessions.begin() as session:
            write_document(session, doc, entries)
            bump_generation(session, store_id)
        write_ms.append((time.perf_counter() - started) * 1000)
        request = SearchRequest(workspace_id=workspace_id, query=word)
        started = time.perf_counter()
        results = services.search.search(request).results
        search_ms.append((time.perf_counter() - started) * 1000)
        found += bool(results) and results[0].document_id == doc.id
        # The query's vector is the new chunk's, so the hybrid answer finds it by vectors alone: the
        # lexical side is asked on its own whether it has caught up too.
        with services.sessions() as session:
            hits = services.index.lexical_search(session, [store_id], word, 10, NONE)
        found_lexical += any(hit.document_id == doc.id for hit in hits)
    note = f"found the change: hybrid first {found}/{writes}, lexical {found_lexical}/{writes}"
    return {
        "write one document (8 chunks)": stats(write_ms),
        "first hybrid after a write": {**stats(search_ms), "note": note},
    }


def explain_bm25(url: str, data: Path, query_count: int) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the BM25 query the PostgreSQL index runs, for the slowest claim and
    the median one (the first run of each warms the cache; the plan printed is the second's)."""
    from sqlalchemy import create_engine

    from lightfast.index.postgres import _BM25_SQL, BM25_B, BM25_K1
    from lightfast.search.text import tsquery_expression

    engine = create_engine(url)
    with engine.connect() as connection:
        store = connection.execute(text("SELECT id FROM stores WHERE name = 'bench'")).scalar_one()
        sql = _BM25_SQL.format(filters="")
        timings = []
        for claim in queries(data, query_count):
            expression = tsquery_expression(claim)
            if expression is None:
                continue
            params = {"stores": [store], "k": 10, "tsq": expression, "words": expression.replace(" | ", " ")}
            params |= {"k1": BM25_K1, "b": BM25_B}
            timings.append((once(lambda p=params: connection.execute(text(sql), p).all()), claim, params))
        timings.sort(key=lambda t: t[0])
        for label, (ms, claim, params) in (("slowest", timings[-1]), ("median", timings[len(timings) // 2])):
            connection.execute(text(sql), params).all()
            plan = connection.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql), params).scalars()
            print(
                f"\n### BM25 plan, {label} claim ({ms:.1f} ms): {claim!r}\n\n```\n"
                + "\n".join(plan)
                + "\n```"
            )
    engine.dispose()


@contextmanager
def postgres(work: Path) -> Iterator[Callable[[int], str]]:
    """A pgserver PostgreSQL kept under ``work`` (its databases survive runs); yields url-of-size."""
    import pgserver

    server = pgserver.get_server(work / "pg", cleanup_mode="stop")
    base = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)

    def url(size: int) -> str:
        name = f"bench_n{size}"
        if name not in server.psql("SELECT datname FROM pg_database;"):
            server.psql(f"CREATE DATABASE {name};")
        return base.replace("/postgres?", f"/{name}?", 1)

    try:
        yield url
    finally:
        server.cleanup()


def table(results: list[tuple[Target, dict[str, Any]]]) -> list[str]:
    """One row per (size, what): SQLite and PostgreSQL side by side, PostgreSQL's p95 over SQLite's."""
    cells: dict[tuple[int, str], dict[str, str]] = {}
    ratios: dict[tuple[int, str], dict[str, float]] = {}
    for target, result in results:
        for what, value in result["cold"].items():
            key = (target.size, f"cold start: {what} (ms from spawn)")
            cells.setdefault(key, {})[target.database] = f"{value:,.0f}"
        for what, value in result.get("first answer", {}).items():
            key = (target.size, f"cold start: the first answer's own figure, {what} (ms)")
            cells.setdefault(key, {})[target.database] = f"{value:,.0f}"
        for what in ("rss", "peak"):
            key = (target.size, f"memory: {what} after both indexes loaded (MiB)")
            cells.setdefault(key, {})[target.database] = f"{result['memory'][what]:,.0f}"
        for what, s in result["rows"].items():
            key = (target.size, what)
            note = f" ({s['note']})" if "note" in s else ""
            cells.setdefault(key, {})[target.database] = f"{s['p50']:.1f} / {s['p95']:.1f}{note}"
            ratios.setdefault(key, {})[target.database] = s["p95"]
    out = [
        "| chunks | what | SQLite p50 / p95 ms | PostgreSQL p50 / p95 ms | PG p95 / SQLite p95 |",
        "|---|---|---|---|---|",
    ]
    for key in sorted(cells, key=lambda k: k[0]):
        both = ratios.get(key, {})
        ratio = f"{both['PostgreSQL'] / both['SQLite']:.1f}x" if len(both) == 2 and both["SQLite"] else ""
        cell = cells[key]
        out.append(
            f"| {key[0]:,} | {key[1]} | {cell.get('SQLite', '')} | {cell.get('PostgreSQL', '')} | {ratio} |"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sqlite-sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--pg-sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data" / "scifact")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--writes", type=int, default=20, help="one-document writes, each then searched")
    parser.add_argument("--real-model", action="store_true", help="also hybrid with all-MiniLM-L6-v2")
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN the BM25 query at the largest PG size"
    )
    parser.add_argument("--work", type=Path, default=HERE / "results" / ".work" / "search-scale")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the measuring process's job, as JSON
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    if not (args.data / "corpus.jsonl").exists():
        sys.exit(f"no SciFact corpus in {args.data}")

    print(f"# Search at scale\n\n`{' '.join(sys.argv)}`\n")
    print(
        f"Python {platform.python_version()}, NumPy {np.__version__}, SQLite "
        f"{__import__('sqlite3').sqlite_version}, {os.cpu_count()} logical cores"
    )
    results: list[tuple[Target, dict[str, Any]]] = []
    for size in args.sqlite_sizes:
        target = Target("SQLite", size, args.work / f"n{size}", None)
        print(f"\n## SQLite, {size:,} chunks\n\nbefore: `{uptime()}`", flush=True)
        results.append((target, measure(target, args.data, args.queries, args.writes, args.real_model)))
        print(f"after: `{uptime()}`", flush=True)
    if args.pg_sizes:
        with postgres(args.work) as url:
            for size in args.pg_sizes:
                target = Target("PostgreSQL", size, args.work / f"pg-home-n{size}", url(size))
                print(f"\n## PostgreSQL, {size:,} chunks\n\nbefore: `{uptime()}`", flush=True)
                results.append(
                    (target, measure(target, args.data, args.queries, args.writes, args.real_model))
                )
                print(f"after: `{uptime()}`", flush=True)
            if args.explain:
                print(
                    f"\n## EXPLAIN, PostgreSQL BM25 at {max(args.pg_sizes):,} chunks\n\nbefore: `{uptime()}`"
                )
                explain_bm25(url(max(args.pg_sizes)), args.data, args.queries)
                print(f"after: `{uptime()}`", flush=True)
    print("\n" + "\n".join(table(results)))


if __name__ == "__main__":
    main()
