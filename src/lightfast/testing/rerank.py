"""A local stand-in for the self-hosted and Jina rerank APIs (Cohere's rerank is in
``lightfast.testing.cohere``):

- Hugging Face text-embeddings-inference ``POST /rerank``: ``{"query", "texts", "raw_scores",
  "return_text", "truncate"}`` -> ``[{"index", "score"}]`` best first; errors ``{"error", "error_type"}``
  (413 above ``max_batch`` texts, 422 for an empty list).
- Jina ``POST /v1/rerank``: ``{"model", "query", "documents", "top_n", "return_documents"}`` ->
  ``{"model", "usage": {"total_tokens"}, "results": [{"index", "relevance_score"}]}``; errors
  ``{"detail": ...}``.

Scores come from ``score(query, text)`` (the share of the query's words a text holds unless a test sets
another function); ``delay`` makes every answer slow."""

from __future__ import annotations

from typing import Any

from lightfast.testing.provider_server import ProviderStandIn, Reply, count_tokens

TEI_MAX_BATCH = 512  # text-embeddings-inference's default --max-client-batch-size


class RerankStandIn(ProviderStandIn):
    name = "rerank"

    def __init__(self, api_key: str | None = None, max_batch: int = TEI_MAX_BATCH) -> None:
        super().__init__(api_key)
        self.max_batch = max_batch

    def error_body(self, status: int, message: str) -> Any:
        return {
            "error": message,
            "error_type": "Validation" if status < 500 else "Backend",
            "detail": message,
        }

    def route(self, path: str, body: Any) -> Reply:
        if not isinstance(body, dict):
            return Reply(422, self.error_body(422, "the body must be a JSON object"))
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            return Reply(422, self.error_body(422, "query must be a non-empty string"))
        if path == "/rerank":
            return self._tei(query, body)
        if path == "/v1/rerank":
            return self._jina(query, body)
        return Reply(404, self.error_body(404, f"no route {path}"))

    def _ranked(self, query: str, texts: list[str]) -> list[tuple[int, float]]:
        scored = ((index, round(self.score(query, text), 6)) for index, text in enumerate(texts))
        return sorted(scored, key=lambda pair: (-pair[1], pair[0]))

    def _tei(self, query: str, body: dict[str, Any]) -> Reply:
        texts = body.get("texts")
        if not isinstance(texts, list) or not texts:
            return Reply(422, self.error_body(422, "`texts` cannot be empty"))
        if not all(isinstance(text, str) for text in texts):
            return Reply(422, self.error_body(422, "`texts` must be strings"))
        if len(texts) > self.max_batch:
            return Reply(
                413,
                self.error_body(
                    413, f"batch size {len(texts)} > maximum allowed batch size {self.max_batch}"
                ),
            )
        return Reply(200, [{"index": index, "score": score} for index, score in self._ranked(query, texts)])

    def _jina(self, query: str, body: dict[str, Any]) -> Reply:
        documents = body.get("documents")
        if not isinstance(documents, list) or not documents or not all(isinstance(d, str) for d in documents):
            return Reply(422, self.error_body(422, "documents must be a non-empty list of strings"))
        top_n = body.get("top_n", len(documents))
        if not isinstance(top_n, int) or top_n < 1:
            return Reply(422, self.error_body(422, "top_n must be a positive integer"))
        ranked = self._ranked(query, documents)[:top_n]
        tokens = count_tokens(query) * len(documents) + sum(count_tokens(d) for d in documents)
        return Reply(
            200,
            {
                "model": body.get("model"),
                "usage": {"total_tokens": tokens},
                "results": [{"index": index, "relevance_score": score} for index, score in ranked],
            },
        )
