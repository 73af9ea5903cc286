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
Matching takes time linear in the length of the path whatever the glob (``lightfast.ingest.globs``).

Limits, each reported as a problem naming the field: at most ``MAX_PATTERNS`` globs in ``include`` and
``exclude`` together, each at most ``globs.MAX_GLOB_CHARS`` characters and ``globs.MAX_GLOB_SEGMENTS``
segments.
The file itself may be at most ``CONFIG_MAX_CHARS`` characters, nest at most ``CONFIG_MAX_DEPTH``
levels, and may not use YAML aliases (``*name``).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml  # type: ignore[import-untyped, unused-ignore]
from yaml.constructor import SafeConstructor  # type: ignore[import-untyped, unused-ignore]
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode  # type: ignore[import-untyped, unused-ignore]

from lightfast.errors import ConfigError
from lightfast.ingest import safe_yaml
from lightfast.ingest.globs import Glob, PathFilter, compile_glob
from lightfast.ingest.globs import glob_to_regex as glob_to_regex  # re-exported for tools

CONFIG_FILENAMES: tuple[str, ...] = ("lightfast.yml", ".lightfast.yml", "lightfast.yaml", ".lightfast.yaml")
DEFAULT_INCLUDE: tuple[str, ...] = ("**/*.md", "**/*.mdx", "**/README", "**/README.*")
DEFAULT_STORE = "docs"
# Optional chunking keys of lightfast.yml and the values they may take (tokens).
CHUNKING_BOUNDS: dict[str, tuple[int, int]] = {"chunk_size": (16, 8192), "chunk_overlap": (0, 4096)}

VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs", "CVS", ".jj"})
STORE_NAME_PATTERN = re.compile(r"[a-z0-9-]{1,20}")
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_GLOB_SHAPE = "must be a glob string or a {}list of glob strings"
MAX_PATTERNS = 256  # globs in include and exclude together
CONFIG_MAX_CHARS = 262_144  # room for MAX_PATTERNS globs of MAX_GLOB_CHARS characters
CONFIG_MAX_DEPTH = 8  # the valid file nests 2 levels (a mapping of lists)
CONFIG_YAML_LIMITS = safe_yaml.YamlLimits(
    max_chars=CONFIG_MAX_CHARS, max_aliases=0, max_depth=CONFIG_MAX_DEPTH, max_expanded=4 * CONFIG_MAX_CHARS
)
# PyYAML's stubs leave these untyped; typed aliases keep mypy --strict clean with or without the stubs.
_compose: Callable[[str], Node | None] = functools.partial(safe_yaml.compose, limits=CONFIG_YAML_LIMITS)
_yaml_int: Callable[[ScalarNode], object] = SafeConstructor().construct_yaml_int


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
class EmbeddingConfig:
    """``embedding: {provider, model, dimensions}`` of lightfast.yml: shape-checked here; whether a
    provider serves the model is the embedding registry's to say when the store is made."""

    provider: str
    model: str
    dimensions: int | None = None


EMBEDDING_PROVIDER_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,31}")
EMBEDDING_MODEL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,190}")
EMBEDDING_DIMENSIONS = (1, 8192)


