"""The embedding port: one abstract method; the base class batches and validates."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from lightfast.errors import EmbeddingError


@dataclass(frozen=True)
class ModelSpec:
    """What Lightfast needs to know about an embedding model."""

    provider: str
    name: str
    dimension: int
    max_input_tokens: int  # the model's input window, special tokens included
    default_chunk_tokens: int  # measured on SciFact train, see docs/chunking.md
    default_chunk_overlap: int


class Tokenizer(Protocol):
    def count(self, text: str) -> int: ...


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors of ``spec.dimension``."""

    def __init__(self, spec: ModelSpec, batch_size: int = 64) -> None:
        self.spec = spec
        self.batch_size = batch_size

    @abstractmethod
    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """Embed at most ``batch_size`` texts; return an array of shape (len(texts), dimension)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        out = np.empty((len(texts), self.spec.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            vectors = np.asarray(self.embed_batch(batch), dtype=np.float32)
            if vectors.shape != (len(batch), self.spec.dimension):
                raise EmbeddingError(
                    f"{self.spec.name} returned shape {vectors.shape}, "
                    f"expected ({len(batch)}, {self.spec.dimension})"
                )
            if not np.isfinite(vectors).all():
                raise EmbeddingError(f"{self.spec.name} returned a vector with NaN or infinity")
            out[start : start + len(batch)] = vectors
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out
