"""Rerank providers over HTTP, through the embedding providers' HTTP layer (timeouts, breaker, usage):

- Cohere ``POST /v2/rerank`` (or ``/v1/rerank``): ``{"model", "query", "documents", "top_n"}`` ->
  ``{"results": [{"index", "relevance_score"}], "meta": {"billed_units": {"search_units"}}}``.
- Hugging Face text-embeddings-inference ``POST /rerank``: ``{"query", "texts", "truncate"}`` ->
  ``[{"index", "score"}]``.
- Jina ``POST /v1/rerank``: ``{"model", "query", "documents", "top_n"}`` -> ``{"results": [{"index",
  "relevance_score"}], "usage": {"total_tokens"}}``.
"""

from __future__ import annotations

from typing import Any

from lightfast.embed.http import ProviderClient, need
from lightfast.rerank.base import Ranked, Reranker


def _ranked(items: Any, provider: str, score_key: str) -> list[Ranked]:
    need(isinstance(items, list), provider, "results are not a list")
    out: list[Ranked] = []
    for item in items:
        index = item.get("index") if isinstance(item, dict) else None
        score = item.get(score_key) if isinstance(item, dict) else None
        need(
            isinstance(index, int)
            and not isinstance(index, bool)
            and isinstance(score, int | float)
            and not isinstance(score, bool),
            provider,
            f"a result lacks an integer index or a numeric {score_key}",
        )
        out.append(Ranked(int(index), float(score)))  # type: ignore[arg-type]
    return out


class HttpReranker(Reranker):
    """A reranker that calls its provider through a ``ProviderClient``."""

    client: ProviderClient

    def close(self) -> None:
        self.client.close()


class CohereReranker(HttpReranker):
    provider = "cohere"
    max_documents = 1000  # Cohere's documented recommendation per request

    def __init__(self, client: ProviderClient, model: str = "rerank-v3.5", api_version: str = "v2") -> None:
        self.client, self.model, self.api_version = client, model, api_version

    def score(self, query: str, documents: list[str]) -> list[Ranked]:
        body = {"model": self.model, "query": query, "documents": documents, "top_n": len(documents)}
        answer = self.client.post_json(f"/{self.api_version}/rerank", body, model=self.model)
        need(isinstance(answer, dict), self.client.provider, "not a JSON object")
        meta = answer.get("meta")
        billed = meta.get("billed_units") if isinstance(meta, dict) else None
        units = billed.get("search_units") if isinstance(billed, dict) else None
        if isinstance(units, int) and not isinstance(units, bool):
            self.client.usage.count_search_units(self.client.provider, self.model, units)
        return _ranked(answer.get("results"), self.client.provider, "relevance_score")


class TEIReranker(HttpReranker):
    provider = "tei"
    max_documents = 512  # text-embeddings-inference's default --max-client-batch-size

    def __init__(self, client: ProviderClient, model: str = "") -> None:
        self.client, self.model = client, model or "tei"

    def score(self, query: str, documents: list[str]) -> list[Ranked]:
        body = {"query": query, "texts": documents, "truncate": True}
        answer = self.client.post_json("/rerank", body, model=self.model)
        return _ranked(answer, self.client.provider, "score")


class JinaReranker(HttpReranker):
    provider = "jina"

    def __init__(self, client: ProviderClient, model: str = "jina-reranker-v2-base-multilingual") -> None:
        self.client, self.model = client, model

    def score(self, query: str, documents: list[str]) -> list[Ranked]:
        body = {"model": self.model, "query": query, "documents": documents, "top_n": len(documents)}
        answer = self.client.post_json("/v1/rerank", body, model=self.model)
        need(isinstance(answer, dict), self.client.provider, "not a JSON object")
        usage = answer.get("usage")
        tokens = usage.get("total_tokens") if isinstance(usage, dict) else None
        if isinstance(tokens, int) and not isinstance(tokens, bool):
            self.client.usage.count_tokens(self.client.provider, self.model, tokens)
        return _ranked(answer.get("results"), self.client.provider, "relevance_score")
