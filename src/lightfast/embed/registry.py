"""Embedding providers registered by name; ``Settings.embedding_provider`` picks one."""

from __future__ import annotations

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
