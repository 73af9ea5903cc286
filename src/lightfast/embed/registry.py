"""Embedding providers registered by name; ``Settings.embedding_provider`` picks the process default and
a store may name its own (``EmbeddingChoice``), served from one ``EmbedderPool``."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lightfast.embed.base import Embedder, ModelSpec, Tokenizer
from lightfast.errors import SettingsError
from lightfast.settings import Settings


def model_spec(settings: Settings) -> ModelSpec:
    if settings.embedding_provider == "fake":
        from lightfast.embed.fake import FAKE_SPEC

        return FAKE_SPEC
    from lightfast.embed.local import MINILM_SPEC

    if settings.embedding_model != MINILM_SPEC.name:
        raise SettingsError(
            f"unknown local embedding model {settings.embedding_model!r}; available: {MINILM_SPEC.name}"
        )
    return MINILM_SPEC


def make_embedder(settings: Settings) -> Embedder:
    spec = model_spec(settings)
    if spec.provider == "fake":
        from lightfast.embed.fake import FakeEmbedder

        return FakeEmbedder(spec, settings.embedding_batch_size)
    from lightfast.embed.local import LocalEmbedder

    return LocalEmbedder(spec, settings.embedding_batch_size, settings.embedding_threads)


def make_tokenizer(settings: Settings) -> Tokenizer:
    if settings.embedding_provider == "fake":
        from lightfast.embed.fake import WordTokenizer

        return WordTokenizer()
    from lightfast.embed.local import WordPieceTokenizer

    return WordPieceTokenizer()


@dataclass(frozen=True)
class EmbeddingChoice:
    """Which model embeds a store: what a store records and ``lightfast.yml`` may name. ``dimensions``
    None means the model's own (or the one a probe discovers for an OpenAI-compatible server)."""

    provider: str
    model: str
    dimensions: int | None = None

    @classmethod
    def default(cls, settings: Settings) -> EmbeddingChoice:
        spec = model_spec(settings)
        return cls(spec.provider, spec.name, spec.dimension)


class EmbedderPool:
    """One embedder per choice, made on first use and kept (a model loads once per process). The
    process default may be given ready-made (tests inject a fake)."""

    def __init__(self, settings: Settings, default: Embedder | None = None) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._made: dict[EmbeddingChoice, Embedder] = {}
        if default is not None:
            self._made[self._key(default.spec)] = default

    @staticmethod
    def _key(spec: ModelSpec) -> EmbeddingChoice:
        return EmbeddingChoice(spec.provider, spec.name, spec.dimension)

    def default(self) -> Embedder:
        return self.get(EmbeddingChoice.default(self.settings))

    def get(self, choice: EmbeddingChoice) -> Embedder:
        with self._lock:
            for key, embedder in self._made.items():
                if (key.provider, key.model) == (choice.provider, choice.model) and choice.dimensions in (
                    None,
                    key.dimensions,
                ):
                    return embedder
            embedder = self._make(choice)
            self._made[self._key(embedder.spec)] = embedder
            return embedder

    def _make(self, choice: EmbeddingChoice) -> Embedder:
        """The providers this process can build. Raises SettingsError naming the choice otherwise."""
        if choice.provider in ("local", "fake") and choice.model == model_spec(self.settings).name:
            return make_embedder(self.settings)
        raise SettingsError(
            f"no embedding provider can serve {choice.provider}/{choice.model}"
            + (f" at {choice.dimensions} dimensions" if choice.dimensions else "")
        )