def _embedding(node: Node, problems: list[ConfigProblem]) -> EmbeddingConfig | None:
    """The ``embedding`` mapping, or None with a problem naming the key at fault."""
    if not isinstance(node, MappingNode):
        problems.append(_problem("embedding", "must be a mapping with provider, model and dimensions", node))
        return None
    values: dict[str, object] = {}
    for key_node, value in node.value:
        key = key_node.value if isinstance(key_node, ScalarNode) else None
        field_name = f"embedding.{key}"
        if key in values:
            problems.append(_problem(field_name, "duplicate key", key_node))
        elif key in ("provider", "model"):
            pattern = EMBEDDING_PROVIDER_PATTERN if key == "provider" else EMBEDDING_MODEL_PATTERN
            if isinstance(value, ScalarNode) and value.tag == _STR_TAG and pattern.fullmatch(value.value):
                values[key] = value.value
            else:
                shape = "1-32 characters of a-z, 0-9 and '-'" if key == "provider" else "a model name"
                problems.append(_problem(field_name, f"must be {shape}", value))
        elif key == "dimensions":
            low, high = EMBEDDING_DIMENSIONS
            number = _yaml_int(value) if isinstance(value, ScalarNode) and value.tag == _INT_TAG else None
            if isinstance(number, int) and low <= number <= high:
                values[key] = number
            else:
                problems.append(_problem(field_name, f"must be a whole number from {low} to {high}", value))
        else:
            problems.append(_problem("embedding", f"unknown key {str(key)[:40]!r}", key_node))
    for key in ("provider", "model"):
        if key not in values:
            problems.append(_problem(f"embedding.{key}", "is required", node))
    if "provider" not in values or "model" not in values:
        return None
    dimensions = values.get("dimensions")
    return EmbeddingConfig(
        str(values["provider"]), str(values["model"]), dimensions if isinstance(dimensions, int) else None
    )


@dataclass(frozen=True)
class SourceConfig:
    """A validated source configuration."""

    store: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    version: int = 1
    path: str | None = None
    # The store's chunking, when the repository sets it; the store records it (the worker's own
    # settings never decide it). Bounded again by the model's window when applied.
    chunk_size: int | None = None
    chunk_overlap: int | None = None
    # The store's embedding model, when the repository names it (issue 15): a new store is made with
    # it; an existing store of another model is switched by ``lightfast stores embedding``.
    embedding: EmbeddingConfig | None = None

    @property
    def is_default(self) -> bool:
        """True when no configuration file was found and the defaults are used."""
        return self.path is None

    @cached_property
    def path_filter(self) -> PathFilter:
        """The include and exclude globs, compiled on first use and kept with the config: matching
        many paths compiles nothing. ValueError if a glob is not valid (``parse_config`` checks them)."""
        return PathFilter.of(self.include, self.exclude)


def _problem(field: str, message: str, node: Node | None = None) -> ConfigProblem:
    if node is None:
        return ConfigProblem(field, message)
    return ConfigProblem(field, message, node.start_mark.line + 1, node.start_mark.column + 1)


def path_matches(path: str, config: SourceConfig) -> bool:
    """Whether the relative POSIX ``path`` is included by ``config`` and not excluded by it (its globs
    are compiled once per config: see ``SourceConfig.path_filter``)."""
    return config.path_filter.matches(path)


_Glob = tuple[str, Glob, Node]  # (field, compiled glob, node)


def _globs(field: str, node: Node, problems: list[ConfigProblem], allow_empty: bool) -> list[_Glob]:
    """The valid globs of an include/exclude value, appending a problem for each invalid one."""
    if isinstance(node, ScalarNode) and node.tag == _STR_TAG:
        items = [(field, node)]
    elif isinstance(node, SequenceNode) and (node.value or allow_empty):
        items = [(f"{field}[{i}]", item) for i, item in enumerate(node.value)]
    else:
        shape = _GLOB_SHAPE.format("" if allow_empty else "non-empty ")
        problems.append(
            _problem(field, "must not be empty" if isinstance(node, SequenceNode) else shape, node)
        )
        return []
    if len(items) > MAX_PATTERNS:
        message = f"has {len(items):,} globs; at most {MAX_PATTERNS} are allowed"
        problems.append(_problem(field, message, node))
        return []
    found: list[_Glob] = []
    for name, item in items:
        if not (isinstance(item, ScalarNode) and item.tag == _STR_TAG):
            problems.append(_problem(name, "must be a glob string", item))
            continue
        try:
            found.append((name, compile_glob(item.value), item))
        except ValueError as exc:
            problems.append(_problem(name, str(exc), item))
    return found


