"""A store's chunk vectors in memory, updated by chunk: append new rows, drop changed ones.

Pure NumPy, no database. Rows live in preallocated arrays that grow by doubling (amortised appends);
a deleted row is only marked dead until dead rows make up a quarter of the table, when the live rows
are copied into fresh arrays. Searches read an immutable ``Snapshot``: a writer never changes a row a
published snapshot can see, so a search running while the table is updated sees its state before or
after the update, never a mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MIN_CAPACITY = 1024


@dataclass(frozen=True)
class ChunkRows:
    """Chunk rows as read from the database, in one store and one embedding dimension."""

    seqs: np.ndarray  # int64 (vector_entries.seq)
    document_ids: np.ndarray  # object (str)
    source_types: np.ndarray  # object (str)
    paths: np.ndarray  # object (str)
    updated: np.ndarray  # float64 POSIX seconds of the document's last update
    matrix: np.ndarray  # float32, (m, dim), L2-normalised rows

    def __len__(self) -> int:
        return len(self.seqs)

    @staticmethod
    def empty(dim: int) -> ChunkRows:
        strings = np.empty(0, dtype=object)
        return ChunkRows(
            np.empty(0, dtype=np.int64),
            strings,
            strings,
            strings,
            np.empty(0, dtype=np.float64),
            np.empty((0, dim), dtype=np.float32),
        )


@dataclass(frozen=True)
class Snapshot:
    """The rows of a table at one moment; ``alive`` is False for rows deleted since they were added."""

    seqs: np.ndarray
    document_ids: np.ndarray
    source_types: np.ndarray
    paths: np.ndarray
    updated: np.ndarray
    matrix: np.ndarray
    alive: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.seqs)

    def top(self, vector: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[tuple[int, str, float]]:
        """``(seq, document_id, cosine)`` of the ``k`` best live rows (passing ``mask``), best first;
        equal scores in seq order."""
        if len(self) == 0 or k <= 0:
            return []
        scores = self.matrix @ vector.astype(np.float32, copy=False)
        keep = self.alive if mask is None else self.alive & mask
        scores = np.where(keep, scores, -np.inf)
        top = min(k, len(scores))
        idx = np.argpartition(-scores, top - 1)[:top]
        # Every row tied with the k-th score is a candidate, so ties resolve by seq, not by position.
        threshold = scores[idx].min()
        if not np.isfinite(threshold):
            idx = idx[np.isfinite(scores[idx])]
        else:
            idx = np.flatnonzero(scores >= threshold)
        order = np.lexsort((self.seqs[idx], -scores[idx]))[:top]
        return [(int(self.seqs[i]), str(self.document_ids[i]), float(scores[i])) for i in idx[order]]


class VectorTable:
    """One store's vectors of one dimension. Not thread-safe for writers: callers hold a lock around
    ``apply``; ``snapshot`` may be read from any thread at any time."""

    # Columns, ``capacity`` rows each; rows past ``_n`` are free.
    _seqs: np.ndarray
    _documents: np.ndarray
    _types: np.ndarray
    _paths: np.ndarray
    _updated: np.ndarray
    _matrix: np.ndarray
    _alive: np.ndarray

    def __init__(self, dim: int, capacity: int = 0) -> None:
        self.dim = dim
        self._n = 0
        self._dead = 0
        self._allocate(max(capacity, _MIN_CAPACITY))
        self._publish()

    @classmethod
    def adopt(cls, rows: ChunkRows, storage: np.ndarray) -> VectorTable:
        """A table of ``rows`` whose matrix is ``storage`` itself, ``rows.matrix`` being its first rows
        (a persisted table is read straight into it: no second copy of the largest column)."""
        n, capacity = len(rows), len(storage)
        if storage.dtype != np.float32 or storage.ndim != 2 or capacity < n:
            raise ValueError(f"storage {storage.dtype} {storage.shape} cannot hold {n} rows")
        if n and not np.shares_memory(rows.matrix, storage[:n]):
            raise ValueError("rows.matrix must be the first rows of storage")
        table = cls(storage.shape[1], capacity=0)
        table._allocate(capacity, matrix=storage)
        table._seqs[:n] = rows.seqs
        table._documents[:n] = rows.document_ids
        table._types[:n] = rows.source_types
        table._paths[:n] = rows.paths
        table._updated[:n] = rows.updated
        table._alive[:n] = True
        table._n = n
        table._publish()
        return table

    @property
    def live(self) -> int:
        return self._n - self._dead

    @property
    def dead(self) -> int:
        return self._dead

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def apply(self, removed: np.ndarray, added: ChunkRows) -> None:
        """Drop every row whose seq is in ``removed``, then append ``added``. A seq that is both removed
        and added ends up once, with the added version."""
        if len(removed):
            hit = np.isin(self._seqs[: self._n], removed) & self._alive[: self._n]
            if hit.any():
                # Copy on write: published snapshots keep their own view of which rows are alive.
                alive = self._alive.copy()
                alive[: self._n][hit] = False
                self._alive = alive
                self._dead += int(hit.sum())
        if self._dead >= _MIN_CAPACITY and self._dead * 4 > self._n:
            self._compact(extra=len(added))
        if len(added):
            self._append(added)
        self._publish()

    def _append(self, rows: ChunkRows) -> None:
        if rows.matrix.shape[1] != self.dim:
            raise ValueError(f"rows of dimension {rows.matrix.shape[1]} in a table of dimension {self.dim}")
        start, end = self._n, self._n + len(rows)
        if end > len(self._seqs):
            self._grow(max(end, 2 * len(self._seqs)))
        # Rows past the published length are invisible to snapshots until the next publish.
        self._seqs[start:end] = rows.seqs
        self._documents[start:end] = rows.document_ids
        self._types[start:end] = rows.source_types
        self._paths[start:end] = rows.paths
        self._updated[start:end] = rows.updated
        self._matrix[start:end] = rows.matrix
        self._alive[start:end] = True
        self._n = end

    def _compact(self, extra: int) -> None:
        keep = np.flatnonzero(self._alive[: self._n])
        old = self._columns()
        self._allocate(max(_MIN_CAPACITY, len(keep) + extra + len(keep) // 4))
        for column, previous in zip(self._columns(), old, strict=True):
            column[: len(keep)] = previous[keep]
        self._n, self._dead = len(keep), 0

    def _grow(self, capacity: int) -> None:
        old = self._columns()
        self._allocate(capacity)
        for column, previous in zip(self._columns(), old, strict=True):
            column[: self._n] = previous[: self._n]

    def _columns(self) -> tuple[np.ndarray, ...]:
        return (
            self._seqs,
            self._documents,
            self._types,
            self._paths,
            self._updated,
            self._matrix,
            self._alive,
        )

    def _allocate(self, capacity: int, matrix: np.ndarray | None = None) -> None:
        self._seqs = np.zeros(capacity, dtype=np.int64)
        self._documents = np.empty(capacity, dtype=object)
        self._types = np.empty(capacity, dtype=object)
        self._paths = np.empty(capacity, dtype=object)
        self._updated = np.zeros(capacity, dtype=np.float64)
        self._matrix = np.zeros((capacity, self.dim), dtype=np.float32) if matrix is None else matrix
        self._alive = np.zeros(capacity, dtype=bool)

    def _publish(self) -> None:
        n = self._n
        self._snapshot = Snapshot(
            self._seqs[:n],
            self._documents[:n],
            self._types[:n],
            self._paths[:n],
            self._updated[:n],
            self._matrix[:n],
            self._alive[:n],
        )
