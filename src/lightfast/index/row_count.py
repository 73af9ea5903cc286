"""The row count a persisted vector table (``vector_file``) is checked against once caught up: the
store's chunk rows of the table's dimension, the sum of their seqs, and the change log's newest id, all in
one statement (one statement is one read snapshot: outside a transaction, two SELECTs may see two
states), so the count is known to be that of the rows at that log id."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, Row, text
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_COUNT_ROWS = (
    "SELECT count(*) AS rows, coalesce(sum(seq), 0) AS total, "
    "(SELECT seq FROM sqlite_sequence WHERE name = 'vector_changes') AS last "
    "FROM vector_entries WHERE store_id = :store AND length(embedding) = :width"
)


def count_rows(session: Session, store_id: str, dim: int) -> Row[Any]:
    """``rows``, ``total`` (sum of seqs) and ``last`` (the log's newest id, None if it never had one).
    ``length(embedding)`` reads every row of the store from the table (1.5 s at 1M chunks)."""
    return session.execute(text(_COUNT_ROWS), {"store": store_id, "width": 4 * dim}).one()


def count_in_background(session: Session, store_id: str, dim: int) -> Callable[[], Row[Any] | None]:
    """Start ``count_rows`` on a connection of its own (the caller reads the vector file meanwhile: both
    wait on I/O, and SQLite and zlib let go of the GIL); the returned call waits for the row. None when
    the count failed or the database is one only the caller's connection can see (in memory): the caller
    then counts on its own connection."""
    engine = session.get_bind()
    database = engine.url.database if isinstance(engine, Engine) else None
    if not isinstance(engine, Engine) or database in (None, "", ":memory:"):
        return lambda: None
    found: list[Row[Any]] = []

    def count() -> None:
        try:
            with engine.connect() as connection:
                params = {"store": store_id, "width": 4 * dim}
                found.append(connection.execute(text(_COUNT_ROWS), params).one())
        except Exception:  # the caller counts on its own connection instead
            log.debug("counting store %s's rows in the background failed", store_id, exc_info=True)

    thread = threading.Thread(target=count, name=f"vector-file-check {store_id}", daemon=True)
    thread.start()

    def wait() -> Row[Any] | None:
        thread.join()
        return found[0] if found else None

    return wait
