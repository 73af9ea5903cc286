"""Glob patterns of ``lightfast.yml``, compiled once and matched without backtracking (pure).

The language is described in :mod:`lightfast.ingest.config`. A glob is parsed into path segments;
``compile_glob`` turns it into a matcher that runs in time linear in the length of the path for any
pattern:

* across segments, a set of states over the glob's segments (an NFA whose only loops are ``**``), so a
  path segment is compared with each glob segment at most once;
* inside a segment, a literal comparison when the segment has no wildcard, a prefix/suffix and
  leftmost-``str.find`` scan when it has only ``*`` and literal characters, and otherwise a bit-parallel
  NFA (shift-and, one integer of state bits advanced per character).

A regex engine that backtracks, which ``glob_to_regex`` builds for tools that want a regex, takes time
exponential in the number of stars on some paths (``a*a*a*...b`` against ``aaaa...``): never use it
to match untrusted paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

MAX_GLOB_CHARS = 512  # the longest glob accepted
MAX_GLOB_SEGMENTS = 32  # the most path segments a glob may have


@dataclass(frozen=True)
class _Class:
    """A character class: ``[abc]``, ``[a-z]``, ``[!abc]`` or ``[^abc]``."""

    negate: bool
    chars: frozenset[str]
    ranges: tuple[tuple[str, str], ...]

    def __contains__(self, char: str) -> bool:
        found = char in self.chars or any(low <= char <= high for low, high in self.ranges)
        return found != self.negate


_STAR = "*"  # a token: any run of characters inside a segment
_ANY = "?"  # a token: any one character
_Token: TypeAlias = tuple[str, str] | _Class  # ("lit", char), (_STAR, ""), (_ANY, "") or a class

_DIRS = "**"  # a whole segment ``**`` that is not the last one: zero or more non-empty segments


def _class_end(seg: str, start: int) -> int:
    """Index of the ``]`` closing the class opened at ``start``, or -1 when it is not closed."""
    j = start + 1
    if j < len(seg) and seg[j] in "!^":
        j += 1
    if j < len(seg) and seg[j] == "]":
        j += 1
    return seg.find("]", j)


def _parse_class(body: str) -> _Class:
    negate = body[0] in "!^"
    chars = body[1:] if negate else body
    singles: set[str] = set()
    ranges: list[tuple[str, str]] = []
    i = 0
    while i < len(chars):
        if i + 2 < len(chars) and chars[i + 1] == "-":
            if chars[i] > chars[i + 2]:
                raise ValueError(f"invalid character range '{chars[i : i + 3]}'")
            ranges.append((chars[i], chars[i + 2]))
            i += 3
        else:
            singles.add(chars[i])
            i += 1
    return _Class(negate, frozenset(singles), tuple(ranges))


def _parse_segment(seg: str) -> tuple[_Token, ...]:
    tokens: list[_Token] = []
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "*":
            while i + 1 < len(seg) and seg[i + 1] == "*":
                i += 1
            tokens.append((_STAR, ""))
        elif c == "?":
            tokens.append((_ANY, ""))
        elif c == "\\" and i + 1 < len(seg):
            i += 1
            tokens.append(("lit", seg[i]))
        elif c == "[" and (end := _class_end(seg, i)) != -1:
            tokens.append(_parse_class(seg[i + 1 : end]))
            i = end
        else:
            tokens.append(("lit", c))
        i += 1
    return tuple(tokens)


def _parse(pattern: str) -> list[str | tuple[_Token, ...]]:
    """The glob's segments, ``_DIRS`` for a ``**`` segment; ValueError if the glob is not valid."""
    if not pattern:
        raise ValueError("must not be empty")
    if len(pattern) > MAX_GLOB_CHARS:
        raise ValueError(f"is longer than {MAX_GLOB_CHARS} characters")
    if pattern.startswith("/"):
        raise ValueError("absolute globs are not allowed; write it relative to the repository root")
    if pattern.endswith("/"):
        pattern += "**"
    segments = pattern.split("/")
    if len(segments) > MAX_GLOB_SEGMENTS:
        raise ValueError(f"has more than {MAX_GLOB_SEGMENTS} path segments")
    if any(seg in (".", "..") for seg in segments):
        raise ValueError("'.' and '..' segments are not allowed")
    if "" in segments:
        raise ValueError("empty path segments ('//') are not allowed")
    # "**/**" means "**".
    segments = [s for i, s in enumerate(segments) if s != "**" or i == 0 or segments[i - 1] != "**"]
    return [_DIRS if seg == "**" else _parse_segment(seg) for seg in segments]


