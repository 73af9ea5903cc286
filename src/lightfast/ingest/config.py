"""Load and validate a repository's ``lightfast.yml`` and match files against it.

The file looks like this::

    version: 1
    store: docs
    include:
      - "docs/**/*.md"
      - README.md
    exclude: "docs/drafts/**"

Globs are gitignore-like but deliberately simpler and explicit:

* Every glob is anchored at the repository root: ``*.md`` matches ``a.md`` but not ``docs/a.md``. Write
  ``**/*.md`` to match at any depth.
* ``*`` matches any run of characters inside one path segment (never ``/``), ``?`` one character that is
  not ``/``, ``[abc]``, ``[a-z]`` and ``[!abc]`` (or ``[^abc]``) are character classes, ``\\`` escapes the
  next character.
* ``**`` as a whole segment matches zero or more directories: ``**/*.md`` matches ``a.md`` and ``x/y/a.md``;
  as the last segment it matches everything below: ``docs/**`` matches every file under ``docs``. ``**``
  inside a segment (``a**b``) is an ordinary ``*``.
* A trailing ``/`` means "everything under this directory": ``docs/`` is ``docs/**``.
* Matching is case-sensitive and applies to file paths only (a glob naming a directory, such as ``docs``,
  does not match the files inside it).

Globs must be relative: no leading ``/``, no ``.`` or ``..`` segments, no empty segments, not empty.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lightfast.errors import ConfigError

CONFIG_FILENAMES: tuple[str, ...] = ("lightfast.yml", ".lightfast.yml", "lightfast.yaml", ".lightfast.yaml")
DEFAULT_INCLUDE: tuple[str, ...] = ("**/*.md", "**/*.mdx", "**/README", "**/README.*")
DEFAULT_STORE = "docs"

VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs", "CVS", ".jj"})
_STORE_RE = re.compile(r"[a-z0-9-]{1,20}")
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_GLOB_SHAPE = "must be a glob string or a non-empty list of glob strings"


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration file, with its 1-based position when known."""

    field: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.line is not None:
            where = f"line {self.line}, column {self.column}: " if self.column else f"line {self.line}: "
        return f"{where}{self.field}: {self.message}"


@dataclass(frozen=True)
class SourceConfig:
    """A validated source configuration."""

    store: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    version: int = 1
    path: str | None = None

    @property
    def is_default(self) -> bool:
        """True when no configuration file was found and the defaults are used."""
        return self.path is None


def _problem(field: str, message: str, node: Node | None = None) -> ConfigProblem:
    if node is None:
        return ConfigProblem(field, message)
    return ConfigProblem(field, message, node.start_mark.line + 1, node.start_mark.column + 1)


def _class_end(seg: str, start: int) -> int:
    """Index of the ``]`` closing the class opened at ``start``, or -1 when it is not closed."""
    j = start + 1
    if j < len(seg) and seg[j] in "!^":
        j += 1
    if j < len(seg) and seg[j] == "]":
        j += 1
    return seg.find("]", j)


