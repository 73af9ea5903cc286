"""Query latency and document throughput of all-MiniLM-L6-v2 on the CPU, by thread budget and load.

Sections, each with the machine's ``uptime`` before and after (the machine is shared: a figure taken
under load says so):

1. ``documents``: docs/s and tokens/s embedding the first ``--docs`` SciFact abstracts, torch with 1 and
   2 intra-op threads (batch 64, as the pipeline embeds).
2. ``queries``: one SciFact claim at a time, p50/p95 ms, torch with 1 and 2 threads.
3. ``in process, while ingesting``: a thread embeds documents continuously (the job worker) while the
   main thread embeds queries (HTTP requests), in two layouts:
   ``shared``: both on the process-wide count (2), what ``lightfast serve`` did before issue 11;
   ``budget``: ``LocalEmbedder`` as shipped (a query on one thread, documents on theirs, batches yield
   to queries in flight).
4. ``onnxruntime``: the same query and document figures from an ONNX Runtime session (1 and 2
   intra-op threads, inter-op 1, spinning off, graph optimisations on) when ``--onnx MODEL`` names an
   exported model (exporting needs the ``onnx`` package, which Lightfast does not depend on).

Each section runs without and then with ``--burners`` busy processes (a bounded CPU burner: a Python
loop per process, stopped at the end of the section).

    .venv/bin/python bench/embed_runtime.py --docs 256 --queries 60 --burners 1
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
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships in a package: never reach for the Hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch

from lightfast.embed.cache import QueryCache
from lightfast.embed.local import MINILM_SPEC, LocalEmbedder

DATA = Path("/work/shared/data/scifact")
ROWS: list[str] = []
QUERY_GAP = 0.1  # seconds between queries in the in-process section


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
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


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


def torch_encoder(embedder: LocalEmbedder, threads: int) -> Callable[[list[str]], np.ndarray]:
    model = embedder._load()

    def encode(batch: list[str]) -> np.ndarray:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            return np.asarray(model.encode(batch, batch_size=64, show_progress_bar=False))

    return encode


def onnx_encoder(path: Path, threads: int) -> Callable[[list[str]], np.ndarray]:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from lightfast.embed.local import model_dir

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(MINILM_SPEC.max_input_tokens)
    tokenizer.enable_padding()
    names = {i.name for i in session.get_inputs()}

    def encode(batch: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(batch), 64):
            encoded = tokenizer.encode_batch(batch[start : start + 64])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = session.run(None, {k: v for k, v in feeds.items() if k in names})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        return np.vstack(out)

    return encode


def documents_section(name: str, encoders: dict[str, Callable[[list[str]], np.ndarray]], corpus: list[str],
                      tokens: int, load: str) -> None:  # fmt: skip
    for label, encode in encoders.items():
        encode(corpus[:8])  # warm-up
        started = time.perf_counter()
        encode(corpus)
        seconds = time.perf_counter() - started
        rate = f"{len(corpus) / seconds:.1f} docs/s, {tokens / seconds:,.0f} tokens/s"
        record(name, load, f"documents, {label}", rate)


def queries_section(name: str, encoders: dict[str, Callable[[list[str]], np.ndarray]], claims: list[str],
                    load: str) -> None:  # fmt: skip
    for label, encode in encoders.items():
        encode(claims[:3])
        samples = []
        for claim in claims:
            started = time.perf_counter()
            encode([claim])
            samples.append((time.perf_counter() - started) * 1000)
        p50, p95 = percentiles(samples)
        record(name, load, f"query, {label}", f"p50 {p50:.1f} ms, p95 {p95:.1f} ms (n={len(samples)})")


def while_ingesting(
    embedder: LocalEmbedder, corpus: list[str], claims: list[str], load: str, rounds: int = 2
) -> None:
    """A worker thread embeds batches of 4 documents without pause (the job worker) while the main
    thread embeds one query every ``QUERY_GAP`` seconds (requests arriving). The layouts take turns,
    ``rounds`` times, so a change in the machine's load hits both."""
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=256)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--burners", type=int, default=1, help="busy processes of the loaded runs")
    parser.add_argument("--only", choices=["documents", "queries", "in process"], help="one section")
    parser.add_argument("--onnx", type=Path, help="an exported model.onnx (last_hidden_state output)")
    args = parser.parse_args()

    print(f"`{' '.join(sys.argv)}`\n\ntorch {torch.__version__}, {os.cpu_count()} logical cores\n")
    embedder = LocalEmbedder(MINILM_SPEC, batch_size=16, threads=2, query_cache=QueryCache(0))
    corpus, claims = texts(args.docs, args.queries)
    tokenizer: Any = embedder._load().tokenizer
    tokens = sum(min(len(ids), MINILM_SPEC.max_input_tokens) for ids in tokenizer(corpus)["input_ids"])
    encoders = {f"torch {n} thread{'s' * (n > 1)}": torch_encoder(embedder, n) for n in (1, 2)}
    if args.onnx:
        encoders |= {f"onnxruntime {n} thread{'s' * (n > 1)}": onnx_encoder(args.onnx, n) for n in (1, 2)}
    print("| section | load | what | figure |\n|---|---|---|---|")
    for count in (0, args.burners):
        load = f"{count} burner{'s' * (count != 1)}"
        with burners(count):
            sections: list[tuple[str, Callable[[], None]]] = [
                (
                    "documents",
                    lambda load=load: documents_section("documents", encoders, corpus, tokens, load),
                ),
                ("queries", lambda load=load: queries_section("queries", encoders, claims, load)),
                ("in process", lambda load=load: while_ingesting(embedder, corpus, claims, load)),
            ]
            for name, run in sections:
                if args.only and name != args.only:
                    continue
                before = uptime()
                run()
                print(f"<!-- {name}, {load}: before `{before}`; after `{uptime()}` -->", flush=True)
    print("\n" + "\n".join(ROWS))


if __name__ == "__main__":
    main()