# --- one segment ------------------------------------------------------------------------------------------


class _Segment:
    """Matches one path segment (a string without ``/``) in time linear in its length."""

    def __init__(self, tokens: tuple[_Token, ...]) -> None:
        self.literal: str | None = None  # no wildcard: compare the strings
        self.pieces: tuple[str, ...] | None = None  # only stars and literals: the literal runs
        if all(isinstance(t, tuple) and t[0] == "lit" for t in tokens):
            self.literal = "".join(t[1] for t in tokens if isinstance(t, tuple))
        elif all(isinstance(t, tuple) and t[0] in ("lit", _STAR) for t in tokens):
            runs = "".join("/" if t[0] == _STAR else t[1] for t in tokens if isinstance(t, tuple))
            self.pieces = tuple(runs.split("/"))  # "/" never occurs inside a segment
        # The bit-parallel NFA: state k (bit k) means the first k tokens have matched.
        self.size = len(tokens)
        self.stars = 0  # bit k: token k is a star (it loops on any character)
        self.any = 0  # bit k: token k is ``?``
        self.literals: dict[str, int] = {}  # character -> bits of the literal tokens equal to it
        self.classes: list[tuple[int, _Class]] = []
        for k, token in enumerate(tokens, start=1):
            bit = 1 << k
            if isinstance(token, _Class):
                self.classes.append((bit, token))
            elif token[0] == _STAR:
                self.stars |= bit
            elif token[0] == _ANY:
                self.any |= bit
            else:
                self.literals[token[1]] = self.literals.get(token[1], 0) | bit

    def matches(self, name: str) -> bool:
        if self.literal is not None:
            return name == self.literal
        if self.pieces is not None:
            return _match_pieces(self.pieces, name)
        stars = self.stars
        state = 1 | (2 & stars)
        masks: dict[str, int] = {}  # character -> bits of the tokens that accept it
        for char in name:
            accepts = masks.get(char)
            if accepts is None:
                accepts = self.literals.get(char, 0) | self.any
                for bit, cls in self.classes:
                    if char in cls:
                        accepts |= bit
                masks[char] = accepts
            state = ((state << 1) & accepts) | (state & stars)
            # A star may also match nothing: entering the state before it enters the star's own state.
            # Runs of stars are merged when parsing, so one step is enough.
            state |= (state << 1) & stars
            if not state:
                return False
        return bool(state >> self.size & 1)


def _match_pieces(pieces: tuple[str, ...], name: str) -> bool:
    """``pieces`` are the literal runs between the stars: the first must start the name, the last end it,
    and the others occur in order between them; the leftmost occurrence of each is always a right choice."""
    if len(pieces) == 1:
        return name == pieces[0]
    first, last = pieces[0], pieces[-1]
    if len(name) < len(first) + len(last) or not name.startswith(first) or not name.endswith(last):
        return False
    pos, end = len(first), len(name) - len(last)
    for piece in pieces[1:-1]:
        found = name.find(piece, pos, end)
        if found < 0:
            return False
        pos = found + len(piece)
    return True


# --- a whole glob -----------------------------------------------------------------------------------------


