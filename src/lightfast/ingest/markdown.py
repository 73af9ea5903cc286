"""Front matter, title and slug of a Markdown (or plain text) document (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml

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
    """Title from the front matter ``title``, else the first H1 outside code, else the file name."""
    text = text.lstrip("\ufeff")
    frontmatter: dict[str, Any] = {}
    warnings: list[str] = []
    body = text
    match = _FRONTMATTER.match(text)
    if match:
        try:
            loaded = yaml.safe_load(match.group(1) or "")
        except yaml.YAMLError as exc:
            warnings.append(f"front matter is not valid YAML ({exc.__class__.__name__}); kept as text")
        else:
            if isinstance(loaded, dict):
                frontmatter = {str(k): _jsonable(v) for k, v in loaded.items()}
                body = text[match.end() :]
            elif loaded is not None:
                warnings.append("front matter is not a mapping; kept as text")
            else:
                body = text[match.end() :]
    title = _string(frontmatter.get("title")) or first_heading(body) or PurePosixPath(path).stem or path
    description = _string(frontmatter.get("description"))
    return ParsedDocument(title[:512], body, frontmatter, description, tuple(warnings))


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


def _jsonable(value: Any) -> Any:
    """Front matter goes into a JSON column: dates and other YAML types become strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
