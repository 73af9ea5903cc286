"""What to do when a unique constraint refuses a row another transaction created first.

Reads cannot see a row a concurrent transaction has not committed yet, so two callers may both find no
workspace named "docs" and both insert one; the database keeps exactly one. The loser's transaction is
rolled back whole. Then:

* a get-or-create runs its unit of work again, and this time finds the winner's row;
* a create that must be new reports the clash as a Conflict (409 at the HTTP edge), not an internal error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from lightfast.errors import Conflict

T = TypeVar("T")


def retry_on_conflict(work: Callable[[], T], attempts: int = 3) -> T:
    """Run a get-or-create transaction again when a concurrent one inserted the same row first."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except IntegrityError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def conflict_on_duplicate(message: str) -> Iterator[None]:
    """Around a transaction that creates or renames a uniquely named row."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(message) from exc
