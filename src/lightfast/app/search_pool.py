"""Searches answered by worker processes, for a server whose one process cannot use every core.

A search is CPU work in Python (fusion, snippets, the SQL around them) and in NumPy (the vector scan).
Threads of one process share one interpreter lock: at 100k chunks, eight concurrent clients got about
90 searches a second out of one process that used 1.4 of the 2 cores, and 122 with two search processes
(``bench/results/search_latency.md``). With ``LIGHTFAST_SEARCH_PROCESSES=N``, ``lightfast serve``
(``container.start_search_processes``) keeps HTTP, authentication, rate limits, usage and metrics in
its own process, where that state lives, and sends each search to one of N worker processes.

Each worker builds the same services from the same settings, so it reads the same database and keeps
its own in-memory indexes up to date from the change logs, as any other process does: memory grows by a
set of indexes (and a query model) per worker, which is why the default is 0 (searches in process).
Searches that rerank stay in the server: their time is the provider's, and the rerank stage's counters
are read by ``/metrics`` there. The workers' hosted-provider usage (query embeddings) comes back with
each answer and is added to the server's counters.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from lightfast.embed.http import ProviderUsage, UsageCounts
from lightfast.errors import SearchUnavailable
from lightfast.settings import Settings

if TYPE_CHECKING:
    from lightfast.app.container import Services
    from lightfast.app.search import SearchRequest, SearchResponse

log = logging.getLogger("lightfast.search")


class SearchPool:
    """N worker processes, started on the first search; a pool whose worker died is replaced once per
    search before the search is refused (503)."""

    def __init__(self, settings: Settings, processes: int, usage: ProviderUsage) -> None:
        if processes < 1:
            raise ValueError("a search pool needs at least one process")
        # The workers search in process: they must not start pools of their own.
        self.settings = settings.model_copy(update={"search_processes": 0})
        self.processes = processes
        self.usage = usage
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.answered = 0  # searches the workers answered (tests, benchmarks)
        self.replaced = 0  # pools replaced after a worker died

    def search(self, request: SearchRequest) -> SearchResponse:
        for attempt in (1, 2):
            executor = self._current()
            try:
                response, used = executor.submit(_search_in_worker, request).result()
            except BrokenProcessPool:
                self._replace(executor)
                if attempt == 2:
                    raise SearchUnavailable("a search worker process stopped twice in a row") from None
                continue
            self.usage.add(used)
            with self._lock:
                self.answered += 1
            return response
        raise AssertionError("unreachable")

    def start(self, wait: bool = False) -> None:
        """Start every worker now rather than at the first searches (``lightfast serve`` does, so the
        workers load their indexes while nobody waits); ``wait``: return once all of them are ready."""
        executor = self._current()
        # Processes are spawned as tasks arrive while none is idle: N tasks at once start N of them.
        started = [executor.submit(os.getpid) for _ in range(self.processes)]
        if wait:
            for future in started:
                future.result()

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn, not fork: the server has threads (the job worker, the database pool) that a
                # forked child would inherit half-way through whatever they were doing.
                self._executor = ProcessPoolExecutor(
                    max_workers=self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(self.settings,),
                )
            return self._executor

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                log.error("a search worker process stopped; starting a new pool")
                self._executor = None
                self.replaced += 1
        broken.shutdown(wait=False, cancel_futures=True)


# In a worker process: its services, built once by the pool's initializer.
_worker: Services | None = None


def _start_worker(settings: Settings) -> None:
    global _worker
    # Imported here: the container builds the pool, so importing it at module level would be circular.
    from lightfast.app.container import build_services

    parent = multiprocessing.parent_process()
    if parent is not None:
        # A pool's workers wait on a queue whose other end they hold themselves: a server that was
        # killed would leave them running for ever. This one goes with its server.
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()
    _worker = build_services(settings)
    _worker.search.warm()  # searches queue until the indexes are loaded, rather than each paying a load


def _exit_with(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(0)


def _search_in_worker(request: SearchRequest) -> tuple[SearchResponse, UsageCounts]:
    if _worker is None:
        raise RuntimeError("the search worker was not started")
    response = _worker.search.search(request)
    return response, _worker.provider_usage.drain()
