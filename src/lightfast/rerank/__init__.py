"""Rerank providers behind one port (``Reranker``) and the search's rerank stage (``RerankStage``),
chosen by ``LIGHTFAST_RERANK_PROVIDER``: ``cohere``, ``tei`` (text-embeddings-inference) or ``jina``."""

from lightfast.rerank.base import Ranked, Reranker
from lightfast.rerank.registry import make_rerank_stage, make_reranker
from lightfast.rerank.stage import RerankOutcome, RerankStage

__all__ = ["Ranked", "RerankOutcome", "RerankStage", "Reranker", "make_rerank_stage", "make_reranker"]
