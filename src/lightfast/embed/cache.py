"""A bounded LRU cache of query embeddings, keyed by (provider, model, text).

People and agents repeat queries (a console reload, a retried tool call, the same question from two
tabs); embedding one costs 10-30 ms of CPU on the default model, a cache hit a dictionary look-up. The
key names the provider and the model, so a process that serves two models never answers one with the
other's vector. Entries are read-only arrays: a caller that tried to change a cached vector in place
would corrupt every later hit, so it gets an error instead.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

DEFAULT_QUERY_CACHE_ENTRIES = 1024  # 1,024 x 384 float32 = 1.5 MB for the default model

CacheKey = tuple[str, str, str]  # (provider, model, query text)


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    capacity: int

    @property
    def hit_rate(self) -> float:
        looked_up = self.hits + self.misses
        return self.hits / looked_up if looked_up else 0.0


class QueryCache:
    """Thread-safe LRU of vectors. ``capacity`` 0 turns it off (every look-up misses, nothing is kept)."""

    def __init__(self, capacity: int = DEFAULT_QUERY_CACHE_ENTRIES) -> None:
        if capacity < 0:
            raise ValueError("capacity must not be negative")
        self.capacity = capacity
        self._entries: OrderedDict[CacheKey, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: CacheKey) -> np.ndarray | None:
        with self._lock:
            vector = self._entries.get(key)
            if vector is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return vector

    def put(self, key: CacheKey, vector: np.ndarray) -> np.ndarray:
        """Keep a read-only copy of ``vector`` and return it (the caller's array stays writable)."""
        frozen = np.array(vector, dtype=np.float32, copy=True)
        frozen.setflags(write=False)
        if self.capacity == 0:
            return frozen
        with self._lock:
            self._entries[key] = frozen
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return frozen

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._entries), self.capacity)
