"""Pure text helpers for search: tokenising, stopwords and query-expression builders.

Everything here is deterministic and side-effect free. A *word token* is a maximal run of
Unicode letters/digits (``\\w`` without ``_``) taken from the lowercased text.
"""

from __future__ import annotations

import re

__all__ = [
    "STOPWORDS",
    "WORD_RE",
    "fts5_match_expression",
    "query_terms",
    "tsquery_expression",
    "word_tokens",
]

#: A word: a run of Unicode letters/digits (``\w`` minus the underscore).
WORD_RE = re.compile(r"[^\W_]+")

_TSQUERY_DROP_RE = re.compile(r"[^a-z0-9]+")
# An issue key (ENG-7, LIN-123): ASCII letters, a dash, digits, standing alone as the parser sees it.
_IDENTIFIER_RE = re.compile(r"(?<![a-z0-9_.-])([a-z]{1,32})-([0-9]{1,18})(?![a-z0-9_.-])")

_STOPWORD_TEXT = """
    a about above after again against all am an and any are as at
    be because been before being below between both but by
    can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself
    no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very
    was we were what when where which while who whom why will with would
    you your yours yourself yourselves s t
"""

#: A compact English stopword list (lowercase).
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())


def word_tokens(text: str) -> list[str]:
    """Lowercase word tokens of ``text`` in order, duplicates kept."""
    return WORD_RE.findall(text.lower())


def query_terms(query: str) -> list[str]:
    """Distinct word tokens of ``query`` in first-seen order, stopwords removed.

    If removing stopwords leaves nothing (e.g. the query "the who"), the distinct tokens are
    returned without stopword removal.
    """
    distinct = list(dict.fromkeys(word_tokens(query)))
    kept = [term for term in distinct if term not in STOPWORDS]
    return kept or distinct


def fts5_match_expression(query: str) -> str | None:
    """An SQLite FTS5 ``MATCH`` string ORing the query terms, e.g. ``'"foo" OR "bar"'``.

    Each term is a double-quoted FTS5 string (internal quotes doubled), so the expression can
    never be an FTS5 syntax error. Returns ``None`` when the query has no terms.
    """
    terms = query_terms(query)
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def tsquery_expression(query: str) -> str | None:
    """A PostgreSQL ``to_tsquery`` input ORing the query terms, e.g. ``"foo | bar"``.

    Terms are restricted to ``[a-z0-9]`` (every other character is dropped, empty terms and
    duplicates are dropped) so the result can never be a tsquery syntax error. Returns ``None``
    when nothing is left.
    """
    cleaned = (_TSQUERY_DROP_RE.sub("", term) for term in query_terms(query))
    terms = list(dict.fromkeys(term for term in cleaned if term))
    # PostgreSQL's parser reads an issue key such as ENG-7 as the word "eng" and the signed integer
    # "-7", so the terms above ("eng", "7") never meet the "-7" in the index: an identifier also becomes
    # the phrase of the lexemes the parser made of it, which only that key matches.
    phrases = (f"({word} <-> -{number})" for word, number in _IDENTIFIER_RE.findall(query.lower()))
    terms.extend(dict.fromkeys(phrases))
    if not terms:
        return None
    return " | ".join(terms)