class Glob:
    """A compiled glob: ``Glob(pattern).matches(path)``; ValueError if the pattern is not valid."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        parts: list[_Segment | None] = []  # None stands for zero or more non-empty segments
        parsed = _parse(pattern)
        for idx, part in enumerate(parsed):
            if not isinstance(part, str):
                parts.append(_Segment(part))
                continue
            parts.append(None)
            if idx == len(parsed) - 1:  # a last ``**``: one or more segments, the last non-empty
                parts.append(_Segment(((_ANY, ""), (_STAR, ""))))
        self._parts = tuple(parts)
        self._literal = "/".join(p.literal or "" for p in parts if p) if _all_literal(parts) else None

    def __repr__(self) -> str:
        return f"Glob({self.pattern!r})"

    @property
    def literal(self) -> str | None:
        """The one path this glob matches when it has no wildcard, else None."""
        return self._literal

    def matches(self, path: str) -> bool:
        """Whether the relative POSIX ``path`` matches, in time linear in its length."""
        if self._literal is not None:
            return path == self._literal
        parts = self._parts
        end = len(parts)
        states = self._closure({0})
        for name in path.split("/"):
            following: set[int] = set()
            for k in states:
                if k == end:
                    continue
                part = parts[k]
                if part is None:
                    if name:
                        following.add(k)
                elif part.matches(name):
                    following.add(k + 1)
            if not following:
                return False
            states = self._closure(following)
        return end in states

    def _closure(self, states: set[int]) -> set[int]:
        """``states`` and the states reached from them by skipping ``**`` (which may match nothing)."""
        for k in sorted(states):
            while k < len(self._parts) and self._parts[k] is None:
                k += 1
                states.add(k)
        return states


def _all_literal(parts: list[_Segment | None]) -> bool:
    return all(p is not None and p.literal is not None for p in parts)


def compile_glob(pattern: str) -> Glob:
    """Validate and compile one glob; ValueError names the problem."""
    return Glob(pattern)


@dataclass(frozen=True)
class GlobSet:
    """Several globs matched together: a path matches when one of them does."""

    literals: frozenset[str]
    others: tuple[Glob, ...]

    @classmethod
    def of(cls, patterns: Iterable[str]) -> GlobSet:
        globs = [compile_glob(p) for p in patterns]
        literals = frozenset(g.literal for g in globs if g.literal is not None)
        return cls(literals, tuple(g for g in globs if g.literal is None))

    def matches(self, path: str) -> bool:
        return path in self.literals or any(g.matches(path) for g in self.others)


@dataclass(frozen=True)
class PathFilter:
    """Include and exclude globs compiled once: ``matches`` is the test of every path of a sync."""

    include: GlobSet
    exclude: GlobSet

    @classmethod
    def of(cls, include: Iterable[str], exclude: Iterable[str] = ()) -> PathFilter:
        return cls(GlobSet.of(include), GlobSet.of(exclude))

    def matches(self, path: str) -> bool:
        return self.include.matches(path) and not self.exclude.matches(path)


# --- a regex, for tools -----------------------------------------------------------------------------------


def _token_regex(token: _Token) -> str:
    if isinstance(token, _Class):
        body = "".join(re.escape(c) for c in sorted(token.chars))
        body += "".join(f"{re.escape(low)}-{re.escape(high)}" for low, high in token.ranges)
        return f"[^/{body}]" if token.negate else f"(?!/)[{body}]"
    kind, char = token
    return {"*": "[^/]*", "?": "[^/]"}.get(kind, re.escape(char))


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """The glob as an anchored regex, for tools that need one; ValueError if it is not valid.

    A backtracking regex engine needs exponential time for some patterns: match paths with
    :func:`compile_glob` instead."""
    parsed = _parse(pattern)
    out: list[str] = []
    for idx, part in enumerate(parsed):
        last = idx == len(parsed) - 1
        if isinstance(part, str):
            out.append("(?:[^/]+/)*[^/]+" if last else "(?:[^/]+/)*")
        else:
            out.append("".join(_token_regex(t) for t in part) + ("" if last else "/"))
    return re.compile(r"\A" + "".join(out) + r"\Z")
