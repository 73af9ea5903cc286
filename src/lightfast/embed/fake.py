"""A deterministic embedder for fast tests: a hashed bag of words, so texts that share words are
similar, with no model to load."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

import numpy as np

from lightfast.embed.base import Embedder, ModelSpec

FAKE_SPEC = ModelSpec(
    provider="fake",
    name="fake-hash-384",
    dimension=384,
    max_input_tokens=256,
    default_chunk_tokens=200,
    default_chunk_overlap=32,
)
# The fake serves any of these sizes as "fake-hash-<size>", so tests can switch a store between models.
FAKE_DIMENSIONS = (64, 128, 256, 384, 512, 768, 1024)


def fake_spec(model: str) -> ModelSpec | None:
    """The fake model called ``model`` (fake-hash-384, fake-hash-256, ...), None if there is none."""
    prefix = "fake-hash-"
    size = model[len(prefix) :] if model.startswith(prefix) else ""
    if not size.isdigit() or int(size) not in FAKE_DIMENSIONS:
        return None
    return replace(FAKE_SPEC, name=model, dimension=int(size))


_WORD = re.compile(r"[^\W_]+")


class WordTokenizer:
    """Counts words: the fake embedder's notion of a token."""

    def count(self, text: str) -> int:
        return len(_WORD.findall(text))


class FakeEmbedder(Embedder):
    def __init__(self, spec: ModelSpec = FAKE_SPEC, batch_size: int = 64) -> None:
        super().__init__(spec, batch_size)
        self.calls = 0  # texts_embedded is counted by the base class, for every provider

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.spec.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.spec.dimension
                sign = 1.0 if digest[4] & 1 else -1.0
                out[row, bucket] += sign
            if not out[row].any():
                out[row, 0] = 1.0
        return out
