"""Document throughput and query latency of all-MiniLM-L6-v2 on the CPU: torch against ONNX Runtime, by
thread count, batch size and load; and the retrieval quality of each runtime's vectors (issue 11).

Steps (the machine is shared: each section prints ``uptime`` before and after it):

- ``--export DIR``: export the packaged model (``lightfast.embed.onnx_local.export_model``: the
  TorchScript exporter, opset 17, dynamic batch and sequence axes, mean pooling and L2 normalisation in
  the graph) to ``DIR/model.onnx`` and print the export's time. Without it, the model named by
  ``--onnx`` is used, and exported there first if missing. Either way the run starts by printing the
  largest absolute difference between torch's and ONNX Runtime's vectors of 64 SciFact abstracts.
- ``documents``: docs/s and tokens/s embedding the same ``--docs`` SciFact abstracts through each
  embedder's ``embed`` (what the ingestion pipeline calls): torch (``LocalEmbedder``) and ONNX Runtime
  (``OnnxLocalEmbedder``: inter-op 1, spinning off, ORT_ENABLE_ALL), each with 1 and 2 intra-op
  threads and batches of 32 and 64. **Interleaved**: the abstracts are cut into slices of 64 and every
  configuration embeds a slice before any embeds the next (the order rotating), so a change in the
  machine's load hits all of them alike. Then the ratios ONNX Runtime / torch.
- ``queries``: one SciFact claim at a time on each runtime's query path (1 thread), interleaved claim
  by claim: p50/p95 ms (nearest rank).
- ``in process`` (only with ``--only "in process"``): queries while a thread of the same process
  ingests, by thread layout (the section that chose ``embed/budget.py``): three torch layouts and
  ``OnnxLocalEmbedder`` with the shipped budget.
- ``--quality``: SciFact train nDCG@10 and recall@100 through the real pipeline and search service
  (``bench/beir.py``'s functions), dense and balanced, with torch and with ONNX Runtime, each in its own
  data directory under bench/results/.work (torch's is beir.py's default one, reused when it is there).

Each timing section runs idle and then with ``--burners`` busy processes (a Python loop each, bounded,
stopped at the end of the section). Under six minutes on an idle 2-core machine:

    .venv/bin/python bench/embed_runtime.py --export bench/results/.work/onnx --docs 256 --queries 60
    .venv/bin/python bench/embed_runtime.py --quality --only none   # about 10 minutes: one SciFact ingest
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships in a package: never reach for the Hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from tokenizers import Tokenizer

from lightfast.embed.base import Embedder
from lightfast.embed.cache import QueryCache
from lightfast.embed.local import MINILM_SPEC, LocalEmbedder, model_dir
from lightfast.embed.onnx_local import OnnxLocalEmbedder, export_model

HERE = Path(__file__).resolve().parent
WORK = HERE / "results" / ".work"
DATA = HERE.parent.parent / "shared" / "data" / "scifact"
ROWS: list[str] = []
QUERY_GAP = 0.1  # seconds between queries in the in-process section
SLICE = 64  # documents per interleaving step
RUNTIMES = ("torch", "onnxruntime")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def burn(stop_at: float) -> None:
    while time.time() < stop_at:
        sum(i * i for i in range(10_000))


@contextmanager
def burners(count: int, seconds: float = 900.0) -> Iterator[None]:
    """``count`` busy processes, each bounded to ``seconds`` even if this process dies."""
    procs = [
        multiprocessing.get_context("spawn").Process(target=burn, args=(time.time() + seconds,), daemon=True)
        for _ in range(count)
    ]
    for proc in procs:
        proc.start()
    time.sleep(1.0 if count else 0)
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
            proc.join()


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 by nearest rank (the project's convention: ``idx = ceil(p/100*n) - 1``)."""
    ordered = sorted(samples)
    rank = [max(0, -(-p * len(ordered) // 100) - 1) for p in (50, 95)]
    return ordered[rank[0]], ordered[rank[1]]


def record(section: str, load: str, what: str, value: str) -> None:
    line = f"| {section} | {load} | {what} | {value} |"
    ROWS.append(line)
    print(line, flush=True)


def texts(docs: int, queries: int) -> tuple[list[str], list[str]]:
    with (DATA / "corpus.jsonl").open(encoding="utf-8") as handle:
        corpus = [
            f"{row.get('title', '')} {row.get('text', '')}".strip()
            for row in map(json.loads, handle.readlines()[:docs])
        ]
    with (DATA / "queries.jsonl").open(encoding="utf-8") as handle:
        claims = [json.loads(line)["text"] for line in handle][:queries]
    return corpus, claims


def thread_label(threads: int) -> str:
    return f"{threads} thread{'s' * (threads > 1)}"


def check_export(torch_embedder: LocalEmbedder, onnx_embedder: OnnxLocalEmbedder, corpus: list[str]) -> None:
    sample = corpus[:64]
    difference = float(np.abs(torch_embedder.embed(sample) - onnx_embedder.embed(sample)).max())
    verdict = "ok" if difference < 1e-4 else "TOO LARGE (limit 1e-4)"
    print(f"max |torch - onnxruntime| over {len(sample)} abstracts' vectors: {difference:.2e} ({verdict})")


def documents_section(
    embedders: dict[tuple[str, int], Embedder], batches: list[int], corpus: list[str], tokens: int, load: str
) -> None:
    configs = [(runtime, threads, batch) for (runtime, threads) in embedders for batch in batches]
    for runtime, threads, batch in configs:  # warm-up: first calls allocate and tune
        embedder = embedders[runtime, threads]
        embedder.batch_size = batch
        embedder.embed(corpus[:16])
    seconds = dict.fromkeys(configs, 0.0)
    for step, start in enumerate(range(0, len(corpus), SLICE)):
        piece = corpus[start : start + SLICE]
        turn = step % len(configs)
        for config in configs[turn:] + configs[:turn]:
            embedder = embedders[config[0], config[1]]
            embedder.batch_size = config[2]
            started = time.perf_counter()
            embedder.embed(piece)
            seconds[config] += time.perf_counter() - started
    rates = {config: len(corpus) / spent for config, spent in seconds.items()}
    for (runtime, threads, batch), rate in rates.items():
        figure = f"{rate:.1f} docs/s, {rate * tokens / len(corpus):,.0f} tokens/s"
        record("documents", load, f"{runtime} {thread_label(threads)}, batch {batch}", figure)
    for threads in sorted({t for _, t in embedders}):
        for batch in batches:
            ratio = rates["onnxruntime", threads, batch] / rates["torch", threads, batch]
            record("documents", load, f"onnxruntime / torch, {thread_label(threads)}, batch {batch}",
                   f"**{ratio:.2f}x**")  # fmt: skip
    best = {runtime: max(r for c, r in rates.items() if c[0] == runtime) for runtime in RUNTIMES}
    today = rates["torch", max(t for _, t in embedders), 64] if 64 in batches else best["torch"]
    versus_best = best["onnxruntime"] / best["torch"]
    record(
        "documents",
        load,
        "best onnxruntime / torch as shipped (all cores, batch 64)",
        f"**{best['onnxruntime'] / today:.2f}x**; / best torch {versus_best:.2f}x",
    )


def queries_section(embedders: dict[str, Embedder], claims: list[str], load: str) -> None:
    for embedder in embedders.values():
        embedder.embed_query_uncached(claims[0])
    samples: dict[str, list[float]] = {label: [] for label in embedders}
    for number, claim in enumerate(claims):
        labels = list(embedders)
        for label in labels[number % 2 :] + labels[: number % 2]:
            started = time.perf_counter()
            embedders[label].embed_query_uncached(claim)
            samples[label].append((time.perf_counter() - started) * 1000)
    for label, values in samples.items():
        p50, p95 = percentiles(values)
        record("queries", load, f"{label}, query path (1 thread)",
               f"p50 {p50:.1f} ms, p95 {p95:.1f} ms (n={len(values)})")  # fmt: skip


def torch_encoder(embedder: LocalEmbedder, threads: int) -> Callable[[list[str]], np.ndarray]:
    """A plain encode on ``threads`` threads, sharing ``embedder``'s model (the layout before the budget)."""
    model = embedder._load()

    def encode(batch: list[str]) -> np.ndarray:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            return np.asarray(model.encode(batch, batch_size=64, show_progress_bar=False))

    return encode


def while_ingesting(
    embedder: LocalEmbedder,
    onnx: Embedder,
    corpus: list[str],
    claims: list[str],
    load: str,
    rounds: int = 2,
) -> None:
    """A worker thread embeds batches of 4 documents without pause (the job worker) while the main
    thread embeds one query every ``QUERY_GAP`` seconds (requests arriving). The layouts take turns,
    ``rounds`` times, so a change in the machine's load hits both. ``onnx``: ``OnnxLocalEmbedder`` with
    the same budget as ``embedder``."""
    shared = torch_encoder(embedder, 2)
    lower = LocalEmbedder(MINILM_SPEC, batch_size=16, threads=1, query_cache=QueryCache(0))
    lower._model = embedder._load()  # one model, two budgets
    layouts: dict[str, tuple[Callable[[str], object], Callable[[list[str]], object]]] = {
        "shared (2 threads for both, as before)": (lambda q: shared([q]), shared),
        "budget (LocalEmbedder: query 1 thread, documents 2, yield)": (
            embedder.embed_query_uncached,
            embedder.embed,
        ),
        "budget, documents on cores - 1 = 1 thread": (lower.embed_query_uncached, lower.embed),
        "onnxruntime budget (OnnxLocalEmbedder: query 1 thread, documents 2, yield)": (
            onnx.embed_query_uncached,
            onnx.embed,
        ),
    }
    samples: dict[str, list[float]] = {label: [] for label in layouts}
    rates: dict[str, list[float]] = {label: [] for label in layouts}
    for _ in range(rounds):
        for label, (query, documents) in layouts.items():
            stop = threading.Event()
            done = [0]

            def ingest(
                documents: Callable[[list[str]], object] = documents,
                stop: threading.Event = stop,
                done: list[int] = done,
            ) -> None:
                position = 0
                while not stop.is_set():
                    documents(corpus[position : position + 4])
                    position = (position + 4) % (len(corpus) - 4)
                    done[0] += 4

            worker = threading.Thread(target=ingest)
            worker.start()
            time.sleep(1.0)
            before, window_started = done[0], time.perf_counter()
            for claim in claims:
                started = time.perf_counter()
                query(claim)
                samples[label].append((time.perf_counter() - started) * 1000)
                time.sleep(max(0.0, QUERY_GAP - (time.perf_counter() - started)))
            rates[label].append((done[0] - before) / (time.perf_counter() - window_started))
            stop.set()
            worker.join()
    for label in layouts:
        p50, p95 = percentiles(samples[label])
        rate = statistics.fmean(rates[label])
        record(
            "in process, while ingesting",
            load,
            label,
            f"query p50 {p50:.1f} ms, p95 {p95:.1f} ms (n={len(samples[label])}); "
            f"documents {rate:.1f} docs/s meanwhile",
        )


def quality(runtime: str, data: Path, split: str) -> dict[str, dict[str, float]]:
    """nDCG@10 and recall@100 of ``runtime``'s vectors on ``data``, as ``bench/beir.py`` measures them
    (its default chunking, RRF fusion over 300 candidates)."""
    import beir
    from lightfast.app.container import build_services
    from lightfast.app.search import FusionConfig, SearchService
    from lightfast.settings import Settings

    corpus_dir = WORK / f"{data.name}-corpus"
    beir.write_corpus_dir(beir.load_corpus(data), corpus_dir)
    home = WORK / (f"{data.name}-default-d" + ("" if runtime == "torch" else "-onnx"))
    settings = Settings(
        home=home,
        embedding_provider="local",
        embedding_runtime="torch" if runtime == "torch" else "onnx",
        default_workspace="beir",
        ingest_batch_documents=256,
    )
    services = build_services(settings)
    try:
        started = time.perf_counter()
        summary = services.ingest.ingest_path(corpus_dir, "beir").summary
        print(f"{runtime}: ingest {time.perf_counter() - started:.0f} s, {summary.chunks_embedded} chunks "
              f"embedded in {summary.embedding_seconds:.0f} s, {summary.documents_unchanged} documents "
              f"unchanged ({home})", flush=True)  # fmt: skip
        workspace_id = services.workspaces.workspace_id("beir")
        queries, qrels = beir.load_queries(data), beir.load_qrels(data, split)
        search = SearchService(
            services.sessions, services.embedder, services.index, FusionConfig(rrf_k=60.0, candidates=300)
        )
        return {
            mode: beir.evaluate(search, workspace_id, queries, qrels, mode) for mode in ("dense", "balanced")
        }
    finally:
        services.close()


def quality_section(data: Path, split: str) -> None:
    before = uptime()
    # ONNX Runtime first: torch's directory is beir.py's default one, often being filled by a beir.py
    # run of its own; by the time ONNX Runtime's ingest ends, torch's finds every document unchanged.
    scores = {runtime: quality(runtime, data, split) for runtime in reversed(RUNTIMES)}
    for mode in ("dense", "balanced"):
        for runtime in RUNTIMES:
            got = scores[runtime][mode]
            record("quality", f"{data.name} {split}", f"{runtime}, {mode}",
                   f"nDCG@10 {got['ndcg@10']:.4f}, recall@100 {got['recall@100']:.4f}")  # fmt: skip
        delta = scores["onnxruntime"][mode]["ndcg@10"] - scores["torch"][mode]["ndcg@10"]
        verdict = "within" if abs(delta) <= 0.005 else "OUTSIDE"
        record("quality", f"{data.name} {split}", f"onnxruntime - torch, {mode}",
               f"nDCG@10 {delta:+.4f} ({verdict} 0.005)")  # fmt: skip
    print(f"<!-- quality: before `{before}`; after `{uptime()}` -->", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=256)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--burners", type=int, default=1, help="busy processes of the loaded runs")
    parser.add_argument(
        "--only", choices=["documents", "queries", "in process", "none"], help="one timing section"
    )
    parser.add_argument("--export", type=Path, metavar="DIR", help="export the model to DIR/model.onnx")
    parser.add_argument("--onnx", type=Path, default=WORK / "onnx" / "model.onnx", help="the model to run")
    parser.add_argument("--quality", action="store_true", help="SciFact nDCG@10 with each runtime")
    parser.add_argument("--data", type=Path, default=DATA, help="the BEIR data set of --quality")
    parser.add_argument("--split", default="train")
    args = parser.parse_args()

    print(f"`{' '.join(sys.argv)}`\n\ntorch {torch.__version__}, {os.cpu_count()} logical cores")
    import onnxruntime

    print(f"onnxruntime {onnxruntime.__version__}; `{uptime()}`\n", flush=True)
    model = args.onnx
    if args.export or not model.is_file():
        model = args.export / "model.onnx" if args.export else model
        started = time.perf_counter()
        export_model(model)
        print(f"exported {model} in {time.perf_counter() - started:.1f} s", flush=True)
    corpus, claims = texts(args.docs, args.queries)
    sessions: dict[tuple[str, int], Embedder] = {}
    for threads in (1, 2):
        torch_embedder = LocalEmbedder(MINILM_SPEC, threads=threads, query_cache=QueryCache(0))
        onnx_embedder = OnnxLocalEmbedder(
            MINILM_SPEC, threads=threads, model_path=model, query_cache=QueryCache(0)
        )
        if threads > 1:
            torch_embedder._model = sessions["torch", 1]._load()  # type: ignore[attr-defined]  # one model
        sessions["torch", threads], sessions["onnxruntime", threads] = torch_embedder, onnx_embedder
    check_export(sessions["torch", 1], sessions["onnxruntime", 1], corpus)  # type: ignore[arg-type]
    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.no_truncation()  # tokenizer.json truncates at 128; the model reads 256 (MINILM_SPEC)
    tokens = sum(min(len(e.ids), MINILM_SPEC.max_input_tokens) for e in tokenizer.encode_batch(corpus))
    print(f"{len(corpus)} abstracts, {tokens:,} word pieces after truncation; {len(claims)} claims\n")
    print("| section | load | what | figure |\n|---|---|---|---|")
    queries = {runtime: sessions[runtime, 1] for runtime in RUNTIMES}
    for count in sorted({0, args.burners}) if args.only != "none" else ():
        load = f"{count} burner{'s' * (count != 1)}"
        with burners(count):
            sections: list[tuple[str, Callable[[], None]]] = [
                (
                    "documents",
                    lambda load=load: documents_section(sessions, args.batches, corpus, tokens, load),
                ),
                ("queries", lambda load=load: queries_section(queries, claims, load)),
            ]
            if args.only == "in process":
                sections.append(
                    (
                        "in process",
                        lambda load=load, torch2=sessions["torch", 2]: while_ingesting(
                            torch2,  # type: ignore[arg-type]
                            sessions["onnxruntime", 2],
                            corpus,
                            claims,
                            load,
                        ),
                    )
                )
            for name, run in sections:
                if args.only and name != args.only:
                    continue
                before = uptime()
                run()
                print(f"<!-- {name}, {load}: before `{before}`; after `{uptime()}` -->", flush=True)
    if args.quality:
        quality_section(args.data, args.split)
    print("\n" + "\n".join(ROWS))


if __name__ == "__main__":
    main()
