"""Change sets of incremental syncs (pure): which paths to (re)index and which to remove."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

UPSERT = "upsert"
REMOVE = "remove"
Changes = dict[str, str]  # path -> "upsert" | "remove"


def make_changes(upserts: Iterable[str] = (), removals: Iterable[str] = ()) -> Changes:
    """A change set; a path both upserted and removed in one event counts as removed."""
    changes: Changes = {path: UPSERT for path in upserts}
    changes.update({path: REMOVE for path in removals})
    return changes


def merge_changes(*change_sets: Mapping[str, str]) -> Changes:
    """Merge change sets given oldest first: for each path the newest change wins, nothing is dropped."""
    merged: Changes = {}
    for changes in change_sets:
        for path, operation in changes.items():
            if operation not in (UPSERT, REMOVE):
                raise ValueError(f"unknown change {operation!r} for {path!r}")
            merged.pop(path, None)  # keep insertion order = order of the latest change
            merged[path] = operation
    return merged


def split_changes(changes: Mapping[str, str]) -> tuple[list[str], list[str]]:
    upserts = [p for p, op in changes.items() if op == UPSERT]
    removals = [p for p, op in changes.items() if op == REMOVE]
    return upserts, removals