def _class_regex(body: str) -> str:
    negate = body[0] in "!^"
    chars = body[1:] if negate else body
    out = "".join(
        "-" if c == "-" and 0 < i < len(chars) - 1 else re.escape(c) for i, c in enumerate(chars)
    )
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


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Translate a glob (see the module docstring) to an anchored regex; ValueError if it is not valid."""
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
    parts: list[str] = []
    for idx, seg in enumerate(segments):
        last = idx == len(segments) - 1
        if seg == "**":
            if idx > 0 and segments[idx - 1] == "**":
                continue  # "**/**" is "**"; collapsing avoids needless backtracking
            parts.append("(?:[^/]+/)*[^/]+" if last else "(?:[^/]+/)*")
        else:
            parts.append(_segment_regex(seg) + ("" if last else "/"))
    try:
        return re.compile(r"\A" + "".join(parts) + r"\Z")
    except re.error as exc:
        raise ValueError(f"invalid character class ({exc.msg})") from None


_compiled = functools.lru_cache(maxsize=1024)(glob_to_regex)


def path_matches(path: str, config: SourceConfig) -> bool:
    """Whether the relative POSIX ``path`` is included by ``config`` and not excluded by it."""
    return any(_compiled(g).match(path) for g in config.include) and not any(
        _compiled(g).match(path) for g in config.exclude
    )


def _globs(field: str, node: Node, problems: list[ConfigProblem], allow_empty: bool) -> list[tuple[str, Node]]:
    """The valid globs of an include/exclude value, appending a problem for each invalid one."""
    if isinstance(node, ScalarNode) and node.tag == _STR_TAG:
        items = [(field, node)]
    elif isinstance(node, SequenceNode) and (node.value or allow_empty):
        items = [(f"{field}[{i}]", item) for i, item in enumerate(node.value)]
    else:
        empty = isinstance(node, SequenceNode)
        problems.append(_problem(field, "must not be empty" if empty else _GLOB_SHAPE, node))
        return []
    found: list[tuple[str, Node]] = []
    for name, item in items:
        if not (isinstance(item, ScalarNode) and item.tag == _STR_TAG):
            problems.append(_problem(name, "must be a glob string", item))
            continue
        try:
            glob_to_regex(item.value)
        except ValueError as exc:
            problems.append(_problem(name, str(exc), item))
        else:
            found.append((item.value, item))
    return found


def _parse(text: str, filename: str) -> tuple[SourceConfig | None, list[ConfigProblem], list[tuple[str, Node]]]:
    """Parse ``text``: the config (None if invalid), every problem, and the valid include globs."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        message = f"{exc.context}: {exc.problem}" if exc.context else exc.problem or "invalid YAML"
        if exc.context and "alias" in exc.context:
            message += " (a glob starting with '*' must be quoted)"
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        return None, [ConfigProblem("(yaml)", message, line, column)], []
    except yaml.YAMLError as exc:
        return None, [ConfigProblem("(yaml)", str(exc))], []
    if root is None:
        return None, [ConfigProblem("(file)", "is empty; it must set version, store and include")], []
    if not isinstance(root, MappingNode):
        return None, [_problem("(file)", "must be a mapping of keys to values", root)], []
    problems: list[ConfigProblem] = []
    seen: dict[str, Node] = {}
    version: int | None = None
    store: str | None = None
    include: list[tuple[str, Node]] = []
    exclude: list[tuple[str, Node]] = []
    for key_node, value in root.value:
        if not isinstance(key_node, ScalarNode):
            problems.append(_problem("(file)", "keys must be plain strings", key_node))
            continue
        key = key_node.value
        if key in seen:
            first = seen[key].start_mark.line + 1
            problems.append(_problem(key, f"duplicate key (first set on line {first})", key_node))
            continue
        seen[key] = key_node
        if key == "version":
            if _is_one(value):
                version = 1
            else:
                problems.append(_problem(key, "must be 1", value))
        elif key == "store":
            if isinstance(value, ScalarNode) and value.tag == _STR_TAG and _STORE_RE.fullmatch(value.value):
                store = value.value
            else:
                problems.append(_problem(key, "must be 1-20 characters of a-z, 0-9 and '-'", value))
        elif key == "include":
            include = _globs(key, value, problems, allow_empty=False)
        elif key == "exclude":
            exclude = _globs(key, value, problems, allow_empty=True)
        else:
            problems.append(_problem(key, "unknown key", key_node))
    for key in ("version", "store", "include"):
        if key not in seen:
            problems.append(ConfigProblem(key, "is required"))
    if problems:
        return None, problems, include
    globs = tuple(g for g, _ in include), tuple(g for g, _ in exclude)
    return SourceConfig(store or DEFAULT_STORE, *globs, version=version or 1, path=filename), [], include


def _is_one(node: Node) -> bool:
    if not (isinstance(node, ScalarNode) and node.tag == _INT_TAG):
        return False
    try:
        return bool(yaml.constructor.SafeConstructor().construct_yaml_int(node) == 1)
    except ValueError:
        return False
