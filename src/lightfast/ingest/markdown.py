"""Front matter, title and slug of a Markdown (or plain text) document (pure).

Front matter is YAML read within limits (``FRONTMATTER_LIMITS``): a document whose front matter is too
long, too deeply nested, uses too many aliases or expands past the budget once its aliases are
expanded ("billion laughs") raises ``DocumentRejected`` (reason ``front_matter_too_large``), which
the caller records as a failure of that one document. Front matter that is not valid YAML, or holds
values YAML cannot build (``date: 2024-13-45``), stays in the text with a warning. Every value is made
storable in a JSON column: no NUL characters or lone surrogates in strings, no NaN or infinities.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml

from lightfast.errors import DocumentRejected
from lightfast.ingest import safe_yaml

FRONTMATTER_MAX_CHARS = 65_536  # of the front matter text, before parsing
FRONTMATTER_MAX_ALIASES = 100  # alias references (*name)
FRONTMATTER_MAX_DEPTH = 32  # nested lists and mappings
# Nodes plus characters of text, with aliases expanded: front matter without aliases never passes this,
# it counts at most about twice its length.
FRONTMATTER_MAX_EXPANDED = 2 * FRONTMATTER_MAX_CHARS
FRONTMATTER_LIMITS = safe_yaml.YamlLimits(
    max_chars=FRONTMATTER_MAX_CHARS,
    max_aliases=FRONTMATTER_MAX_ALIASES,
    max_depth=FRONTMATTER_MAX_DEPTH,
    max_expanded=FRONTMATTER_MAX_EXPANDED,
)
REJECTED_FRONT_MATTER = "front_matter_too_large"  # the DocumentRejected reason
# What PyYAML's SafeConstructor may raise building a value it resolved or was told to build:
# 2024-13-45 (ValueError), !!bool x (KeyError), "!!int " (IndexError), !!timestamp x (AttributeError).
_CONSTRUCTION_ERRORS = (yaml.YAMLError, ValueError, LookupError, AttributeError, TypeError, ArithmeticError)

# The content is optional ("---\n---\n" is an empty front matter block, as Jekyll writes it).
_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n(?:(.*?)\r?\n)??(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# A closing run of # needs a space before it: "# Intro to C#" is titled "Intro to C#".
_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_H1 = re.compile(r"^ {0,3}=+[ \t]*$")


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    body: str  # the text without its front matter: what gets chunked
    frontmatter: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    warnings: tuple[str, ...] = ()


def parse_document(text: str, path: str) -> ParsedDocument:
    """Title from the front matter ``title``, else the first H1 outside code, else the file name.
    DocumentRejected when the front matter passes ``FRONTMATTER_LIMITS``."""
    text = text.lstrip("\ufeff")
    frontmatter: dict[str, Any] = {}
    warnings: list[str] = []
    body = text
    match = _FRONTMATTER.match(text)
    if match:
        try:
            loaded = safe_yaml.load(match.group(1) or "", FRONTMATTER_LIMITS)
        except safe_yaml.YamlLimitError as exc:
            mark = exc.problem_mark
            where = f" (line {mark.line + 2})" if mark is not None else ""  # +1 for the opening ---
            raise DocumentRejected(
                f"front matter {exc.problem}{where}", reason=REJECTED_FRONT_MATTER, field="frontmatter"
            ) from exc
        except _CONSTRUCTION_ERRORS as exc:
            warnings.append(f"front matter is not valid YAML ({exc.__class__.__name__}); kept as text")
        else:
            if isinstance(loaded, dict):
                frontmatter = {_key(k): _jsonable(v) for k, v in loaded.items()}
                body = text[match.end() :]
            elif loaded is not None:
                warnings.append("front matter is not a mapping; kept as text")
            else:
                body = text[match.end() :]
    title = _string(frontmatter.get("title")) or first_heading(body) or PurePosixPath(path).stem or path
    description = _string(frontmatter.get("description"))
    return ParsedDocument(_clean(title)[:512], body, frontmatter, description, tuple(warnings))


def first_heading(text: str) -> str | None:
    # The marker of the open code fence: only a line of the same character, at least as many times,
    # closes it (a ``` line inside a ```` block, or inside a ~~~ block, is code).
    fence: str | None = None
    previous = ""
    for line in text.splitlines():
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = None
            line = ""
        elif opening := _FENCE.match(line):
            fence = opening.group(1)
            line = ""
        else:
            match = _H1.match(line)
            if match:
                return match.group(1).strip()
            if _SETEXT_H1.match(line) and previous.strip():
                return previous.strip()
        previous = line
    return None


def slugify(path: str) -> str:
    """``docs/Getting Started.md`` -> ``docs/getting-started``."""
    stem = str(PurePosixPath(path).with_suffix("")) if PurePosixPath(path).suffix else path
    slug = re.sub(r"-*/[-/]*", "/", re.sub(r"[^a-z0-9/]+", "-", stem.lower())).strip("-/")
    return slug[:256].strip("-/") or "index"


def _string(value: Any) -> str | None:
    # Not booleans: YAML reads ``title: yes`` as True, and "True" is no title.
    if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def _clean(text: str) -> str:
    """``text`` without NUL characters (PostgreSQL refuses them) and with lone surrogates (which YAML's
    ``"\\ud800"`` makes, and UTF-8 cannot encode) replaced by ``?``."""
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _int_text(value: int) -> str:
    try:
        return str(value)
    except ValueError:  # more than sys.get_int_max_str_digits() digits (a long 0x... literal)
        return hex(value)


def _key(key: Any) -> str:
    if isinstance(key, int) and not isinstance(key, bool):
        return _int_text(key)
    return _clean(key if isinstance(key, str) else str(key))


def _jsonable(value: Any) -> Any:
    """Front matter goes into a JSON column: dates and other YAML types become strings, sets sorted
    lists; strings lose NUL characters; NaN, infinities and integers beyond 64 bits become strings.
    Nesting is bounded by ``FRONTMATTER_MAX_DEPTH``, checked before the values were built."""
    if isinstance(value, dict):
        return {_key(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):  # !!set: the order must not depend on hash randomisation
        return sorted((_jsonable(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else _int_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return _clean(value if isinstance(value, str) else str(value))
