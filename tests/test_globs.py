"""Glob matching (``ingest.globs``): the same language as the regex translation it replaced, in time
linear in the path whatever the pattern, and compiled once per configuration."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightfast.ingest import globs
from lightfast.ingest.config import SourceConfig, path_matches
from lightfast.ingest.globs import (
    MAX_GLOB_CHARS,
    MAX_GLOB_SEGMENTS,
    GlobSet,
    PathFilter,
    compile_glob,
    glob_to_regex,
)

# --- the reference: the regex translation lightfast used before (commit d370d76), kept verbatim ---------


def _class_end(seg: str, start: int) -> int:
    j = start + 1
    if j < len(seg) and seg[j] in "!^":
        j += 1
    if j < len(seg) and seg[j] == "]":
        j += 1
    return seg.find("]", j)


def _class_regex(body: str) -> str:
    negate = body[0] in "!^"
    chars = body[1:] if negate else body
    out, i = "", 0
    while i < len(chars):
        if i + 2 < len(chars) and chars[i + 1] == "-":
            if chars[i] > chars[i + 2]:
                raise ValueError(f"invalid character range '{chars[i : i + 3]}'")
            out, i = out + f"{re.escape(chars[i])}-{re.escape(chars[i + 2])}", i + 3
        else:
            out, i = out + re.escape(chars[i]), i + 1
    return f"[^/{out}]" if negate else f"(?!/)[{out}]"


def _segment_regex(seg: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "*":
            while i + 1 < len(seg) and seg[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < len(seg):
            i += 1
            out.append(re.escape(seg[i]))
        elif c == "[" and (end := _class_end(seg, i)) != -1:
            out.append(_class_regex(seg[i + 1 : end]))
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def reference_regex(pattern: str) -> re.Pattern[str]:
    if not pattern:
        raise ValueError("must not be empty")
    if pattern.startswith("/"):
        raise ValueError("absolute globs are not allowed; write it relative to the repository root")
    if pattern.endswith("/"):
        pattern += "**"
    segments = pattern.split("/")
    if any(seg in (".", "..") for seg in segments):
        raise ValueError("'.' and '..' segments are not allowed")
    if "" in segments:
        raise ValueError("empty path segments ('//') are not allowed")
    segments = [s for i, s in enumerate(segments) if s != "**" or i == 0 or segments[i - 1] != "**"]
    parts: list[str] = []
    for idx, seg in enumerate(segments):
        last = idx == len(segments) - 1
        if seg == "**":
            parts.append("(?:[^/]+/)*[^/]+" if last else "(?:[^/]+/)*")
        else:
            parts.append(_segment_regex(seg) + ("" if last else "/"))
    return re.compile(r"\A" + "".join(parts) + r"\Z")


# --- agreement with the reference ---------------------------------------------------------------------

# Small alphabets so that random patterns and paths meet often; paths may have empty segments and
# leading or trailing slashes, which the reference handles too.
PATTERN_CHARS = st.sampled_from("ab*?[]!^-/.\\")
PATH_CHARS = st.sampled_from("ab/.-]![*?\\")
SEGMENTS = st.sampled_from(
    ["**", "*", "a", "b", "a*", "*b", "?", "[ab]", "[!a]", "a?b", "*a*", "[a-b]*", "\\*", "[]a]", "a**b"]
)


def assert_agrees(pattern: str, paths: list[str]) -> None:
    try:
        expected = reference_regex(pattern)
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            compile_glob(pattern)
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            glob_to_regex(pattern)
        return
    glob, regex = compile_glob(pattern), glob_to_regex(pattern)
    for path in paths:
        assert glob.matches(path) is (expected.match(path) is not None), (pattern, path)
        assert (regex.match(path) is not None) is (expected.match(path) is not None), (pattern, path)


@settings(max_examples=1500, deadline=None)
@given(st.text(PATTERN_CHARS, max_size=10), st.lists(st.text(PATH_CHARS, max_size=10), max_size=8))
def test_matcher_agrees_with_the_regex_translation(pattern: str, paths: list[str]) -> None:
    assert_agrees(pattern, paths)


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(SEGMENTS, min_size=1, max_size=6).map("/".join),
    st.booleans(),
    st.lists(st.lists(st.sampled_from(["a", "b", "ab", "ba", "aab", "", "*"]), max_size=7), max_size=8),
)
def test_matcher_agrees_on_patterns_of_many_segments(
    pattern: str, slash: bool, paths: list[list[str]]
) -> None:
    assert_agrees(pattern + ("/" if slash else ""), ["/".join(p) for p in paths])


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("**/*.md", "a.md", True),
        ("**/*.md", "x/y/a.mdx", False),
        ("docs/**", "docs", False),
        ("docs/", "docs/a/b", True),
        ("a/**/**", "a", False),
        ("docs/**/x.md", "docs/x.md", True),
        ("[!a]", "/", False),
        ("[]]", "]", True),
        ("[+--]", ",", True),
        ("\\*.md", "a.md", False),
        ("a**b", "a/b", False),
        ("*a*a", "a", False),
        ("*a*a", "xaya", True),
        ("a*b*c", "abbbbc", True),
        ("a*b?c*[de]", "aXbYcZZe", True),
        ("a*b?c*[de]", "aXbYcZZf", False),
        ("*", "", True),  # as the regex did: an empty path has one empty segment
        ("a/*/b", "a//b", True),
        ("**/b", "a//b", False),  # ``**`` spans non-empty directories only
    ],
)
def test_examples(pattern: str, path: str, expected: bool) -> None:
    assert compile_glob(pattern).matches(path) is expected
    assert (reference_regex(pattern).match(path) is not None) is expected


# --- linear time ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        # The reported case: ~30 s with the regex for 40 a's (measured), and it doubles with every 'a*'.
        ("a*" * 12 + "b.md", "a" * 40 + ".md", False),
        ("a*" * 12 + "b.md", "a" * 2_000 + ".md", False),
        ("a*" * 200 + "b.md", "a" * 2_000 + "b.md", True),
        ("a*" * 200 + "b.md", "a" * 2_000 + ".md", False),
        # Classes and ``?`` take the bit-parallel path.
        ("[a]*" * 100 + "b", "a" * 2_000, False),
        ("?*" * 100 + "b", "a" * 2_000, False),
        ("?*" * 100 + "b", "a" * 2_000 + "b", True),
        # Many ``**``: the regex tries every way to share the directories among them.
        ("**/a*/" * 15 + "b", "/".join(["a"] * 1_000), False),
        ("**/a*/" * 15 + "b", "/".join(["a"] * 1_000) + "/b", True),
    ],
)
def test_pathological_patterns_finish(pattern: str, path: str, expected: bool) -> None:
    """With the backtracking regex these would not finish in any reasonable time (the test would hang)."""
    assert compile_glob(pattern).matches(path) is expected


def test_each_path_segment_is_compared_with_each_glob_segment_at_most_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0
    original = globs._Segment.matches

    def counting(self: globs._Segment, name: str) -> bool:
        nonlocal calls
        calls += 1
        return original(self, name)

    monkeypatch.setattr(globs._Segment, "matches", counting)
    glob = compile_glob("**/a*/**/a*/**/a*/**/b")
    path = "/".join(["a"] * 300)
    assert not glob.matches(path)
    assert calls <= 300 * 4  # path segments x glob segments that are not ``**``


def test_work_inside_a_segment_is_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bit-parallel matcher computes the transitions of a character once per character kind."""
    checks = 0
    original = globs._Class.__contains__

    def counting(self: globs._Class, char: str) -> bool:
        nonlocal checks
        checks += 1
        return original(self, char)

    monkeypatch.setattr(globs._Class, "__contains__", counting)
    assert not compile_glob("[ab]*" * 50 + "c").matches("ab" * 5_000)
    assert checks <= 2 * 50  # two distinct characters, 50 classes