def _parse(text: str, filename: str) -> tuple[SourceConfig | None, list[ConfigProblem], list[_Glob]]:
    """Parse ``text``: the config (None if invalid), every problem, and the valid include globs."""
    if len(text) > CONFIG_MAX_CHARS:
        return None, [ConfigProblem("(file)", f"is longer than {CONFIG_MAX_CHARS:,} characters")], []
    try:
        root = _compose(text)
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
    store: str | None = None
    include: list[_Glob] = []
    exclude: list[_Glob] = []
    chunking: dict[str, int] = {}
    embedding: EmbeddingConfig | None = None
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
            if not _is_one(value):
                problems.append(_problem(key, "must be 1", value))
        elif key == "store":
            if (
                isinstance(value, ScalarNode)
                and value.tag == _STR_TAG
                and STORE_NAME_PATTERN.fullmatch(value.value)
            ):
                store = value.value
            else:
                problems.append(_problem(key, "must be 1-20 characters of a-z, 0-9 and '-'", value))
        elif key == "include":
            include = _globs(key, value, problems, allow_empty=False)
        elif key == "exclude":
            exclude = _globs(key, value, problems, allow_empty=True)
        elif key == "embedding":
            embedding = _embedding(value, problems)
        elif key in CHUNKING_BOUNDS:
            low, high = CHUNKING_BOUNDS[key]
            number = _yaml_int(value) if isinstance(value, ScalarNode) and value.tag == _INT_TAG else None
            if isinstance(number, int) and low <= number <= high:
                chunking[key] = number
            else:
                problems.append(_problem(key, f"must be a whole number from {low} to {high}", value))
        else:
            problems.append(_problem(key, "unknown key", key_node))
    for key in ("version", "store", "include"):
        if key not in seen:
            problems.append(ConfigProblem(key, "is required"))
    if len(include) + len(exclude) > MAX_PATTERNS:
        problems.append(
            _problem(
                "exclude",
                f"include and exclude have {len(include) + len(exclude):,} globs together; "
                f"at most {MAX_PATTERNS} are allowed",
                seen["exclude"],
            )
        )
    if problems:
        return None, problems, include
    globs = tuple(g.pattern for _, g, _ in include), tuple(g.pattern for _, g, _ in exclude)
    config = SourceConfig(
        store or DEFAULT_STORE,
        *globs,
        path=filename,
        chunk_size=chunking.get("chunk_size"),
        chunk_overlap=chunking.get("chunk_overlap"),
        embedding=embedding,
    )
    return config, [], include


def _is_one(node: Node) -> bool:
    if not (isinstance(node, ScalarNode) and node.tag == _INT_TAG):
        return False
    try:
        return _yaml_int(node) == 1
    except ValueError:
        return False


def parse_config(text: str, filename: str = "lightfast.yml") -> SourceConfig:
    """Parse and validate the text of a configuration file; ConfigError lists every problem found."""
    config, problems, _ = _parse(text, filename)
    if config is None:
        raise ConfigError(problems, path=filename)
    return config


