"""A local stand-in for OpenAI's ``POST /v1/embeddings`` (and so for every OpenAI-compatible server:
Ollama, vLLM, text-embeddings-inference, LM Studio), speaking its documented shape and limits.

Request: ``model``, ``input`` (a string or a list of 1 to 2,048 strings), ``encoding_format`` (``float``),
``dimensions`` (only the ``text-embedding-3`` models, 1 to their size). Limits: 8,192 tokens an input,
300,000 tokens a request (tokens counted as words here). Answer: ``{"object": "list", "data":
[{"object": "embedding", "index", "embedding"}], "model", "usage": {"prompt_tokens", "total_tokens"}}``.
``reverse_data`` answers the rows in reverse order (the client must place them by ``index``).

Errors are ``{"error": {"message", "type", "param", "code"}}``: 400 ``invalid_request_error``, 401
``invalid_api_key`` (its message names the key it was given, masked as OpenAI does, or in full with
``echo_key``: a provider that leaks it, to prove the client scrubs it), 404 ``model_not_found``, 429 and
500 (scripted). Serve it at ``url + "/v1"``."""

from __future__ import annotations

from typing import Any

from lightfast.testing.provider_server import ProviderStandIn, Reply, count_tokens, hashed_vector

MODELS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
SHORTENABLE = frozenset({"text-embedding-3-small", "text-embedding-3-large"})
MAX_INPUTS = 2048
MAX_INPUT_TOKENS = 8192
MAX_REQUEST_TOKENS = 300_000
ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error"}


class OpenAIStandIn(ProviderStandIn):
    name = "openai"

    def __init__(self, api_key: str | None = "sk-standin-0123456789abcdef", **models: int) -> None:
        """``models``: more model names and their dimensions, as a self-hosted server would serve."""
        super().__init__(api_key)
        self.models = {**MODELS, **models}
        self.reverse_data = False
        self.echo_key = False

    def error_body(self, status: int, message: str) -> Any:
        code = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}.get(status)
        kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "requests")
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def _answer(self, method: str, path: str, authorization: str | None, raw: bytes, body: Any) -> Reply:
        if self.api_key is not None and authorization != f"Bearer {self.api_key}":
            given = (authorization or "").removeprefix("Bearer ")
            shown = given if self.echo_key else f"{given[:3]}***{given[-4:]}" if len(given) > 8 else "***"
            return Reply(401, self.error_body(401, f"Incorrect API key provided: {shown}."))
        return super()._answer(method, path, authorization, raw, body)

    def embeddings(self) -> list[dict[str, Any]]:
        return [call.body for call in self.calls if call.path == "/v1/embeddings" and call.status == 200]

    def route(self, path: str, body: Any) -> Reply:
        if path != "/v1/embeddings":
            return Reply(404, self.error_body(404, f"Unknown request URL: POST {path}"))
        if not isinstance(body, dict):
            return Reply(400, self.error_body(400, "the body must be a JSON object"))
        model = body.get("model")
        if model not in self.models:
            return Reply(404, self.error_body(404, f"The model `{model}` does not exist"))
        given = body.get("input")
        inputs = [given] if isinstance(given, str) else given
        if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) and t for t in inputs):
            return Reply(400, self.error_body(400, "'input' must be a non-empty string or list of strings"))
        if len(inputs) > MAX_INPUTS:
            return Reply(400, self.error_body(400, f"'input' must have at most {MAX_INPUTS} items"))
        counts = [count_tokens(text) for text in inputs]
        if max(counts) > MAX_INPUT_TOKENS:
            return Reply(
                400,
                self.error_body(
                    400, f"This model's maximum context length is {MAX_INPUT_TOKENS} tokens, however you "
                    f"requested {max(counts)} tokens"),
            )  # fmt: skip
        if sum(counts) > MAX_REQUEST_TOKENS:
            return Reply(
                400,
                self.error_body(400, f"Requested {sum(counts)} tokens, max {MAX_REQUEST_TOKENS} per request"),
            )
        if body.get("encoding_format", "float") != "float":
            return Reply(400, self.error_body(400, "the stand-in serves encoding_format 'float' only"))
        dimension = self.models[model]
        asked = body.get("dimensions")
        if asked is not None:
            if model not in SHORTENABLE:
                return Reply(400, self.error_body(400, "This model does not support specifying dimensions."))
            if not isinstance(asked, int) or not 1 <= asked <= dimension:
                return Reply(400, self.error_body(400, f"dimensions must be between 1 and {dimension}"))
            dimension = asked
        data = [
            {"object": "embedding", "index": index, "embedding": hashed_vector(text, dimension)}
            for index, text in enumerate(inputs)
        ]
        if self.reverse_data:
            data.reverse()
        usage = {"prompt_tokens": sum(counts), "total_tokens": sum(counts)}
        return Reply(200, {"object": "list", "data": data, "model": model, "usage": usage})
