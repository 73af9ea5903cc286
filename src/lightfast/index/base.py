"""The search index port.

Writes need no port: chunk rows carry their text and embedding, and each database keeps its own search
structures in step inside the writing transaction (FTS5 triggers on SQLite; a generated tsvector column
and HNSW/GIN indexes on PostgreSQL). The port is the read side: nearest vectors and best lexical matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
from sqlalchemy.orm import Session

from lightfast.search.metadata_filter import MetadataCondition


@dataclass(frozen=True)
class SearchFilters:
    source_types: tuple[str, ...] = ()
    path_prefix: str | None = None
    updated_from: datetime | None = None  # documents updated at or after
    updated_to: datetime | None = None  # documents updated at or before
    metadata: tuple[MetadataCondition, ...] = ()  # every condition holds (search.metadata_filter)


@dataclass(frozen=True)
class Hit:
    seq: int  # the chunk row (vector_entries.seq)
    document_id: str
    score: float  # higher is better; comparable only within one ranking


class SearchIndex(Protocol):
    def vector_search(
        self, session: Session, store_ids: list[str], vector: np.ndarray, k: int, filters: SearchFilters
    ) -> list[Hit]: ...

    def lexical_search(
        self, session: Session, store_ids: list[str], query: str, k: int, filters: SearchFilters
    ) -> list[Hit]: ...

    def wait_lexical(self, session: Session) -> object:
        """Build the in-memory lexical index now if it is not built, and return when it answers."""


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching strings that start with ``prefix`` literally (escape character '\\')."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
