"""The rerank port: one abstract method that scores documents against a query; the base class validates
the provider's answer and turns it into a complete order of the candidates."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from lightfast.errors import UpstreamError

# A candidate's text sent to a reranker: its chunk, cut at this many characters. Cross-encoders read 512
# tokens (Cohere's rerank-v3.5 4,096): more would be cut by the provider anyway, and the cap bounds the
# request at ~4 MB for 1,000 candidates.
MAX_DOCUMENT_CHARS = 4000


@dataclass(frozen=True)
class Ranked:
    index: int  # position in the documents given
    score: float  # the provider's relevance score, higher is better


def complete_order(count: int, ranked: Sequence[Ranked]) -> list[Ranked]:
    """Every index of ``range(count)`` exactly once: the ranked ones best first (ties by position), then any
    the provider left out, in their given order with score -inf. Raises ValueError on an index out of
    range, a repeated index or a score that is not a finite number."""
    seen: set[int] = set()
    for item in ranked:
        if not 0 <= item.index < count:
            raise ValueError(f"index {item.index} is outside 0..{count - 1}")
        if item.index in seen:
            raise ValueError(f"index {item.index} is ranked twice")
        if not math.isfinite(item.score):
            raise ValueError(f"index {item.index} has a score that is not a finite number")
        seen.add(item.index)
    best = sorted(ranked, key=lambda item: (-item.score, item.index))
    return [*best, *(Ranked(i, -math.inf) for i in range(count) if i not in seen)]


class Reranker(ABC):
    """Scores documents against a query. ``provider`` and ``model`` name it in answers and metrics."""

    provider: str = "reranker"
    model: str = ""
    max_documents: int = 1000  # the most a call may carry; rerank() asks for no more

    def close(self) -> None:
        """Release the provider's connections; a no-op by default."""
        return None

    @abstractmethod
    def score(self, query: str, documents: list[str]) -> list[Ranked]:
        """The provider's scores for ``documents`` (all of them, or its best first)."""

    def rerank(self, query: str, documents: Sequence[str]) -> list[Ranked]:
        """``documents`` in the provider's order, every one of them; UpstreamError on a malformed answer."""
        texts = [text[:MAX_DOCUMENT_CHARS] for text in documents[: self.max_documents]]
        if not texts:
            return []
        try:
            ranked = complete_order(len(texts), self.score(query, texts))
        except ValueError as exc:
            raise UpstreamError(f"{self.provider}'s rerank answer is malformed: {exc}") from None
        extra = [Ranked(i, -math.inf) for i in range(len(texts), len(documents))]
        return [*ranked, *extra]
