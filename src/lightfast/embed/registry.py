"""Embedding providers registered by name; ``Settings.embedding_provider`` picks the process default and
a store may name its own (``EmbeddingChoice``), served from one ``EmbedderPool``.

Providers: ``local`` (all-MiniLM-L6-v2 on the CPU), ``fake`` (tests), ``cohere`` (``/v2/embed`` or
``/v1/embed``) and ``openai`` (``/v1/embeddings`` at ``LIGHTFAST_OPENAI_BASE_URL``: OpenAI itself or any
OpenAI-compatible server). A hosted provider's calls go through one ``ProviderClient`` per provider in a
pool (one circuit breaker per provider, however many of its models the stores use)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from lightfast.embed.base import Embedder, ModelSpec, Tokenizer
from lightfast.embed.http import CircuitBreaker, HttpTimings, ProviderClient, ProviderUsage
from lightfast.embed.resilience import BreakerConfig, RetryPolicy
from lightfast.errors import SettingsError
from lightfast.settings import Settings

PROVIDERS = ("local", "fake", "cohere", "openai")


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
        return cls(spec.provider, spec.name, spec.dimension or None)


def default_model(provider: str) -> str:
    if provider == "fake":
        from lightfast.embed.fake import FAKE_SPEC

        return FAKE_SPEC.name
    if provider == "cohere":
        from lightfast.embed.cohere import DEFAULT_MODEL

        return DEFAULT_MODEL
    if provider == "openai":
        from lightfast.embed.openai import DEFAULT_MODEL as OPENAI_DEFAULT

        return OPENAI_DEFAULT
    from lightfast.embed.local import MINILM_SPEC

    return MINILM_SPEC.name


def default_choice(settings: Settings) -> EmbeddingChoice:
    provider = settings.embedding_provider
    return EmbeddingChoice(
        provider, settings.embedding_model or default_model(provider), settings.embedding_dimensions
    )


def spec_for(choice: EmbeddingChoice, settings: Settings) -> ModelSpec:
    """The model a choice names, without calling anyone (a self-hosted model's dimension may be 0 here:
    its embedder learns it). SettingsError naming the problem when no provider can serve it."""
    if choice.provider == "cohere":
        from lightfast.embed.cohere import cohere_spec

        return cohere_spec(choice.model, choice.dimensions)
    if choice.provider == "openai":
        from lightfast.embed.openai import openai_spec

        return openai_spec(choice.model, choice.dimensions, settings.embedding_max_input_tokens)
    if choice.provider == "fake":
        from lightfast.embed.fake import FAKE_SPEC, fake_spec

        # Part B (issue 15): the fake serves several sizes so tests can switch a store's model.
        spec = fake_spec(choice.model) or FAKE_SPEC
    elif choice.provider == "local":
        from lightfast.embed.local import MINILM_SPEC

        spec = MINILM_SPEC
    else:
        raise SettingsError(
            f"unknown embedding provider {choice.provider!r}; available: {', '.join(PROVIDERS)}"
        )
    if choice.model != spec.name:
        raise SettingsError(
            f"unknown {choice.provider} embedding model {choice.model!r}; available: {spec.name}"
        )
    if choice.dimensions not in (None, spec.dimension):
        raise SettingsError(f"{spec.name} embeds at {spec.dimension} dimensions, not {choice.dimensions}")
    return spec


def model_spec(settings: Settings) -> ModelSpec:
    return spec_for(default_choice(settings), settings)


def provider_client(
    provider: str,
    settings: Settings,
    usage: ProviderUsage | None = None,
    *,
    base_url: str | None = None,
) -> ProviderClient:
    """The HTTP client of a provider, configured by the settings' timeouts, retries and breaker."""
    if provider == "cohere":
        url, key = settings.cohere_base_url, settings.cohere_api_key
    elif provider == "openai":
        url, key = settings.openai_base_url, settings.openai_api_key
    else:
        raise SettingsError(f"{provider} is not a hosted embedding provider")
    return ProviderClient(
        provider,
        base_url or url,
        api_key=key,
        timings=HttpTimings(settings.provider_timeout, min(10.0, settings.provider_timeout)),
        policy=RetryPolicy(
            attempts=settings.provider_max_attempts, max_wait=settings.provider_max_retry_wait
        ),
        breaker=CircuitBreaker(
            BreakerConfig(settings.provider_breaker_failures, settings.provider_breaker_cooldown)
        ),
        usage=usage,
    )


