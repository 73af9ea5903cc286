"""What the rerank stage costs a search (issue 15): balanced search with and without rerank, over SciFact
abstracts, the reranker being the Cohere stand-in (real HTTP on loopback) answering at once and with a
delay standing for a hosted reranker's latency, and with a budget shorter than that delay (the fallback
path). The four configurations run interleaved, query by query, so a change of machine load hits all
alike. Embeddings are the fake embedder's: the stage's cost does not depend on them.

No local cross-encoder is measured: none is installed on these machines and downloading one is not
allowed; ``--cross-encoder PATH`` times a sentence-transformers CrossEncoder already on disk instead.

    python bench/rerank.py --documents 1000 --queries 100 --delay-ms 150 --budget-ms 100
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightfast.app.container import Services, build_services
from lightfast.app.search import SearchRequest, SearchResponse
from lightfast.insights.percentiles import nearest_rank_percentiles
from lightfast.rerank.base import Ranked, Reranker
from lightfast.rerank.stage import RerankStage
from lightfast.settings import Settings
from lightfast.testing.cohere import CohereStandIn

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def load(documents: int, queries: int) -> tuple[list[dict[str, Any]], list[str]]:
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open()][:documents]
    asked = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").open()][:queries]
    return corpus, asked


def prepare(home: Path, corpus: list[dict[str, Any]], standin: CohereStandIn) -> Services:
    docs = home / "docs"
    docs.mkdir(parents=True)
    (docs / "lightfast.yml").write_text("version: 1\nstore: scifact\ninclude:\n  - '**/*.md'\n")
    for item in corpus:
        (docs / f"{item['_id']}.md").write_text(f"# {item.get('title') or item['_id']}\n\n{item['text']}\n")
    settings = Settings(
        home=home,
        embedding_provider="fake",
        rerank_provider="cohere",
        cohere_base_url=standin.url,
        cohere_api_key=standin.api_key,
        rerank_budget_ms=10_000,
    )
    services = build_services(settings)
    services.ingest.ingest_path(docs)
    return services


class CrossEncoderReranker(Reranker):
    provider = "local"

    def __init__(self, path: str) -> None:
        from sentence_transformers import CrossEncoder

        self.model = path
        self._encoder = CrossEncoder(path, device="cpu")

    def score(self, query: str, documents: list[str]) -> list[Ranked]:
        scores = self._encoder.predict([(query, text) for text in documents], show_progress_bar=False)
        return [Ranked(i, float(s)) for i, s in enumerate(scores)]


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    p50, p95 = nearest_rank_percentiles(values, (50, 95))
    return f"{p50:.1f} / {p95:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--delay-ms", type=float, default=150.0, help="the slow reranker's answer time")
    parser.add_argument("--budget-ms", type=int, default=100, help="the budget of the fallback run")
    parser.add_argument("--cross-encoder", help="a sentence-transformers CrossEncoder directory on disk")
    args = parser.parse_args()

    print(f"load before: {os.getloadavg()}")
    corpus, queries = load(args.documents, args.queries)
    with tempfile.TemporaryDirectory() as tmp, CohereStandIn() as standin:
        started = time.perf_counter()
        services = prepare(Path(tmp), corpus, standin)
        print(f"indexed {len(corpus)} abstracts in {time.perf_counter() - started:.1f} s")
        stage = services.search.reranker
        assert stage is not None
        stage.candidates = args.candidates
        workspace = services.workspaces.workspace_id()
        local = (
            RerankStage(
                CrossEncoderReranker(args.cross_encoder), budget_ms=60_000, candidates=args.candidates
            )
            if args.cross_encoder
            else None
        )

        def run(query: str, rerank: bool, delay: float = 0.0, budget: int = 10_000) -> SearchResponse:
            standin.delay, stage.budget_ms = delay, budget
            return services.search.search(SearchRequest(workspace, query[:1000], limit=10, rerank=rerank))

        configurations: dict[str, Callable[[str], SearchResponse]] = {
            "balanced, no rerank": lambda q: run(q, False),
            "rerank, stand-in answers at once": lambda q: run(q, True),
            f"rerank, stand-in answers in {args.delay_ms:.0f} ms": lambda q: run(
                q, True, args.delay_ms / 1000
            ),
            f"rerank, {args.delay_ms:.0f} ms answer, {args.budget_ms} ms budget": lambda q: run(
                q, True, args.delay_ms / 1000, args.budget_ms
            ),
        }
        if local is not None:

            def with_local(query: str) -> SearchResponse:
                services.search.reranker = local
                try:
                    return run(query, True)
                finally:
                    services.search.reranker = stage

            configurations[f"rerank, local cross-encoder {args.cross_encoder}"] = with_local
        totals: dict[str, list[float]] = {name: [] for name in configurations}
        stages: dict[str, list[float]] = {name: [] for name in configurations}
        applied: dict[str, int] = dict.fromkeys(configurations, 0)
        for query in queries[:3]:  # warm-up: connections, caches
            for configure in configurations.values():
                configure(query)
        for query in queries:
            for name, configure in configurations.items():
                response = configure(query)
                totals[name].append(response.latency.total)
                if response.rerank is not None:
                    stages[name].append(response.rerank.milliseconds)
                    applied[name] += response.rerank.applied
        request_bytes = [len(json.dumps(c.body)) for c in standin.calls if c.path.endswith("/rerank")]
        services.close()
        if local is not None:
            local.close()
    print(f"load after: {os.getloadavg()}")
    print(f"\n{len(queries)} queries, {args.candidates} candidates, {len(corpus)} abstracts")
    print(
        f"rerank request body: {sum(request_bytes) / max(len(request_bytes), 1) / 1024:.0f} KiB on average\n"
    )
    print("| configuration | search p50 / p95 ms | rerank stage p50 / p95 ms | reranked |")
    print("|---|---|---|---|")
    for name in configurations:
        reranked = f"{applied[name]}/{len(queries)}" if stages[name] else "-"
        print(f"| {name} | {summary(totals[name])} | {summary(stages[name])} | {reranked} |")


if __name__ == "__main__":
    main()
