"""Retrieval quality on a BEIR data set, through the real pipeline and search service.

Each corpus document becomes a Markdown file (``# title`` + text) in a work directory, which is
ingested exactly as a user's repository would be; every judged query of the split is then searched and
scored with nDCG@10 (binary relevance, BEIR's convention) and recall@100 at document level.

    python bench/beir.py --data ../shared/data/scifact --split train --mode fast dense balanced

(``fast`` is BM25 only, ``balanced`` fuses dense and BM25; results before the rename say bm25 and hybrid.)

The index lives in ``--home`` (default: a directory under bench/results/.work), so a second run with the
same chunking reuses it: the pipeline finds every document unchanged and embeds nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from lightfast.app.container import build_services
from lightfast.app.schemas import MODE_ALIASES, search_mode
from lightfast.app.search import FusionConfig, SearchMode, SearchRequest, SearchService
from lightfast.app.sync import chunk_settings
from lightfast.index.base import Hit, SearchFilters, SearchIndex
from lightfast.index.sqlite import SqliteIndex
from lightfast.settings import Settings

HERE = Path(__file__).resolve().parent


def load_corpus(data: Path) -> dict[str, tuple[str, str]]:
    corpus: dict[str, tuple[str, str]] = {}
    with (data / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            corpus[str(row["_id"])] = (row.get("title") or "", row.get("text") or "")
    return corpus


def load_queries(data: Path) -> dict[str, str]:
    with (data / "queries.jsonl").open(encoding="utf-8") as handle:
        return {str(row["_id"]): row["text"] for row in map(json.loads, handle)}


def load_qrels(data: Path, split: str) -> dict[str, set[str]]:
    path = data / "qrels" / f"{split}.tsv"
    if not path.exists():
        sys.exit(f"no judgements for split {split!r}: {path} does not exist")
    qrels: dict[str, set[str]] = defaultdict(set)
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if int(row["score"]) > 0:
                qrels[row["query-id"].strip()].add(row["corpus-id"].strip())
    return qrels


def write_corpus_dir(corpus: dict[str, tuple[str, str]], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "lightfast.yml").write_text("version: 1\nstore: beir\ninclude: ['*.md']\n")
    for doc_id, (title, text) in corpus.items():
        path = directory / f"{doc_id}.md"
        body = f"# {title}\n\n{text}\n" if title else f"{text}\n"
        if not path.exists() or path.read_text(encoding="utf-8") != body:
            path.write_text(body, encoding="utf-8")


def ndcg_at_10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranked[:10]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return dcg / ideal if ideal else 0.0


def recall_at_100(ranked: list[str], relevant: set[str]) -> float:
    return len(set(ranked[:100]) & relevant) / len(relevant) if relevant else 0.0


def evaluate(
    search: SearchService,
    workspace_id: str,
    queries: dict[str, str],
    qrels: dict[str, set[str]],
    mode: str,
    per_query: dict[str, list[float]] | None = None,
) -> dict[str, float]:
    """Mean nDCG@10 and recall@100 over the queries; ``per_query`` receives each query's values."""
    ndcg: list[float] = []
    recall: list[float] = []
    latencies: list[float] = []
    for query_id, relevant in qrels.items():
        response = search.search(
            SearchRequest(
                workspace_id=workspace_id, query=queries[query_id], limit=100, mode=search_mode(mode)
            )
        )
        ranked = [Path(r.path).stem for r in response.results]
        ndcg.append(ndcg_at_10(ranked, relevant))
        recall.append(recall_at_100(ranked, relevant))
        latencies.append(response.latency.total)
    latencies.sort()
    if per_query is not None:
        per_query["ndcg@10"], per_query["recall@100"] = ndcg, recall
    return {
        "ndcg@10": sum(ndcg) / len(ndcg),
        "recall@100": sum(recall) / len(recall),
        "queries": len(ndcg),
        "p50_ms": latencies[len(latencies) // 2],
        "p95_ms": latencies[math.ceil(0.95 * len(latencies)) - 1],
    }


def paired_difference(ours: list[float], theirs: list[float], resamples: int = 10_000) -> str:
    """Mean of the per-query differences and a 95% interval from resampling the queries: a difference
    whose interval holds 0 is within what another sample of queries could reverse."""
    diff = np.array(ours) - np.array(theirs)
    rng = np.random.default_rng(0)
    means = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    changed = int(np.count_nonzero(diff))
    return f"{diff.mean():+.4f} [{low:+.4f}, {high:+.4f}] ({changed} of {len(diff)} queries differ)"


class Fts5Ranking:
    """The SQLite index with FTS5 ranking the lexical side: the ranking the in-memory index replaced."""

    def __init__(self, index: SqliteIndex) -> None:
        self.index = index

    def vector_search(
        self, session: Session, store_ids: list[str], vector: np.ndarray, k: int, filters: SearchFilters
    ) -> list[Hit]:
        return self.index.vector_search(session, store_ids, vector, k, filters)

    def lexical_search(
        self, session: Session, store_ids: list[str], query: str, k: int, filters: SearchFilters
    ) -> list[Hit]:
        return self.index.fts5_search(session, store_ids, query, k, filters)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True, help="BEIR data set directory")
    parser.add_argument("--split", default="train", choices=["train", "dev", "test"])
    parser.add_argument(
        "--mode",
        nargs="+",
        default=["fast", "dense", "balanced"],
        choices=[*SearchMode, *MODE_ALIASES],  # bm25 and hybrid: the former names of fast and balanced
    )
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="tokens per chunk (default: the model's)"
    )
    parser.add_argument("--overlap", type=int, default=None)
    parser.add_argument(
        "--fusion",
        nargs="+",
        default=["rrf"],
        help="hybrid fusions to try: rrf, rrf:K, weighted:DENSE:LEXICAL",
    )
    parser.add_argument("--home", type=Path, default=None, help="index directory (reused across runs)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--embedding-provider", default="local", choices=["local", "fake"])
    parser.add_argument("--output", type=Path, default=None, help="append results as JSON lines here")
    parser.add_argument(
        "--lexical",
        nargs="+",
        default=["index"],
        choices=["index", "fts5"],
        help="SQLite lexical ranking: the in-memory BM25 index (the default) and/or FTS5's, in one run",
    )
    args = parser.parse_args()

    corpus = load_corpus(args.data)
    queries = load_queries(args.data)
    qrels = load_qrels(args.data, args.split)
    tag = (
        f"{args.data.name}-{args.chunk_size or 'default'}-{args.overlap if args.overlap is not None else 'd'}"
    )
    home = args.home or HERE / "results" / ".work" / tag
    corpus_dir = HERE / "results" / ".work" / f"{args.data.name}-corpus"
    write_corpus_dir(corpus, corpus_dir)

    settings = Settings(
        home=home,
        database_url=args.database_url,
        embedding_provider=args.embedding_provider,
        chunk_size=args.chunk_size,
        chunk_overlap=args.overlap,
        default_workspace="beir",
        ingest_batch_documents=256,
    )
    services = build_services(settings)
    started = time.perf_counter()
    result = services.ingest.ingest_path(corpus_dir, "beir")
    ingest_s = time.perf_counter() - started
    summary = result.summary
    chunk_tokens, overlap = chunk_settings(settings, services.embedder.spec)
    print(
        f"ingest: {ingest_s:.1f} s, {summary.chunks_embedded} chunks embedded "
        f"({summary.embedding_seconds:.1f} s embedding), {summary.documents_unchanged} unchanged; "
        f"chunk {chunk_tokens}/{overlap}",
        flush=True,
    )

    workspace_id = services.workspaces.workspace_id("beir")
    rows = []
    per_query: dict[tuple[str, str, str], dict[str, list[float]]] = {}
    for mode, lexical in [(m, lex) for m in args.mode for lex in args.lexical]:
        if lexical == "fts5" and search_mode(mode) is SearchMode.DENSE:
            continue
        index: SearchIndex = services.index
        if lexical == "fts5":
            if not isinstance(index, SqliteIndex):
                continue
            index = Fts5Ranking(index)
        fusions = args.fusion if search_mode(mode) is SearchMode.BALANCED else ["-"]
        for fusion in fusions:
            config = FusionConfig(candidates=300)
            if fusion.startswith("rrf"):
                parts = fusion.split(":")
                config = FusionConfig(
                    method="rrf", rrf_k=float(parts[1]) if len(parts) > 1 else 60.0, candidates=300
                )
            elif fusion.startswith("weighted"):
                _, dense, lexical_weight = fusion.split(":")
                config = FusionConfig(
                    method="weighted",
                    dense_weight=float(dense),
                    lexical_weight=float(lexical_weight),
                    candidates=300,
                )
            search = SearchService(services.sessions, services.embedder, index, config)
            values: dict[str, list[float]] = {}
            scores = evaluate(search, workspace_id, queries, qrels, mode, values)
            per_query[(mode, fusion, lexical)] = values
            row = {
                "data": args.data.name,
                "split": args.split,
                "mode": mode,
                "fusion": fusion,
                "lexical": lexical if search_mode(mode) is not SearchMode.DENSE else "-",
                "chunk": chunk_tokens,
                "overlap": overlap,
                **{k: round(v, 4) for k, v in scores.items()},
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    for (mode, fusion, lexical), values in per_query.items():
        if lexical == "index" and (mode, fusion, "fts5") in per_query:
            print(f"{mode} {fusion}, in-memory index minus FTS5, per query (95% bootstrap interval):")
            for metric, ours in values.items():
                print(f"  {metric}: {paired_difference(ours, per_query[(mode, fusion, 'fts5')][metric])}")
    if args.output:
        with args.output.open("a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row) + "\n")
    services.close()


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