def build_embedder(
    choice: EmbeddingChoice,
    settings: Settings,
    client: Callable[[str], ProviderClient] | None = None,
) -> Embedder:
    """An embedder for ``choice``; ``client`` gives a hosted provider's HTTP client (a pool shares one
    per provider), else a new one is made."""
    spec = spec_for(choice, settings)
    if spec.provider == "fake":
        from lightfast.embed.fake import FakeEmbedder

        return FakeEmbedder(spec, settings.embedding_batch_size)
    if spec.provider == "local" and settings.embedding_runtime == "onnx":
        from lightfast.embed.onnx_local import OnnxLocalEmbedder

        # The same model and vectors as torch's: stores embedded by either runtime stay compatible.
        return OnnxLocalEmbedder(
            spec,
            settings.embedding_batch_size,
            settings.embedding_threads,
            models_dir=settings.home_dir / "models",
        )
    if spec.provider == "local":
        from lightfast.embed.local import LocalEmbedder

        return LocalEmbedder(spec, settings.embedding_batch_size, settings.embedding_threads)
    http = client(spec.provider) if client is not None else provider_client(spec.provider, settings)
    if spec.provider == "cohere":
        from lightfast.embed.cohere import CohereEmbedder

        return CohereEmbedder(spec, http, settings.cohere_api_version)
    from lightfast.embed.openai import OpenAIEmbedder

    return OpenAIEmbedder(spec, http)


def make_embedder(settings: Settings, usage: ProviderUsage | None = None) -> Embedder:
    """The process default embedder (``LIGHTFAST_EMBEDDING_*``)."""
    return build_embedder(
        default_choice(settings), settings, lambda provider: provider_client(provider, settings, usage)
    )


def tokenizer_for(provider: str) -> Tokenizer:
    """The token counter chunking uses: the model's own where it is on this machine, else an estimate
    that errs on the long side (``EstimatingTokenizer``)."""
    if provider == "fake":
        from lightfast.embed.fake import WordTokenizer

        return WordTokenizer()
    if provider == "local":
        from lightfast.embed.local import WordPieceTokenizer

        return WordPieceTokenizer()
    from lightfast.embed.hosted import EstimatingTokenizer

    return EstimatingTokenizer()


def make_tokenizer(settings: Settings) -> Tokenizer:
    return tokenizer_for(settings.embedding_provider)


class EmbedderPool:
    """One embedder per choice, made on first use and kept (a model loads once per process). The
    process default may be given ready-made (tests inject a fake). Hosted providers share one HTTP client
    (and so one circuit breaker) per provider, and every call is counted in ``usage``."""

    def __init__(
        self, settings: Settings, default: Embedder | None = None, usage: ProviderUsage | None = None
    ) -> None:
        self.settings = settings
        self.usage = usage if usage is not None else ProviderUsage()
        self._lock = threading.Lock()
        self._made: dict[EmbeddingChoice, Embedder] = {}
        self._clients: dict[str, ProviderClient] = {}
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

    def tokenizer(self, choice: EmbeddingChoice) -> Tokenizer:
        return tokenizer_for(choice.provider)

    def _client(self, provider: str) -> ProviderClient:
        if provider not in self._clients:
            self._clients[provider] = provider_client(provider, self.settings, self.usage)
        return self._clients[provider]

    def _make(self, choice: EmbeddingChoice) -> Embedder:
        """The providers this process can build. Raises SettingsError naming the choice otherwise."""
        try:
            return build_embedder(choice, self.settings, self._client)
        except SettingsError as exc:
            raise SettingsError(
                f"no embedding provider can serve {choice.provider}/{choice.model}"
                + (f" at {choice.dimensions} dimensions" if choice.dimensions else "")
                + f": {exc.message}"
            ) from None

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
