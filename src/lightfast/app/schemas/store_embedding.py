"""PUT /v1/stores/{id}/embedding: a store's switch to another embedding model, its estimate first
(issue 15)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool, field_validator

from lightfast.app.embedding_switch import SwitchEstimate
from lightfast.app.schemas.common import Body, Out
from lightfast.ingest.config import EMBEDDING_DIMENSIONS, EMBEDDING_MODEL_PATTERN, EMBEDDING_PROVIDER_PATTERN


class StoreEmbeddingBody(Body):
    provider: str = Field(min_length=1, max_length=32, pattern=f"^{EMBEDDING_PROVIDER_PATTERN.pattern}$")
    model: str = Field(min_length=1, max_length=191, pattern=f"^{EMBEDDING_MODEL_PATTERN.pattern}$")
    dimensions: int | None = Field(default=None, ge=EMBEDDING_DIMENSIONS[0], le=EMBEDDING_DIMENSIONS[1])
    dry_run: StrictBool = Field(default=False, alias="dryRun", description="Answer the estimate only.")

    @field_validator("dimensions", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        """A JSON number that is whole (1024 or 1024.0, as JSON Schema's integer allows); not a string
        nor a boolean, which lax parsing would take."""
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError("must be a whole number")


class EmbeddingModelOut(Out):
    provider: str
    model: str
    dimensions: int


class EmbeddingEstimateOut(Out):
    store: str
    current: EmbeddingModelOut
    target: EmbeddingModelOut
    chunks: int = Field(description="Chunks of the store.")
    texts: int = Field(description="Distinct chunk texts: what is embedded.")
    tokens: int = Field(description="Tokens of those texts by the store's tokenizer.")
    requests: int = Field(description="Calls to a hosted provider (0 for a model run by the server).")
    cost_usd: float | None = Field(description="When a price per million tokens is configured.")

    @classmethod
    def from_estimate(cls, estimate: SwitchEstimate) -> EmbeddingEstimateOut:
        return cls(
            store=estimate.store,
            current=EmbeddingModelOut(
                provider=estimate.current_provider,
                model=estimate.current_model,
                dimensions=estimate.current_dimensions,
            ),
            target=EmbeddingModelOut(
                provider=estimate.provider, model=estimate.model, dimensions=estimate.dimensions
            ),
            chunks=estimate.chunks,
            texts=estimate.texts,
            tokens=estimate.tokens,
            requests=estimate.requests,
            cost_usd=estimate.cost_usd,
        )


class EmbeddingSwitchOut(Out):
    estimate: EmbeddingEstimateOut
    job_id: str | None = Field(description="The switch job; null for a dry run.")