def _inside(path: str, root: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(root)


def find_config_file(root: Path) -> Path | None:
    """The highest-priority configuration file in ``root`` (a symlink must point inside ``root``)."""
    resolved = root.resolve()
    for name in CONFIG_FILENAMES:
        candidate = root / name
        if candidate.is_file() and _inside(str(candidate), resolved):
            return candidate
    return None


def _read_config(root: Path) -> tuple[str | None, str | None, list[ConfigProblem]]:
    """(file name, text, problems) of the config file in ``root``; no name when there is none."""
    found = find_config_file(root)
    if found is None:
        return None, None, []
    try:
        return found.name, found.read_text(encoding="utf-8"), []
    except UnicodeDecodeError:
        return found.name, None, [ConfigProblem("(file)", "is not valid UTF-8 text")]
    except OSError as exc:
        return found.name, None, [ConfigProblem("(file)", f"cannot be read ({exc.strerror or exc})")]


def load_config(root: Path) -> SourceConfig:
    """The configuration of the repository at ``root``, or the default one when it has no config file."""
    name, text, problems = _read_config(root)
    if name is None:
        return SourceConfig(DEFAULT_STORE, DEFAULT_INCLUDE)
    if text is None:
        raise ConfigError(problems, path=name)
    return parse_config(text, name)


def _walk(root: Path) -> list[str]:
    """Every file below ``root`` as a sorted relative POSIX path; skips VCS dirs and links leaving root."""
    resolved = root.resolve()
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(resolved, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in VCS_DIRS)
        rel_dir = os.path.relpath(dirpath, resolved)
        for name in filenames:
            full = os.path.join(dirpath, name)
            if name in VCS_DIRS or not os.path.isfile(full):
                continue
            if os.path.islink(full) and not _inside(full, resolved):
                continue
            rel = name if rel_dir == "." else os.path.join(rel_dir, name)
            files.append(Path(rel).as_posix())
    return sorted(files)


def list_matching_files(root: Path, config: SourceConfig) -> list[str]:
    """The files below ``root`` selected by ``config``: sorted relative POSIX paths."""
    return [path for path in _walk(root) if path_matches(path, config)]


def validate_config(root: Path) -> list[ConfigProblem]:
    """Every problem with the configuration of ``root``, including include globs matching no file."""
    name, text, problems = _read_config(root)
    if name is None or text is None:
        return problems
    report = _check(text, name, _walk(root))
    return [*report.problems, *report.warnings]


@dataclass(frozen=True)
class ConfigReport:
    """What config detection found in a source: which file, the configuration, and every problem."""

    path: str | None  # the config file's name, None when the source has none
    config: SourceConfig | None  # None when there are problems
    problems: tuple[ConfigProblem, ...] = field(default=())
    # Include globs that match no file: worth telling, but a sync with them still works.
    warnings: tuple[ConfigProblem, ...] = field(default=())
    # The file as read, kept so the console can show it beside its problems (seed 000's config dialog).
    text: str | None = None

    @property
    def status(self) -> str:
        if self.problems:
            return "error"
        return "configured" if self.path else "unconfigured"

    @property
    def message(self) -> str | None:
        return "; ".join(str(p) for p in (*self.problems, *self.warnings)) or None

    def require(self) -> SourceConfig:
        """The configuration to sync with; ConfigError when the file has problems."""
        if self.problems or self.config is None:
            raise ConfigError(list(self.problems), path=self.path)
        return self.config


def _check(text: str, name: str, paths: Iterable[str]) -> ConfigReport:
    config, problems, include = _parse(text, name)
    listed = list(paths) if include else []
    unmatched = [
        _problem(glob_field, "matches no file", node)
        for glob_field, glob, node in include
        if not any(glob.matches(path) for path in listed)
    ]
    return ConfigReport(name, None if problems else config, tuple(problems), tuple(unmatched), text)


def config_file_name(paths: Iterable[str]) -> str | None:
    """The highest-priority configuration file among a source's root-level paths."""
    present = set(paths)
    return next((name for name in CONFIG_FILENAMES if name in present), None)


def inspect_config(name: str | None, data: bytes | None, paths: Iterable[str]) -> ConfigReport:
    """Detect the configuration of a source that is not a local directory (a git commit, a GitHub tree):
    ``name`` is its config file (None when it has none), ``data`` that file's bytes, ``paths`` every file
    of the source, to report include globs that match nothing. Pure: the caller fetches the bytes."""
    if name is None:
        return ConfigReport(None, SourceConfig(DEFAULT_STORE, DEFAULT_INCLUDE))
    if data is None:
        return ConfigReport(name, None, (ConfigProblem("(file)", "cannot be read"),))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ConfigReport(name, None, (ConfigProblem("(file)", "is not valid UTF-8 text"),))
    return _check(text, name, paths)
