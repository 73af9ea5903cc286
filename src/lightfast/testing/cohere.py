"""A local stand-in for Cohere's API: ``/v1/embed``, ``/v2/embed``, ``/v1/rerank`` and ``/v2/rerank``,
speaking their documented shapes and limits.

Embed: ``model`` (one of ``MODELS``), ``texts`` (1 to 96 strings: more is a 400), ``input_type`` (required
on v2 and for every v3+ model: ``search_document``, ``search_query``, ``classification``, ``clustering``),
``embedding_types`` (``float`` only here), ``truncate`` (``NONE`` refuses a text over the model's window,
``START``/``END`` cut it), ``output_dimension`` (v2, ``embed-v4.0`` only: 256, 512, 1024, 1536). Answer:
``{"id", "texts", "embeddings": {"float": [...]}, "meta": {"api_version", "billed_units": {"input_tokens"}},
"response_type": "embeddings_by_type"}`` (v1 without ``embedding_types``: ``"embeddings": [[...]]``,
``"response_type": "embeddings_floats"``).

Rerank: ``model`` (``rerank-english-v3.0``, ``rerank-v3.5``...), ``query``, ``documents`` (strings; v1 also
``{"text"}`` objects; at most 1,000), ``top_n``. Answer: ``{"id", "results": [{"index",
"relevance_score"}], "meta": {"billed_units": {"search_units": 1}}}``, best first.

Errors are ``{"message": ...}`` with 400, 401 (a missing or wrong bearer key), 404 (unknown model), 429
and 500 (scripted: ``fail_next``)."""

from __future__ import annotations

import uuid
from typing import Any

from lightfast.testing.provider_server import (
    ProviderStandIn,
    Reply,
    count_tokens,
    hashed_vector,
    words,
)

MODELS = {
    "embed-english-v3.0": (1024, 512),
    "embed-multilingual-v3.0": (1024, 512),
    "embed-english-light-v3.0": (384, 512),
    "embed-multilingual-light-v3.0": (384, 512),
    "embed-v4.0": (1536, 128_000),
}
RERANK_MODELS = frozenset({"rerank-english-v3.0", "rerank-multilingual-v3.0", "rerank-v3.5"})
INPUT_TYPES = frozenset({"search_document", "search_query", "classification", "clustering"})
MAX_TEXTS = 96
MAX_RERANK_DOCUMENTS = 1000
V4_DIMENSIONS = (256, 512, 1024, 1536)


class CohereStandIn(ProviderStandIn):
    name = "cohere"

    def route(self, path: str, body: Any) -> Reply:
        if path in ("/v1/embed", "/v2/embed"):
            return self._embed(path[1:3], body)
        if path in ("/v1/rerank", "/v2/rerank"):
            return self._rerank(path[1:3], body)
        return Reply(404, {"message": f"no route {path}"})

    def embed_calls(self, input_type: str | None = None) -> list[dict[str, Any]]:
        """The bodies of the embed calls answered 200 (of one input type, if given)."""
        return [
            call.body
            for call in self.calls
            if call.path.endswith("/embed")
            and call.status == 200
            and (input_type is None or call.body.get("input_type") == input_type)
        ]

    def _embed(self, version: str, body: Any) -> Reply:
        if not isinstance(body, dict):
            return Reply(400, {"message": "invalid request: body must be a JSON object"})
        model = body.get("model")
        if model not in MODELS:
            return Reply(404, {"message": f"model '{model}' not found"})
        dimension, window = MODELS[model]
        texts = body.get("texts")
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return Reply(400, {"message": "invalid request: texts must be a non-empty list of strings"})
        if len(texts) > MAX_TEXTS:
            return Reply(
                400,
                {"message": f"invalid request: total number of texts must be at most {MAX_TEXTS} - "
                 f"received {len(texts)}"},
            )  # fmt: skip
        input_type = body.get("input_type")
        if input_type is None:
            return Reply(
                400, {"message": "invalid request: input_type is required for embed models v3 and up"}
            )
        if input_type not in INPUT_TYPES:
            return Reply(400, {"message": f"invalid request: input_type {input_type!r} is not supported"})
        types = body.get("embedding_types")
        if types is not None and types != ["float"]:
            return Reply(400, {"message": "invalid request: the stand-in serves embedding_types ['float']"})
        truncate = body.get("truncate", "END")
        if truncate not in ("NONE", "START", "END"):
            return Reply(400, {"message": "invalid request: truncate must be NONE, START or END"})
        if truncate == "NONE" and any(count_tokens(t) > window for t in texts):
            return Reply(400, {"message": f"invalid request: a text is longer than {window} tokens"})
        output_dimension = body.get("output_dimension")
        if output_dimension is not None:
            if version != "v2" or model != "embed-v4.0" or output_dimension not in V4_DIMENSIONS:
                return Reply(
                    400, {"message": "invalid request: output_dimension is not valid for this model"}
                )
            dimension = output_dimension
        kept = [" ".join(words(t)[:window] if truncate == "END" else words(t)[-window:]) for t in texts]
        vectors = [hashed_vector(text, dimension) for text in kept]
        tokens = sum(min(count_tokens(t), window) for t in texts)
        meta = {"api_version": {"version": version[1:]}, "billed_units": {"input_tokens": tokens}}
        answer: dict[str, Any] = {"id": str(uuid.uuid4()), "texts": texts, "meta": meta}
        if version == "v1" and types is None:
            answer.update(embeddings=vectors, response_type="embeddings_floats")
        else:
            answer.update(embeddings={"float": vectors}, response_type="embeddings_by_type")
        return Reply(200, answer)

    def _rerank(self, version: str, body: Any) -> Reply:
        if not isinstance(body, dict):
            return Reply(400, {"message": "invalid request: body must be a JSON object"})
        model = body.get("model")
        if model not in RERANK_MODELS:
            return Reply(404, {"message": f"model '{model}' not found"})
        query, documents = body.get("query"), body.get("documents")
        if not isinstance(query, str) or not query.strip():
            return Reply(400, {"message": "invalid request: query must be a non-empty string"})
        if not isinstance(documents, list) or not documents:
            return Reply(400, {"message": "invalid request: documents must be a non-empty list"})
        if len(documents) > MAX_RERANK_DOCUMENTS:
            return Reply(400, {"message": f"invalid request: at most {MAX_RERANK_DOCUMENTS} documents"})
        texts: list[str] = []
        for item in documents:
            if isinstance(item, dict) and version == "v1" and isinstance(item.get("text"), str):
                texts.append(item["text"])
            elif isinstance(item, str):
                texts.append(item)
            else:
                return Reply(400, {"message": "invalid request: documents must be strings"})
        top_n = body.get("top_n", len(texts))
        if not isinstance(top_n, int) or top_n < 1:
            return Reply(400, {"message": "invalid request: top_n must be a positive integer"})
        scored = sorted(
            ((index, self.score(query, text)) for index, text in enumerate(texts)),
            key=lambda p: (-p[1], p[0]),
        )
        results = [{"index": index, "relevance_score": round(score, 6)} for index, score in scored[:top_n]]
        meta = {"api_version": {"version": version[1:]}, "billed_units": {"search_units": 1}}
        return Reply(200, {"id": str(uuid.uuid4()), "results": results, "meta": meta})
