"""Search-result snippets: pick the best window of a text and mark the query terms in it.

Pure and linear-ish in the length of the text (one regex pass plus a two-pointer sweep over
the matched words).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from lightfast.search.text import WORD_RE

__all__ = ["ELLIPSIS", "make_snippet"]

#: Added at a snippet edge when the text continues beyond it; counts as one visible character.
ELLIPSIS = "…"

_MARK_OPEN = "<mark>"
_MARK_CLOSE = "</mark>"


@dataclass(frozen=True, slots=True)
class _Match:
    start: int
    end: int
    terms: tuple[int, ...]  # indices of the (normalised) terms this word starts with


def _normalise_terms(terms: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(t.lower() for t in terms if t))


def _find_matches(text: str, terms: list[str]) -> list[_Match]:
    """Every word of ``text`` that starts with one of ``terms`` (case-insensitive)."""
    if not terms:
        return []
    prefixes = tuple(terms)
    matches: list[_Match] = []
    for m in WORD_RE.finditer(text):
        word = m.group().lower()
        if word.startswith(prefixes):
            hit = tuple(i for i, term in enumerate(terms) if word.startswith(term))
            matches.append(_Match(m.start(), m.end(), hit))
    return matches


def _best_run(matches: list[_Match], n_terms: int, budget: int) -> tuple[int, int]:
    """Indices ``(i, j)`` of the run of matched words fitting in ``budget`` characters that has
    the most distinct terms, then the most words; ties go to the earliest run. A single word
    longer than the budget still forms a run on its own."""
    counts = [0] * n_terms
    distinct = 0
    best: tuple[int, int] = (-1, -1)
    best_at = (0, 0)
    j = -1  # the current run is matches[i..j]
    for i, first in enumerate(matches):
        while j + 1 < len(matches) and matches[j + 1].end - first.start <= budget:
            j += 1
            for t in matches[j].terms:
                counts[t] += 1
                distinct += counts[t] == 1
        if j < i:  # word i alone is longer than the budget
            j = i
            for t in first.terms:
                counts[t] += 1
                distinct += counts[t] == 1
        score = (distinct, j - i + 1)
        if score > best:
            best, best_at = score, (i, j)
        for t in first.terms:
            counts[t] -= 1
            distinct -= counts[t] == 0
    return best_at


def _snap_start(text: str, start: int, limit: int | None, slack: int) -> int:
    """Move ``start`` forward (not past ``limit``, a word boundary) to just after a space."""
    if start == 0 or text[start - 1] == " ":
        return start
    stop = len(text) if limit is None else limit
    space = text.find(" ", start, stop)
    if space != -1 and space + 1 - start <= slack:
        return space + 1
    if limit is not None and limit - start <= slack:
        return limit
    return start


def _snap_end(text: str, end: int, limit: int | None, slack: int) -> int:
    """Move ``end`` backward (not before ``limit``, a word boundary) to just before a space."""
    if end == len(text):
        return end
    space = text.rfind(" ", 0 if limit is None else limit, end + 1)
    if space > 0 and end - space <= slack:
        return space
    if limit is not None and end - limit <= slack:
        return limit
    return end


def _render(text: str, start: int, end: int, matches: list[_Match]) -> str:
    parts: list[str] = [ELLIPSIS] if start > 0 else []
    pos = start
    for m in matches:
        if m.start < start or m.end > end:
            continue
        parts.append(html.escape(text[pos : m.start], quote=True))
        parts.append(_MARK_OPEN + html.escape(text[m.start : m.end], quote=True) + _MARK_CLOSE)
        pos = m.end
    parts.append(html.escape(text[pos:end], quote=True))
    if end < len(text):
        parts.append(ELLIPSIS)
    return "".join(parts)


def make_snippet(text: str, terms: Sequence[str], max_chars: int = 300) -> str:
    """An HTML snippet of ``text`` around the best match of ``terms``.

    * Whitespace runs are collapsed to one space (and the text is stripped) first.
    * A word matches when it starts with a term, case-insensitively (term ``"index"`` marks
      ``"Indexing"``); the whole word is wrapped in ``<mark>``...``</mark>``.
    * The window holds the most distinct terms, then the most matched words; ties go to the
      earliest. Edges prefer word boundaries; ``"…"`` marks a cut edge.
    * The visible length (marks removed, entities unescaped, ellipses included) is at most
      ``max_chars``. Everything outside the mark tags is HTML-escaped.
    * Without any match, the beginning of the text is returned.

    Raises ``ValueError`` if ``max_chars < 1``.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    text = " ".join(text.split())
    n = len(text)
    if n == 0:
        return ""
    norm_terms = _normalise_terms(terms)
    matches = _find_matches(text, norm_terms)
    if n <= max_chars:
        return _render(text, 0, n, matches)
    if max_chars < 3:  # no room for a window between two ellipses
        return html.escape(text[: max_chars - 1], quote=True) + ELLIPSIS

    budget = max_chars - 2  # room for the text when both edges are cut
    slack = max(8, budget // 4)  # how far an edge may move to reach a word boundary
    if not matches:
        end = _snap_end(text, max_chars - 1, None, slack)
        return _render(text, 0, end, [])

    i, j = _best_run(matches, len(norm_terms), budget)
    core_start = matches[i].start
    core_end = min(matches[j].end, core_start + budget)
    extra = budget - (core_end - core_start)
    start = max(0, core_start - extra // 2)
    end = min(n, start + budget)
    if end == n:
        start = n - budget
    # An uncut edge frees the room reserved for its ellipsis.
    if start == 0:
        end = max_chars - 1
    elif end == n:
        start = n - (max_chars - 1)
    start = _snap_start(text, start, core_start, slack)
    end = _snap_end(text, end, core_end, slack)
    return _render(text, start, end, matches)
