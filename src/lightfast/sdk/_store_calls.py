"""SDK calls on a store (issue 15), described as in ``_calls`` (which is at its size limit)."""

from __future__ import annotations

from typing import Any

from lightfast.sdk._calls import Call, _int_in, _mutation, _segment, _text
from lightfast.sdk.models import EmbeddingSwitch


def switch_embedding(
    store: str,
    provider: str,
    model: str,
    *,
    dimensions: int | None = None,
    dry_run: bool = False,
    idempotency_key: str | None = None,
) -> Call[EmbeddingSwitch, EmbeddingSwitch]:
    """Switch a store (its id) to another embedding model (``PUT /v1/stores/{id}/embedding``): the
    estimate (chunks, tokens, requests, cost) and the switch job, or only the estimate with ``dry_run``.
    Searches keep using the current model until the job completes."""
    body: dict[str, Any] = {
        "provider": _text("provider", provider),
        "model": _text("model", model),
        "dryRun": bool(dry_run),
    }
    if dimensions is not None:
        body["dimensions"] = _int_in("dimensions", dimensions, 1, 8192)
    path = f"/v1/stores/{_segment('store', store)}/embedding"
    return _mutation("PUT", path, EmbeddingSwitch, idempotency_key, json=body)
