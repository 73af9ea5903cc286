"""Search latency on SQLite, in process: vector, lexical and hybrid, and the first search after a write.

For each size, builds (once; reused from ``--work``) a store of N chunks through the real write path
(``db.documents.write_document``, one transaction per batch, as the pipeline writes): chunk texts are
SciFact abstracts cut into ~120-word pieces and cycled (so the lexical index has real text), vectors are
random unit vectors (latency does not depend on what they mean). Queries are SciFact claims; the fake
embedder embeds them (no model: this measures the index, not the embedding).

Measured per size, each query timed alone:

- ``vector k``: ``SqliteIndex.vector_search`` (exact NumPy search over the in-memory table)
- ``lexical k``: ``SqliteIndex.lexical_search``, the FTS5 plan (``fts5_search``, where the index has
  another engine) and the replaced plan (join every match, then rank), taking turns query by query
- ``hybrid``: ``SearchService.search`` end to end with the default fusion (top 10; the fake embedder's
  query embedding, both retrievals at 100 candidates, fusion, one result per document, snippets)
- ``after write``: replace one document (8 chunks) in its own transaction, then time the first vector
  search (k=100) and the first hybrid search after it; ``full load`` is a store loaded whole (what every
  write cost before the index was updated by chunk)

- ``http``: the same hybrid searches through ``POST /v1/search`` of a uvicorn server in its own
  process (a free loopback port, an API key of the workspace), one httpx client, each request timed
  alone; then ``--clients`` concurrent clients (threads, one connection each) for ``--seconds``:
  queries/s and errors. Once per value of ``--search-processes`` (``LIGHTFAST_SEARCH_PROCESSES`` of the
  server: 0 answers in its own process, N in N worker processes), in the order given
- ``query embedding cache`` (``--real-model``): all-MiniLM-L6-v2's query embedding as search calls it
  (``Embedder.embed_query``), each claim once uncached (one thread, the query budget), then again (a hit)
- ``under load (N burners)`` (``--burners``, 1 by default): hybrid in process and over HTTP again while
  N processes spin on a core each; ``--real-search``: hybrid end to end with the real model embedding
  every query; ``--during-ingest``: the same while an ingest runs in the process; ``--txtai``: the peer
  (all in ``search_load.py``)

    python bench/search_latency.py --sizes 10000 100000 --real-model --real-search --during-ingest --txtai

The machine's load average (``os.getloadavg``) is printed before and after each size: figures taken on a
busy machine are not comparable with figures taken on an idle one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from sqlalchemy import text

from lightfast.app.container import Services, build_services
from lightfast.app.search import SearchRequest
from lightfast.db.documents import DocumentWrite, EntryWrite, write_document
from lightfast.db.tenancy import bump_generation, ensure_organization, ensure_store, ensure_workspace
from lightfast.index.base import SearchFilters
from lightfast.index.sqlite import SqliteIndex
from lightfast.search.text import fts5_match_expression
from lightfast.settings import Settings
from search_load import (
    abstracts,
    burners,
    measure_query_cache,
    measure_real_model,
    measure_txtai,
    once,
    remove_txtai_index,
    row,
    timed,
    under_load,
    uptime,
    wait_lexical,
)

HERE = Path(__file__).resolve().parent
CHUNKS_PER_DOCUMENT = 8
WORDS_PER_CHUNK = 120
BATCH_DOCUMENTS = 128

# The plan the lexical search had before it ranked inside FTS5: join every match, then rank.
JOIN_THEN_RANK = (
    "SELECT ve.seq, bm25(chunks_fts) AS rank FROM chunks_fts "
    "JOIN vector_entries ve ON ve.seq = chunks_fts.rowid JOIN documents d ON d.id = ve.document_id "
    "WHERE chunks_fts MATCH :match AND ve.store_id IN (:store) ORDER BY rank LIMIT :k"
)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def chunk_texts(data: Path) -> list[str]:
    texts: list[str] = []
    with (data / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            words = f"{row.get('title') or ''} {row.get('text') or ''}".split()
            texts.extend(
                " ".join(words[i : i + WORDS_PER_CHUNK]) for i in range(0, len(words), WORDS_PER_CHUNK)
            )
    return texts


def queries(data: Path, count: int) -> list[str]:
    with (data / "queries.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle][:count]


def unit_vectors(rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def document(
    store_id: str, number: int, texts: list[str], vectors: np.ndarray
) -> tuple[DocumentWrite, list[EntryWrite]]:
    doc_id = f"doc_bench_{number:08d}"
    chunks = [texts[(number * CHUNKS_PER_DOCUMENT + i) % len(texts)] for i in range(len(vectors))]
    content = "\n\n".join(chunks)
    digest = hashlib.sha256(content.encode()).hexdigest()
    doc = DocumentWrite(
        id=doc_id,
        store_id=store_id,
        connection_id=None,
        source_type="local",
        source_id=f"bench/{number:08d}.md",
        source_metadata={},
        path=f"bench/{number % 16:02d}/{number:08d}.md",
        url=None,
        slug=f"{number:08d}",
        title=f"Document {number}",
        content_hash=digest,
        config_hash="bench",
        frontmatter=None,
        content=content,
    )
    entries = [
        EntryWrite(
            chunk_index=i,
            content_hash=hashlib.sha256(chunk.encode()).hexdigest(),
            content=chunk,
            token_count=len(chunk.split()),
            embedding=vectors[i],
        )
        for i, chunk in enumerate(chunks)
    ]
    return doc, entries


def bench_settings(work: Path, size: int) -> Settings:
    return Settings(
        home=work / f"n{size}",
        embedding_provider="fake",
        default_workspace="bench",
        rate_limit_per_minute=1_000_000,  # the clients below would hit the default limit in seconds
    )


def open_store(work: Path, size: int) -> tuple[Services, str, str]:
    settings = bench_settings(work, size)
    services = build_services(settings)
    return services, *ensure_bench_store(services, settings)


def ensure_bench_store(services: Services, settings: Settings) -> tuple[str, str]:
    """The "bench" workspace and store (ids), made for the embedder's model if they do not exist."""
    spec = services.embedder.spec
    with services.sessions.begin() as session:
        org = ensure_organization(session, settings.default_organization)
        workspace = ensure_workspace(session, org.id, "bench")
        store = ensure_store(
            session,
            workspace.id,
            "bench",
            provider=spec.provider,
            model=spec.name,
            dimension=spec.dimension,
            chunk_tokens=spec.default_chunk_tokens,
            chunk_overlap=spec.default_chunk_overlap,
        )
        return workspace.id, store.id


