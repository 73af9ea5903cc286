"""The rerank stage of a search: the top fused candidates reordered by a reranker within a latency budget.

The provider is called on a worker thread and waited for at most ``budget_ms``; past that (or when the
provider fails: its error is reported, not raised) the search keeps its fused order and its answer says
why (``reason``: ``budget`` or ``error``). A late answer is dropped; its thread ends with the call's own
timeout (the budget, plus a second). A search therefore never waits for a reranker longer than the budget,
and a reranker that is down never fails a search: a caller who asked for rerank gets the fused order,
labelled as such."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from lightfast.errors import LightfastError
from lightfast.rerank.base import Ranked, Reranker

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RerankOutcome:
    """What the stage did. ``order`` holds every candidate's position exactly once: the reranker's order
    when ``applied``, else the fused order (0..n-1)."""

    order: list[int]
    scores: dict[int, float]  # candidate position -> the reranker's score (empty when not applied)
    applied: bool
    reason: str | None  # why not applied: "budget", "error"
    provider: str
    model: str
    candidates: int
    milliseconds: float
    detail: str | None = None  # the provider's error, when reason is "error"


class RerankStage:
    def __init__(
        self,
        reranker: Reranker,
        *,
        budget_ms: int,
        candidates: int,
        workers: int = 4,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.reranker = reranker
        self.budget_ms = budget_ms
        self.candidates = candidates
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rerank")
        # Runs by outcome (applied, budget, error) for /metrics; a lost increment under concurrent
        # searches would only blur a rate, so no lock.
        self.outcomes: dict[str, int] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.reranker.close()

    def run(self, query: str, texts: list[str]) -> RerankOutcome:
        started = self.clock()
        fused = list(range(len(texts)))

        def outcome(
            order: list[int], scores: dict[int, float], reason: str | None, detail: str | None = None
        ) -> RerankOutcome:
            key = reason or "applied"
            self.outcomes[key] = self.outcomes.get(key, 0) + 1
            return RerankOutcome(
                order=order,
                scores=scores,
                applied=reason is None,
                reason=reason,
                provider=self.reranker.provider,
                model=self.reranker.model,
                candidates=len(texts),
                milliseconds=round((self.clock() - started) * 1000, 2),
                detail=detail,
            )

        if len(texts) < 2:  # nothing to reorder: applied trivially, and no call is made
            return outcome(fused, {}, None)
        future: Future[list[Ranked]] = self._pool.submit(self.reranker.rerank, query, texts)
        try:
            ranked = future.result(timeout=self.budget_ms / 1000)
        except FutureTimeout:
            future.cancel()  # if it has not started yet, it never will
            _log.info(
                "rerank by %s past its %d ms budget; fused order kept", self.reranker.provider, self.budget_ms
            )
            return outcome(fused, {}, "budget")
        except LightfastError as exc:
            _log.warning("rerank by %s failed; fused order kept: %s", self.reranker.provider, exc.message)
            return outcome(fused, {}, "error", exc.message)
        return outcome([r.index for r in ranked], {r.index: r.score for r in ranked}, None)
