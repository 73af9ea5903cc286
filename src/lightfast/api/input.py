"""Strings from outside that no database can store are refused at the edge, naming where they were.

SQLite cannot encode a lone surrogate (``\\ud800``, which JSON's ``\\u`` escapes can spell) and PostgreSQL
cannot hold a NUL in text or jsonb; either would otherwise surface deep inside a query as a 500. Every
path, query string and JSON body of the API passes :func:`first_unstorable` before a route sees it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from lightfast.errors import InvalidInput

_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_DEPTH = 64  # deeper JSON is refused as well: no request of the API nests anywhere near this


def unstorable_reason(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    return None


def first_unstorable(value: Any, where: str = "") -> tuple[str, str] | None:
    """The location (``ids[0]``, ``filters.stores[2]``; ``body`` for the whole value) and the reason of
    the first string in a parsed JSON value (keys included) that cannot be stored, or None. Iterative,
    so a deeply nested body cannot exhaust the stack."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, location, depth = stack.pop()
        if depth > MAX_DEPTH:
            return "body", f"nests deeper than {MAX_DEPTH} levels"
        if isinstance(item, str):
            reason = unstorable_reason(item)
            if reason:
                return location or "body", reason
        elif isinstance(item, dict):
            for key, child in item.items():
                reason = unstorable_reason(key)
                if reason:
                    return location or "body", f"has a key that {reason}"
                stack.append((child, f"{location}.{key}" if location else key, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{location}[{i}]", depth + 1) for i, child in enumerate(item))
    return None


def clean_text(value: Any) -> Any:
    """``value`` with NUL characters dropped and lone surrogates replaced (U+FFFD) in every string
    and key: for content a trusted sender forwards (a commit message in a webhook), which is kept
    rather than refused."""
    if isinstance(value, str):
        if unstorable_reason(value) is None:
            return value
        return _SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    if isinstance(value, dict):
        return {clean_text(key): clean_text(child) for key, child in value.items()}
    if isinstance(value, list):
        return [clean_text(child) for child in value]
    return value


def refuse_unstorable(request: Request, body: bytes) -> None:
    """Raise InvalidInput naming the first path segment, query parameter or JSON body field that holds
    a string no database can store. A body that is not JSON is left to the route's own validation."""
    reason = unstorable_reason(request.url.path)
    if reason:
        raise InvalidInput(reason, field="path")
    for name, value in request.query_params.multi_items():
        reason = unstorable_reason(name) or unstorable_reason(value)
        if reason:
            raise InvalidInput(reason, field=name if unstorable_reason(name) is None else "query")
    if not body:
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON (or not UTF-8): the route's validation answers 400 with its own message
    except RecursionError as exc:  # the route's own parser would fail the same way, as a 500
        raise InvalidInput(f"nests deeper than {MAX_DEPTH} levels", field="body") from exc
    problem = first_unstorable(parsed)
    if problem:
        raise InvalidInput(problem[1], field=problem[0])
