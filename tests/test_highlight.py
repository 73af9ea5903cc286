"""Tests for lightfast.search.text and lightfast.search.highlight."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightfast.search.highlight import ELLIPSIS, make_snippet
from lightfast.search.text import (
    STOPWORDS,
    fts5_match_expression,
    query_terms,
    tsquery_expression,
    word_tokens,
)

MARK_RE = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)
WORD_RE = re.compile(r"[^\W_]+")


def visible(snippet: str) -> str:
    """What a reader sees: mark tags removed, entities unescaped."""
    return html.unescape(snippet.replace("<mark>", "").replace("</mark>", ""))


def collapse(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------------------- text.py


def test_stopwords_compact_english_list() -> None:
    assert 100 <= len(STOPWORDS) <= 150
    assert {"the", "a", "of", "and", "is", "in", "to", "for", "with"} <= STOPWORDS
    assert all(w == w.lower() and WORD_RE.fullmatch(w) for w in STOPWORDS)
    assert "index" not in STOPWORDS


def test_word_tokens() -> None:
    assert word_tokens("Hello, World! hello_world x2 ") == ["hello", "world", "hello", "world", "x2"]
    assert word_tokens("Crème brûlée — ÉTÉ 2024") == ["crème", "brûlée", "été", "2024"]
    assert word_tokens("日本語 テキスト") == ["日本語", "テキスト"]
    assert word_tokens("") == []
    assert word_tokens("__ -- !!") == []


@given(st.text())
def test_word_tokens_are_lowercase_words(text: str) -> None:
    tokens = word_tokens(text)
    assert all(WORD_RE.fullmatch(t) for t in tokens)
    assert tokens == word_tokens(text.lower())


def test_query_terms() -> None:
    assert query_terms("How to build the index for the Index") == ["build", "index"]
    assert query_terms("the who") == ["the", "who"]  # only stopwords: keep them
    assert query_terms("The THE the") == ["the"]
    assert query_terms("  ?! ") == []


def test_fts5_match_expression() -> None:
    assert fts5_match_expression("foo and bar, FOO") == '"foo" OR "bar"'
    assert fts5_match_expression("single") == '"single"'
    assert fts5_match_expression('"quoted" OR NOT x*') == '"quoted" OR "x"'
    assert fts5_match_expression("the") == '"the"'
    assert fts5_match_expression("--- ***") is None
    assert fts5_match_expression("") is None


@given(st.text())
def test_fts5_match_expression_is_well_formed(query: str) -> None:
    expr = fts5_match_expression(query)
    terms = query_terms(query)
    if not terms:
        assert expr is None
        return
    assert expr is not None
    parts = expr.split(" OR ")
    assert len(parts) == len(terms)
    for part, term in zip(parts, terms, strict=True):
        assert part[0] == part[-1] == '"'
        assert part[1:-1].replace('""', '"') == term


def test_tsquery_expression() -> None:
    assert tsquery_expression("foo and bar") == "foo | bar"
    assert tsquery_expression("Café & naïve!") == "caf | nave"
    assert tsquery_expression("a:* & !b | (c)") == "b | c"
    assert tsquery_expression("日本語") is None
    assert tsquery_expression("") is None
    assert tsquery_expression("cafe café") == "cafe | caf"
    assert tsquery_expression("ab ab") == "ab"


@given(st.text())
def test_tsquery_expression_is_safe(query: str) -> None:
    expr = tsquery_expression(query)
    if expr is None:
        return
    terms = expr.split(" | ")
    assert terms
    assert all(re.fullmatch(r"[a-z0-9]+", t) for t in terms)
    assert len(set(terms)) == len(terms)


# ---------------------------------------------------------------------------- highlight.py


def test_snippet_short_text_marks_all_matches() -> None:
    assert make_snippet("The quick brown fox", ["quick"]) == "The <mark>quick</mark> brown fox"
    assert make_snippet("The quick brown fox", ["QUICK", "fox"]) == (
        "The <mark>quick</mark> brown <mark>fox</mark>"
    )


def test_snippet_prefix_matching_marks_whole_word() -> None:
    assert make_snippet("Indexes and Indexing, not reindex", ["index"]) == (
        "<mark>Indexes</mark> and <mark>Indexing</mark>, not reindex"
    )


def test_snippet_collapses_whitespace() -> None:
    assert make_snippet("  a\n\n b\t\tc  ", ["b"]) == "a <mark>b</mark> c"
    assert make_snippet(" \n\t ", ["b"]) == ""
    assert make_snippet("", ["b"]) == ""


def test_snippet_escapes_html() -> None:
    assert make_snippet("a <b> & \"c\" 'd'", ["b"]) == (
        "a &lt;<mark>b</mark>&gt; &amp; &quot;c&quot; &#x27;d&#x27;"
    )
    assert make_snippet("<script>alert(1)</script>", ["alert"]) == (
        "&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt;"
    )
    assert make_snippet("<mark>x</mark>", ["y"]) == "&lt;mark&gt;x&lt;/mark&gt;"


GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma "
    "tau upsilon phi chi psi omega"
)


def test_snippet_window_around_match() -> None:
    assert make_snippet(GREEK, ["sigma"], 40) == "…omicron pi rho <mark>sigma</mark> tau upsilon phi…"
    assert make_snippet(GREEK, ["alpha"], 40) == "<mark>alpha</mark> beta gamma delta epsilon zeta eta…"
    assert make_snippet(GREEK, ["omega"], 40) == "…rho sigma tau upsilon phi chi psi <mark>omega</mark>"


def test_snippet_without_match_returns_beginning() -> None:
    assert make_snippet(GREEK, [], 40) == "alpha beta gamma delta epsilon zeta eta…"
    assert make_snippet(GREEK, ["nothing"], 40) == "alpha beta gamma delta epsilon zeta eta…"
    assert make_snippet("x" * 100, [], 10) == "xxxxxxxxx…"


def test_snippet_prefers_most_distinct_terms() -> None:
    filler = " ".join(["filler"] * 60)
    text = f"apple apple apple {filler} apple banana {filler}"
    out = make_snippet(text, ["apple", "banana"], 60)
    assert "<mark>banana</mark>" in out
    assert out.startswith(ELLIPSIS)
    assert len(visible(out)) <= 60


def test_snippet_prefers_more_occurrences_then_earliest() -> None:
    filler = " ".join(["filler"] * 60)
    text = f"apple {filler} apple apple {filler}"
    out = make_snippet(text, ["apple"], 40)
    assert out.count("<mark>apple</mark>") == 2
    # a tie (one occurrence each): the earliest wins
    assert make_snippet(f"apple {filler} apple", ["apple"], 40).startswith("<mark>apple</mark>")


def test_snippet_tiny_limits() -> None:
    assert make_snippet("hello world", ["world"], 1) == "…"
    assert make_snippet("hello world", ["world"], 2) == "h…"
    assert make_snippet("hi", ["hi"], 2) == "<mark>hi</mark>"
    with pytest.raises(ValueError, match="max_chars"):
        make_snippet("hello", ["x"], 0)


def test_snippet_of_a_100kb_text() -> None:
    # Speed is measured in bench/, not asserted here; this checks long inputs stay within the limit.
    unit = "lorem ipsum dolor sit amet <index> consectetur & adipiscing elit\n"
    text = unit * (100_000 // len(unit) + 1)
    for terms in (["index", "elit", "lor"], ["zzz"], ["i", "d", "a", "e", "c", "s", "l"]):
        out = make_snippet(text, terms)
        assert len(visible(out)) <= 300


# Text with HTML metacharacters, whitespace, unicode and words that share prefixes.
snippet_text = st.lists(
    st.one_of(
        st.sampled_from(list("<>&\"' \n\t_-…")),
        st.sampled_from(["index", "Indexing", "foo", "FOOBAR", "bar", "ß", "É", "日本", "<mark>", "&amp;"]),
        st.characters(codec="utf-8"),
    ),
    max_size=150,
).map("".join)
snippet_terms = st.lists(
    st.one_of(st.sampled_from(["index", "foo", "bar", "ind", "é", "日", "mark", "amp"]), st.text(max_size=4)),
    max_size=5,
)
snippet_limit = st.integers(min_value=1, max_value=200)


def _is_substring_modulo_ellipses(shown: str, text: str) -> bool:
    candidates = [shown]
    if shown.startswith(ELLIPSIS):
        candidates.append(shown[1:])
    if shown.endswith(ELLIPSIS):
        candidates += [c[:-1] for c in list(candidates) if c]
    return any(c in text for c in candidates)


@settings(max_examples=300)
@given(snippet_text, snippet_terms, snippet_limit)
def test_snippet_properties(text: str, terms: list[str], max_chars: int) -> None:
    out = make_snippet(text, terms, max_chars)
    shown = visible(out)
    collapsed = collapse(text)

    # visible length within the limit, ellipses included
    assert len(shown) <= max_chars
    # nothing but the mark tags is raw markup
    bare = out.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in bare
    assert ">" not in bare
    assert '"' not in bare
    assert html.escape(html.unescape(bare), quote=True) == bare
    # marks are balanced and not nested
    assert out.count("<mark>") == out.count("</mark>") == len(MARK_RE.findall(out))
    # the visible text comes from the collapsed text
    assert _is_substring_modulo_ellipses(shown, collapsed)
    if not collapsed:
        assert out == ""
    elif len(collapsed) <= max_chars:
        assert shown == collapsed
    # every mark is one whole word starting with a term
    lowered_terms = tuple(t.lower() for t in terms if t)
    for inner in MARK_RE.findall(out):
        word = html.unescape(inner)
        assert WORD_RE.fullmatch(word)
        assert word.lower().startswith(lowered_terms)


@given(
    st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "index", "x"]), min_size=1, max_size=200),
    st.sampled_from(["alpha", "index", "gam"]),
    st.integers(min_value=20, max_value=120),
)
def test_snippet_marks_a_match_when_one_fits(words: list[str], term: str, max_chars: int) -> None:
    text = " ".join(words)
    out = make_snippet(text, [term], max_chars)
    assert len(visible(out)) <= max_chars
    if any(w.startswith(term) for w in words):
        assert "<mark>" in out
    else:
        assert "<mark>" not in out
        assert visible(out).rstrip(ELLIPSIS) == text[: len(visible(out).rstrip(ELLIPSIS))]
