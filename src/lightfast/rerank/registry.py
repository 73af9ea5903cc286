"""The reranker a process uses, from its settings; None when ``LIGHTFAST_RERANK_PROVIDER`` is unset."""

from __future__ import annotations

from lightfast.embed.http import CircuitBreaker, HttpTimings, ProviderClient, ProviderUsage
from lightfast.embed.resilience import BreakerConfig, RetryPolicy
from lightfast.rerank.base import Reranker
from lightfast.rerank.providers import CohereReranker, JinaReranker, TEIReranker
from lightfast.rerank.stage import RerankStage
from lightfast.settings import Settings

DEFAULT_MODELS = {"cohere": "rerank-v3.5", "jina": "jina-reranker-v2-base-multilingual", "tei": ""}
JINA_URL = "https://api.jina.ai"


def make_reranker(settings: Settings, usage: ProviderUsage | None = None) -> Reranker | None:
    provider = settings.rerank_provider
    if provider is None:
        return None
    if provider == "cohere":
        url, key = settings.rerank_base_url or settings.cohere_base_url, settings.rerank_api_key
        key = key or settings.cohere_api_key
    elif provider == "jina":
        url, key = settings.rerank_base_url or JINA_URL, settings.rerank_api_key
    else:
        url, key = settings.rerank_base_url or "", settings.rerank_api_key
    # One attempt: a search cannot sleep through a backoff inside its budget, and the stage falls back
    # to the fused order when the call fails. The call's own timeout ends a late call soon after the
    # budget gave up on it; the breaker keeps a down provider from costing every search its whole budget.
    budget = settings.rerank_budget_ms / 1000
    client = ProviderClient(
        provider,
        url,
        api_key=key,
        timings=HttpTimings(timeout=budget + 1.0, connect=min(budget + 1.0, 5.0)),
        policy=RetryPolicy(attempts=1),
        breaker=CircuitBreaker(
            BreakerConfig(settings.provider_breaker_failures, settings.provider_breaker_cooldown)
        ),
        usage=usage,
    )
    model = settings.rerank_model or DEFAULT_MODELS[provider]
    if provider == "cohere":
        return CohereReranker(client, model, settings.cohere_api_version)
    if provider == "jina":
        return JinaReranker(client, model)
    return TEIReranker(client, model)


def make_rerank_stage(settings: Settings, usage: ProviderUsage | None = None) -> RerankStage | None:
    reranker = make_reranker(settings, usage)
    if reranker is None:
        return None
    return RerankStage(reranker, budget_ms=settings.rerank_budget_ms, candidates=settings.rerank_candidates)