# --- limits -----------------------------------------------------------------------------------------------


def test_long_globs_and_globs_of_many_segments_are_refused() -> None:
    compile_glob("a" * MAX_GLOB_CHARS)
    with pytest.raises(ValueError, match=f"longer than {MAX_GLOB_CHARS} characters"):
        compile_glob("a" * (MAX_GLOB_CHARS + 1))
    compile_glob("/".join(["a"] * MAX_GLOB_SEGMENTS))
    with pytest.raises(ValueError, match=f"more than {MAX_GLOB_SEGMENTS} path segments"):
        compile_glob("/".join(["a"] * (MAX_GLOB_SEGMENTS + 1)))


# --- compiled once -----------------------------------------------------------------------------------------


def test_a_config_compiles_its_globs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    original = globs.compile_glob

    def counting(pattern: str) -> globs.Glob:
        compiled.append(pattern)
        return original(pattern)

    monkeypatch.setattr(globs, "compile_glob", counting)
    include = tuple(f"dir{i}/**/*.md" for i in range(2_000))
    config = SourceConfig("docs", include, ("dir1/**",))
    paths = [f"dir{i % 3}/x/{i}.md" for i in range(3_000)]
    assert sum(path_matches(p, config) for p in paths) == 2_000
    assert len(compiled) == len(include) + 1
    assert config.path_filter is config.path_filter


def test_literal_globs_are_a_set_lookup() -> None:
    globset = GlobSet.of(["README.md", "docs/a.md", "*.txt"])
    assert globset.literals == frozenset({"README.md", "docs/a.md"})
    assert [g.pattern for g in globset.others] == ["*.txt"]
    assert globset.matches("docs/a.md")
    assert globset.matches("x.txt")
    assert not globset.matches("docs/b.md")


def test_path_filter_includes_and_excludes() -> None:
    only = PathFilter.of(["docs/**"], ["docs/drafts/**", "docs/secret.md"])
    assert only.matches("docs/a/b.md")
    assert not only.matches("docs/drafts/x.md")
    assert not only.matches("docs/secret.md")
    assert not only.matches("other/a.md")
    assert not PathFilter.of([]).matches("a")