def build(services: Services, store_id: str, size: int, texts: list[str], dim: int) -> float:
    """Fill the store up to ``size`` chunks (a store built by an earlier run is reused)."""
    with services.sessions() as session:
        have = session.execute(
            text("SELECT count(*) FROM vector_entries WHERE store_id = :s"), {"s": store_id}
        ).scalar_one()
    documents = size // CHUNKS_PER_DOCUMENT
    start = have // CHUNKS_PER_DOCUMENT
    rng = np.random.default_rng(size)
    started = time.perf_counter()
    for first in range(start, documents, BATCH_DOCUMENTS):
        numbers = range(first, min(first + BATCH_DOCUMENTS, documents))
        vectors = unit_vectors(rng, len(numbers) * CHUNKS_PER_DOCUMENT, dim)
        with services.sessions.begin() as session:
            for i, number in enumerate(numbers):
                block = vectors[i * CHUNKS_PER_DOCUMENT : (i + 1) * CHUNKS_PER_DOCUMENT]
                write_document(session, *document(store_id, number, texts, block))
            bump_generation(session, store_id)
        if (first // BATCH_DOCUMENTS) % 50 == 0:
            print(
                f"  built {min(first + BATCH_DOCUMENTS, documents) * CHUNKS_PER_DOCUMENT} chunks", flush=True
            )
    return time.perf_counter() - started


def measure(size: int, data: Path, args: argparse.Namespace) -> list[str]:
    work, writes = args.work, args.writes
    print(f"\n## N = {size:,}\n\nin process: before `{uptime()}`", flush=True)
    services, workspace_id, store_id = open_store(work, size)
    index = services.index
    assert isinstance(index, SqliteIndex), "this benchmark measures the SQLite index"
    dim = services.embedder.spec.dimension
    texts = chunk_texts(data)
    built = build(services, store_id, size, texts, dim)
    claims = queries(data, args.queries)
    vectors = [services.embedder.embed([q])[0] for q in claims]
    stores = [store_id]
    rows: list[str] = []
    with services.sessions() as session:
        chunks = session.execute(
            text("SELECT count(*) FROM vector_entries WHERE store_id = :s"), {"s": store_id}
        )
        print(f"store: {chunks.scalar_one():,} chunks; build {built:.1f} s", flush=True)

        # Cold: the whole store loaded into memory (each write cost this before).
        loads = []
        for _ in range(3):
            index.reset()
            loads.append(once(lambda: index.vector_search(session, stores, vectors[0], 10, SearchFilters())))
        rows.append(row(size, "full load (cold start; before: every write)", loads))
        wait_lexical(services)  # a reset drops the in-memory lexical index too: no timed query builds it
        fts5 = getattr(index, "fts5_search", None)  # the FTS5 plan, where another engine answers now

        none = SearchFilters()
        for k in (10, 100):
            rows.append(
                row(
                    size,
                    f"vector k={k}",
                    timed(lambda v=v, k=k: index.vector_search(session, stores, v, k, none) for v in vectors),
                )
            )
        # The two lexical plans take turns, query by query, so a change in the machine's load hits both.
        for k in (10, 100):
            current, replaced, plan = [], [], []
            for claim in claims:
                match = fts5_match_expression(claim)
                if match is None:
                    continue
                params = {"match": match, "store": store_id, "k": k}
                current.append(once(lambda c=claim, k=k: index.lexical_search(session, stores, c, k, none)))
                if fts5 is not None:
                    plan.append(once(lambda c=claim, k=k: fts5(session, stores, c, k, none)))
                replaced.append(once(lambda p=params: session.execute(text(JOIN_THEN_RANK), p).all()))
            rows.append(row(size, f"lexical k={k}", current))
            if plan:
                rows.append(row(size, f"lexical k={k}, FTS5 plan", plan))
            rows.append(row(size, f"lexical k={k}, replaced plan (join every match, then rank)", replaced))
        filtered = SearchFilters(path_prefix="bench/03/")
        rows.append(
            row(
                size,
                "lexical k=100, path filter (1/16; the replaced plan)",
                timed(lambda q=q: index.lexical_search(session, stores, q, 100, filtered) for q in claims),
            )
        )
        rows.append(
            row(
                size,
                "vector k=100, path filter (1/16)",
                timed(lambda v=v: index.vector_search(session, stores, v, 100, filtered) for v in vectors),
            )
        )

    hybrid = [SearchRequest(workspace_id=workspace_id, query=q) for q in claims]
    what = "hybrid end to end (fake query embedding)"
    rows.append(row(size, what, timed(lambda r=r: services.search.search(r) for r in hybrid)))
    if args.burners:
        with burners(args.burners):
            loaded = timed(lambda r=r: services.search.search(r) for r in hybrid)
        rows.append(row(size, under_load(what, args.burners), loaded))

    # Freshness: one document replaced (its 8 chunks deleted and written again), then the first search.
    rng = np.random.default_rng(7)
    documents = size // CHUNKS_PER_DOCUMENT
    first_vector, first_hybrid, write_ms = [], [], []
    full_loads, loaded = index.stats.full_loads, index.stats.rows_loaded
    for i in range(writes):
        number = int(rng.integers(documents))
        started = time.perf_counter()
        with services.sessions.begin() as session:
            write_document(
                session, *document(store_id, number, texts, unit_vectors(rng, CHUNKS_PER_DOCUMENT, dim))
            )
            bump_generation(session, store_id)
        write_ms.append((time.perf_counter() - started) * 1000)
        if i % 2 == 0:
            with services.sessions() as session:
                vector = vectors[i % len(vectors)]
                first_vector.append(
                    once(lambda v=vector: index.vector_search(session, stores, v, 100, SearchFilters()))
                )
        else:
            first_hybrid.append(once(lambda r=hybrid[i % len(hybrid)]: services.search.search(r)))
    rows.append(row(size, "write one document (8 chunks, one transaction)", write_ms))
    rows.append(row(size, "first vector search k=100 after a write", first_vector))
    rows.append(row(size, "first hybrid search after a write", first_hybrid))
    reloads = index.stats.full_loads - full_loads
    rows_read = index.stats.rows_loaded - loaded
    print(
        f"after {writes} writes: {reloads} full loads, {rows_read} rows read "
        f"({rows_read / max(writes, 1):.1f} a write)"
    )
    print(f"in process: after `{uptime()}`", flush=True)
    key = services.api_keys.create(workspace_id, f"bench-{time.time_ns()}").secret
    spec = services.embedder.spec
    services.close()
    print(f"\nhttp: before `{uptime()}`", flush=True)
    rows.extend(measure_http(size, work, key, claims, args))
    print(f"http: after `{uptime()}`", flush=True)
    if args.real_search or args.during_ingest:
        ingest_texts = abstracts(data) if args.during_ingest else None
        settings = bench_settings(work, size)
        rows.extend(
            measure_real_model(size, settings, spec, workspace_id, claims, args.burners, ingest_texts)
        )
    return rows


SERVER = """
import sys, uvicorn
from pathlib import Path
sys.path.insert(0, {bench!r})
from search_latency import bench_settings
from lightfast.api.app import create_app
from lightfast.app.container import build_services, start_search_processes
services = build_services(bench_settings(Path({work!r}), {size}))
if start_search_processes(services, wait=True) is None:  # workers warm their own indexes
    with services.sessions() as session:
        services.index.wait_lexical(session)
uvicorn.run(create_app(services), host="127.0.0.1", port={port}, log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def measure_http(size: int, work: Path, key: str, claims: list[str], args: argparse.Namespace) -> list[str]:
    """POST /v1/search to a uvicorn server in its own process (no job worker in it), once per value of
    ``--search-processes``, one after the other in the same run."""
    rows: list[str] = []
    for processes in args.search_processes:
        rows.extend(measure_http_server(size, work, key, claims, args, processes))
    return rows


def measure_http_server(
    size: int, work: Path, key: str, claims: list[str], args: argparse.Namespace, processes: int
) -> list[str]:
    import httpx

    port = free_port()
    code = SERVER.format(bench=str(HERE), work=str(work), size=size, port=port)
    env = {**os.environ, "LIGHTFAST_SEARCH_PROCESSES": str(processes)}
    server = subprocess.Popen([sys.executable, "-c", code], env=env)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    where = f"{processes} search processes" if processes else "searches in the server's process"
    rows: list[str] = []
    try:
        deadline = time.monotonic() + 300  # search processes load their indexes before the server listens
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:

            def search(query: str) -> None:
                response = client.post("/v1/search", json={"query": query, "limit": 10})
                response.raise_for_status()

            search(claims[0])  # the server loads the store's vectors on its first search
            what = f"http: hybrid, 1 client (fake query embedding; {where})"
            rows.append(row(size, what, timed(lambda q=q: search(q) for q in claims)))
            if args.burners:
                with burners(args.burners):
                    loaded = timed(lambda q=q: search(q) for q in claims)
                rows.append(row(size, under_load(what, args.burners), loaded))
        concurrent = concurrent_http(size, base, headers, claims, args.clients, args.seconds)
        rows.append(concurrent.replace(" errors |", f" errors; {where} |", 1))
    finally:
        server.terminate()
        server.wait(30)
    return rows


def concurrent_http(
    size: int, base: str, headers: dict[str, str], claims: list[str], clients: int, seconds: float
) -> str:
    import httpx

    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop_at = time.monotonic() + seconds

    def client_loop(number: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            i = number
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                try:
                    response = client.post("/v1/search", json={"query": claims[i % len(claims)], "limit": 10})
                    if response.status_code != 200:
                        errors[number] += 1
                except httpx.HTTPError:
                    errors[number] += 1
                latencies[number].append((time.perf_counter() - started) * 1000)
                i += clients

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    done = sum(len(samples) for samples in latencies)
    label = f"http: {clients} concurrent clients, {done / elapsed:.1f} queries/s, {sum(errors)} errors"
    return row(size, label, [ms for samples in latencies for ms in samples])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data" / "scifact")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--writes", type=int, default=20, help="one-document writes timed for freshness")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument(
        "--search-processes",
        type=int,
        nargs="+",
        default=[0],
        help="the HTTP sections once per value of LIGHTFAST_SEARCH_PROCESSES (0: in the server's process)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the concurrent clients run")
    parser.add_argument("--real-model", action="store_true", help="also time the query embedding cache")
    parser.add_argument("--work", type=Path, default=HERE / "results" / ".work" / "search-latency")
    parser.add_argument(
        "--burners", type=int, default=1, help="CPU burner processes for the rows under load (0: none)"
    )
    parser.add_argument(
        "--real-search", action="store_true", help="hybrid end to end with the real model's query embedding"
    )
    parser.add_argument(
        "--during-ingest",
        action="store_true",
        help="the real-model searches while an ingest runs in the same process (implies --real-search)",
    )
    parser.add_argument("--txtai", action="store_true", help="txtai's hybrid search on SciFact, the peer")
    parser.add_argument("--txtai-documents", type=int, help="index only the first N abstracts (trials)")
    parser.add_argument("--txtai-rebuild", action="store_true", help="drop the kept txtai index first")
    args = parser.parse_args()
    if not 0 <= args.burners <= 8:
        parser.error("--burners must be between 0 and 8")
    if not (args.data / "corpus.jsonl").exists():
        sys.exit(f"no SciFact corpus in {args.data}")

    print(f"# Search latency (SQLite, in process)\n\n`{' '.join(sys.argv)}`\n")
    print(
        f"Python {platform.python_version()}, NumPy {np.__version__}, SQLite "
        f"{__import__('sqlite3').sqlite_version}, {os.cpu_count()} logical cores; "
        f"load average at start: {load_average()}"
    )
    rows: list[str] = []
    for size in args.sizes:
        rows.extend(measure(size, args.data, args))
    if args.real_model:
        rows.extend(measure_query_cache(queries(args.data, args.queries)))
    if args.txtai:
        if args.txtai_rebuild:
            remove_txtai_index(args.work)
        claims = queries(args.data, args.queries)
        rows.extend(measure_txtai(args.data, args.work, claims, args.txtai_documents))
    print("\n| chunks | what | p50 ms | p95 ms | mean ms | n |\n|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nload average at end: {load_average()}")


if __name__ == "__main__":
    main()
