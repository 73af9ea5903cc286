"""Cohere's embed API: ``POST /v2/embed`` (default) or ``/v1/embed``.

Request: ``{"model", "texts", "input_type", "embedding_types": ["float"], "truncate"}``, plus
``output_dimension`` (256, 512, 1024 or 1536) for ``embed-v4.0`` on v2. Documents are sent as
``search_document`` and queries as ``search_query`` (``embed_batch`` and ``embed_query_batch``: the
base class's query path is the only caller of the second). At most 96 texts a call. Answer:
``{"id", "embeddings": {"float": [[...], ...]}, "texts", "meta": {"billed_units": {"input_tokens"}},
"response_type": "embeddings_by_type"}``; v1 without ``embedding_types`` answers ``"embeddings":
[[...]]``, which is read too.

``truncate`` is ``END``: chunk sizes come from a token estimate that overshoots (``EstimatingTokenizer``),
so an overrun is rare and costs the end of one chunk, not the whole job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lightfast.embed.base import Embedder, ModelSpec
from lightfast.embed.hosted import HOSTED_CHUNK_OVERLAP, HOSTED_CHUNK_TOKENS
from lightfast.embed.http import ProviderClient, float_rows, need
from lightfast.errors import SettingsError

MAX_TEXTS_PER_CALL = 96
V4_DIMENSIONS = (256, 512, 1024, 1536)


def _spec(name: str, dimension: int, window: int) -> ModelSpec:
    chunk = min(HOSTED_CHUNK_TOKENS, window)
    return ModelSpec("cohere", name, dimension, window, chunk, HOSTED_CHUNK_OVERLAP)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        _spec("embed-english-v3.0", 1024, 512),
        _spec("embed-multilingual-v3.0", 1024, 512),
        _spec("embed-english-light-v3.0", 384, 512),
        _spec("embed-multilingual-light-v3.0", 384, 512),
        _spec("embed-v4.0", 1536, 128_000),
    )
}
DEFAULT_MODEL = "embed-english-v3.0"


def cohere_spec(model: str, dimensions: int | None) -> ModelSpec:
    """The spec of a Cohere model at the dimension asked for; SettingsError naming the variable otherwise."""
    spec = MODELS.get(model)
    if spec is None:
        raise SettingsError(
            f"LIGHTFAST_EMBEDDING_MODEL: unknown Cohere model {model!r}; available: {', '.join(MODELS)}"
        )
    if dimensions is None or dimensions == spec.dimension:
        return spec
    if model == "embed-v4.0" and dimensions in V4_DIMENSIONS:
        return ModelSpec(**{**spec.__dict__, "dimension": dimensions})
    allowed = ", ".join(map(str, V4_DIMENSIONS)) if model == "embed-v4.0" else str(spec.dimension)
    raise SettingsError(f"LIGHTFAST_EMBEDDING_DIMENSIONS: {model} embeds at {allowed}, not {dimensions}")


class CohereEmbedder(Embedder):
    def __init__(self, spec: ModelSpec, client: ProviderClient, api_version: str = "v2") -> None:
        super().__init__(spec, batch_size=MAX_TEXTS_PER_CALL)
        self.client = client
        self.api_version = api_version

    def close(self) -> None:
        self.client.close()

    def requests_for(self, token_counts: Sequence[int]) -> int:
        return -(-len(token_counts) // MAX_TEXTS_PER_CALL)

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        return self._call(texts, "search_document")

    def embed_query_batch(self, texts: list[str]) -> np.ndarray:
        return self._call(texts, "search_query")

    def _call(self, texts: list[str], input_type: str) -> np.ndarray:
        if len(texts) > MAX_TEXTS_PER_CALL:  # the base class batches by batch_size; this guards a subclass
            raise ValueError(f"Cohere embeds at most {MAX_TEXTS_PER_CALL} texts a call")
        body: dict[str, Any] = {
            "model": self.spec.name,
            "texts": texts,
            "input_type": input_type,
            "embedding_types": ["float"],
            "truncate": "END",
        }
        if self.api_version == "v2" and self.spec.name == "embed-v4.0":
            body["output_dimension"] = self.spec.dimension
        answer = self.client.post_json(f"/{self.api_version}/embed", body, model=self.spec.name)
        provider = self.client.provider
        need(isinstance(answer, dict), provider, "not a JSON object")
        embeddings = answer.get("embeddings")
        rows = embeddings.get("float") if isinstance(embeddings, dict) else embeddings
        checked = float_rows(rows, len(texts), provider)
        need(len(checked[0]) == self.spec.dimension, provider, f"vectors are not {self.spec.dimension}-d")
        meta = answer.get("meta")
        billed = meta.get("billed_units") if isinstance(meta, dict) else None
        tokens = billed.get("input_tokens") if isinstance(billed, dict) else None
        if isinstance(tokens, int | float) and not isinstance(tokens, bool):
            self.client.usage.count_tokens(provider, self.spec.name, int(tokens))
        return np.asarray(checked, dtype=np.float32)
