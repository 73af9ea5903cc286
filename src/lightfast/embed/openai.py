"""OpenAI's ``POST /v1/embeddings``, and every server that speaks it (Ollama, vLLM, Hugging Face
text-embeddings-inference, LM Studio) at another base URL.

Request: ``{"model", "input": [...], "encoding_format": "float"}``, plus ``dimensions`` for the
``text-embedding-3`` models when a smaller size is asked for. Limits: at most 2,048 inputs and 300,000
tokens a request, 8,192 tokens an input. Answer: ``{"object": "list", "data": [{"object": "embedding",
"index", "embedding": [...]}], "model", "usage": {"prompt_tokens", "total_tokens"}}``; rows are placed by
their ``index``, not by their order.

A model OpenAI does not publish is a self-hosted one: its dimension comes from
``LIGHTFAST_EMBEDDING_DIMENSIONS`` or from one probe call (embed the word "probe", read the vector's
length), and its input window from ``LIGHTFAST_EMBEDDING_MAX_INPUT_TOKENS`` (default 512, the window of
most open embedding models)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lightfast.embed.base import Embedder, ModelSpec
from lightfast.embed.hosted import HOSTED_CHUNK_OVERLAP, HOSTED_CHUNK_TOKENS, EstimatingTokenizer
from lightfast.embed.http import ProviderClient, float_rows, need
from lightfast.errors import LightfastError, SettingsError, UpstreamError

MAX_INPUTS_PER_CALL = 2048
MAX_TOKENS_PER_CALL = 300_000
OPENAI_WINDOW = 8192
DEFAULT_SELF_HOSTED_WINDOW = 512
# Inputs a call of the pipeline's own batches: a cancel is checked between batches, so this bounds its
# delay; the request is split further by the token cap.
BATCH_INPUTS = 512


def _spec(name: str, dimension: int) -> ModelSpec:
    return ModelSpec("openai", name, dimension, OPENAI_WINDOW, HOSTED_CHUNK_TOKENS, HOSTED_CHUNK_OVERLAP)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _spec("text-embedding-3-small", 1536),
        _spec("text-embedding-3-large", 3072),
        _spec("text-embedding-ada-002", 1536),
    )
}
SHORTENABLE = frozenset({"text-embedding-3-small", "text-embedding-3-large"})  # accept ``dimensions``
DEFAULT_MODEL = "text-embedding-3-small"


def openai_spec(model: str, dimensions: int | None, max_input_tokens: int | None) -> ModelSpec:
    """The spec of an OpenAI model, or of a self-hosted one (dimension 0 until probed when not given)."""
    spec = MODELS.get(model)
    if spec is None:
        window = max_input_tokens or DEFAULT_SELF_HOSTED_WINDOW
        chunk = min(HOSTED_CHUNK_TOKENS, window - 2)
        overlap = min(HOSTED_CHUNK_OVERLAP, chunk // 4)
        return ModelSpec("openai", model, dimensions or 0, window, chunk, overlap)
    if dimensions is None or dimensions == spec.dimension:
        return spec
    if model in SHORTENABLE and 1 <= dimensions < spec.dimension:
        return ModelSpec(**{**spec.__dict__, "dimension": dimensions})
    raise SettingsError(
        f"LIGHTFAST_EMBEDDING_DIMENSIONS: {model} embeds at "
        + (f"1 to {spec.dimension}" if model in SHORTENABLE else str(spec.dimension))
        + f", not {dimensions}"
    )


def token_batches(counts: list[int], max_inputs: int, max_tokens: int) -> list[tuple[int, int]]:
    """[start, end) ranges over inputs in order, each at most ``max_inputs`` inputs and ``max_tokens``
    tokens (an input alone over the cap still gets a range of its own: the provider says why it refuses)."""
    ranges: list[tuple[int, int]] = []
    start, total = 0, 0
    for index, count in enumerate(counts):
        if index > start and (index - start >= max_inputs or total + count > max_tokens):
            ranges.append((start, index))
            start, total = index, 0
        total += count
    if start < len(counts):
        ranges.append((start, len(counts)))
    return ranges


class OpenAIEmbedder(Embedder):
    def __init__(self, spec: ModelSpec, client: ProviderClient) -> None:
        super().__init__(spec, batch_size=BATCH_INPUTS)
        self.client = client
        self.tokenizer = EstimatingTokenizer()
        # ``dimensions`` only when the caller shortened a model that accepts it: older servers refuse it.
        base = MODELS.get(spec.name)
        shortened = base is not None and spec.dimension != base.dimension
        self._send_dimensions = shortened and spec.name in SHORTENABLE
        if spec.dimension == 0:
            self.spec = self._probe()

    def _probe(self) -> ModelSpec:
        """One call to learn a self-hosted model's dimension, so the store records it before embedding."""
        try:
            rows = self._request(["probe"])
        except LightfastError as exc:
            raise SettingsError(
                f"cannot learn the dimension of {self.spec.name} at {self.client.base_url} ({exc.message}); "
                "set LIGHTFAST_EMBEDDING_DIMENSIONS"
            ) from None
        return ModelSpec(**{**self.spec.__dict__, "dimension": len(rows[0])})

    def close(self) -> None:
        self.client.close()

    def requests_for(self, token_counts: Sequence[int]) -> int:
        counts = list(token_counts)
        return sum(
            len(
                token_batches(
                    counts[start : start + self.batch_size], MAX_INPUTS_PER_CALL, MAX_TOKENS_PER_CALL
                )
            )
            for start in range(0, len(counts), self.batch_size)
        )

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        counts = [self.tokenizer.count(text) for text in texts]
        parts = [
            self._request(texts[start:end])
            for start, end in token_batches(counts, MAX_INPUTS_PER_CALL, MAX_TOKENS_PER_CALL)
        ]
        rows = [row for part in parts for row in part]
        return np.asarray(rows, dtype=np.float32)

    def _request(self, texts: list[str]) -> list[list[float]]:
        body: dict[str, Any] = {"model": self.spec.name, "input": texts, "encoding_format": "float"}
        if self._send_dimensions:
            body["dimensions"] = self.spec.dimension
        provider = self.client.provider
        answer = self.client.post_json("/embeddings", body, model=self.spec.name)
        need(isinstance(answer, dict) and isinstance(answer.get("data"), list), provider, "no data list")
        data: list[Any] = answer["data"]
        need(len(data) == len(texts), provider, f"expected {len(texts)} embeddings, got {len(data)}")
        placed: list[Any] = [None] * len(texts)
        for item in data:
            index = item.get("index") if isinstance(item, dict) else None
            if not isinstance(index, int) or not 0 <= index < len(texts) or placed[index] is not None:
                raise UpstreamError(
                    f"{provider}'s answer is malformed: embedding indexes are not 0..n-1, each once",
                    provider=provider,
                )
            placed[index] = item.get("embedding")
        rows = float_rows(placed, len(texts), provider)
        if self.spec.dimension and len(rows[0]) != self.spec.dimension:
            raise UpstreamError(
                f"{provider}'s {self.spec.name} answered {len(rows[0])}-d vectors, expected "
                f"{self.spec.dimension} (LIGHTFAST_EMBEDDING_DIMENSIONS)",
                provider=provider,
            )
        usage = answer.get("usage")
        tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        if isinstance(tokens, int) and not isinstance(tokens, bool):
            self.client.usage.count_tokens(provider, self.spec.name, tokens)
        return rows
