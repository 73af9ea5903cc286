"""The embedding port: one abstract method; the base class batches and validates."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from lightfast.embed.cache import QueryCache
from lightfast.errors import EmbeddingError


@dataclass(frozen=True)
class ModelSpec:
    """What Lightfast needs to know about an embedding model."""

    provider: str
    name: str
    dimension: int
    max_input_tokens: int  # the model's input window, special tokens included
    # dimension 0: an OpenAI-compatible server's model whose size its embedder discovers by a probe call
    default_chunk_tokens: int  # measured on SciFact train, see docs/chunking.md
    default_chunk_overlap: int


class Tokenizer(Protocol):
    def count(self, text: str) -> int: ...


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors of ``spec.dimension``."""

    # What /metrics reports as embedding throughput (texts and seconds, summed by this process). Class
    # defaults, so a subclass that skips ``__init__`` still counts; a lost increment under concurrent
    # embeds would only blur a rate, so no lock.
    texts_embedded: int = 0
    seconds_embedding: float = 0.0
    # Query vectors by (provider, model, text); None (a subclass that skips ``__init__``) embeds each time.
    query_cache: QueryCache | None = None

    def __init__(self, spec: ModelSpec, batch_size: int = 64, query_cache: QueryCache | None = None) -> None:
        self.spec = spec
        self.batch_size = batch_size
        self.query_cache = query_cache if query_cache is not None else QueryCache()

    @abstractmethod
    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """Embed at most ``batch_size`` documents; return an array of shape (len(texts), dimension)."""

    def embed_query_batch(self, texts: list[str]) -> np.ndarray:
        """Embed queries. A provider that embeds them differently from documents (Cohere's ``search_query``
        input type) overrides this; the query path (``embed_query``) is the only caller, so a query can
        never be embedded as a document nor a document as a query."""
        return self.embed_batch(texts)

    def requests_for(self, token_counts: Sequence[int]) -> int:
        """How many calls to its provider embedding chunks of these token counts takes, batched as
        ``embed`` batches them (what an estimate before a re-embed shows). 0 for a model that runs in
        this process; a hosted provider counts by its own limits. A sync embeds each batch of documents
        on its own, so a real run may take a few more (one partial batch per document batch)."""
        return 0

    def close(self) -> None:
        """Release what the embedder holds (a hosted provider's connections); a no-op by default."""
        return None

    def embed_query(self, text: str) -> np.ndarray:
        """One query's vector (read-only), from the cache when this model embedded the same text before."""
        # The dimension is part of the model's identity: embed-v4.0 at 512 and at 1024 are two vector
        # spaces, and a cache shared by a pool's embedders must not answer one with the other's vector.
        key = (self.spec.provider, f"{self.spec.name}/{self.spec.dimension}", text)
        cache = self.query_cache
        if cache is not None and (hit := cache.get(key)) is not None:
            return hit
        vector = self.embed_query_uncached(text)
        if cache is None:
            return vector
        return cache.put(key, vector)

    def embed_query_uncached(self, text: str) -> np.ndarray:
        """A query's own path: a provider may embed queries differently from documents (fewer threads)."""
        vector: np.ndarray = self.embed([text], queries=True)[0]
        return vector

    def embed(self, texts: Sequence[str], *, queries: bool = False) -> np.ndarray:
        """Documents' vectors (``queries=True``: queries', for the query path only), validated and
        L2-normalised, in batches of ``batch_size``."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not one string")
        started = time.perf_counter()
        out = np.empty((len(texts), self.spec.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            embedded = self.embed_query_batch(batch) if queries else self.embed_batch(batch)
            vectors = np.asarray(embedded, dtype=np.float32)
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
        self.texts_embedded += len(texts)
        self.seconds_embedding += time.perf_counter() - started
        return out
