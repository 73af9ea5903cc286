"""Front matter, title and slug of a Markdown (or plain text) document (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml

_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)[ \t#]*$")
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
            loaded = yaml.safe_load(match.group(1))
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
    in_code = False
    previous = ""
    for line in text.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code:
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
    slug = re.sub(r"[^a-z0-9/]+", "-", stem.lower()).strip("-/")
    return re.sub(r"-*/-*", "/", slug)[:256] or "index"


def _string(value: Any) -> str | None:
    if isinstance(value, str | int | float) and str(value).strip():
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
