"""The real model's query path: one thread, the same vectors as the document path, and no wait behind a
document batch running in another thread of the process."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from lightfast.embed.cache import QueryCache
from lightfast.embed.local import MINILM_SPEC, LocalEmbedder

pytestmark = pytest.mark.slow

CORPUS = [
    "How do I reset my password?",
    "Rotate the signing key of the GitHub App before it expires.",
    "The quarterly revenue grew by twelve percent.",
    "lightfast index rebuild --store docs",
    "Ein kurzer deutscher Satz über Datenbanken.",
    "def embed_query(self, text: str) -> np.ndarray: ...",
    " ".join(["a long chunk of words that goes past the model's input window"] * 40),
]


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder(MINILM_SPEC, batch_size=4, threads=2, query_cache=QueryCache(0))


def test_query_vectors_match_document_vectors(embedder: LocalEmbedder) -> None:
    documents = embedder.embed(CORPUS)
    queries = np.stack([embedder.embed_query(text) for text in CORPUS])
    cosines = (documents * queries).sum(axis=1)
    assert cosines.min() >= 0.9999, cosines


def test_each_purpose_runs_on_its_own_thread_budget(embedder: LocalEmbedder) -> None:
    import torch

    embedder.embed_query("warm up")
    assert torch.get_num_threads() == embedder.budget.query_threads == 1
    embedder.embed(["a document"])
    assert torch.get_num_threads() == embedder.budget.document_threads == 2


def test_a_query_does_not_wait_for_a_document_batch(embedder: LocalEmbedder) -> None:
    started, stop = threading.Event(), threading.Event()

    def ingest() -> None:
        while not stop.is_set():
            embedder.embed(CORPUS * 2)
            started.set()

    worker = threading.Thread(target=ingest)
    worker.start()
    try:
        assert started.wait(60)
        vector = embedder.embed_query("rotate the signing key")
        assert vector.shape == (MINILM_SPEC.dimension,)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    finally:
        stop.set()
        worker.join(60)
    assert embedder.priority.active == 0
