"""Who gets the CPU when queries and ingestion embed in one process.

``lightfast serve`` embeds documents (its job worker) and queries (HTTP requests) with one model. Two
rules keep a query's latency when the worker is busy (figures: ``bench/results/embed_runtime.md``):

- **A thread budget per purpose.** A query is one short text: it runs on one thread, where it cannot
  wait on a barrier for a sibling thread the operating system has parked on a busy core (that wait is
  what turned a 23 ms query into 400 ms). Documents get the rest. The budget is applied by the embedder
  in the thread that embeds, before each call (torch's intra-op thread count is a per-thread OpenMP
  setting once a thread has set it).
- **Ingestion yields.** Before each batch of documents the embedder waits while queries are being
  embedded, up to ``max_yield_seconds`` (so a steady stream of queries slows ingestion, never stops
  it). A query never waits for ingestion: it does not take a lock the worker holds.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class ThreadBudget:
    query_threads: int = 1
    document_threads: int = max(1, os.cpu_count() or 1)

    def __post_init__(self) -> None:
        if self.query_threads < 1 or self.document_threads < 1:
            raise ValueError("a thread budget needs at least one thread per purpose")


class QueryPriority:
    """Counts queries in flight; document batches wait for none to be, for a bounded time."""

    def __init__(self, max_yield_seconds: float = 0.5) -> None:
        self.max_yield_seconds = max_yield_seconds
        self._active = 0
        self._idle = threading.Condition()
        self.yields = 0  # document batches that waited for a query (tests, benchmarks)

    @property
    def active(self) -> int:
        return self._active

    @contextmanager
    def query(self) -> Iterator[None]:
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                if self._active == 0:
                    self._idle.notify_all()

    def before_documents(self) -> float:
        """Wait while queries are embedding (at most ``max_yield_seconds``); return the seconds waited."""
        if self._active == 0:  # the common case, without the lock: a stale read only shortens a wait
            return 0.0
        started = time.perf_counter()
        with self._idle:
            if self._active:
                self.yields += 1
                self._idle.wait_for(lambda: self._active == 0, timeout=self.max_yield_seconds)
        return time.perf_counter() - started
