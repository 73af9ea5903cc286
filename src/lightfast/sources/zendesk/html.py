"""Help-center article bodies (HTML) as Markdown, with the standard library's tolerant parser: headings,
paragraphs, lists, links, emphasis, code, quotes and tables kept as text a person (and the chunker)
reads; scripts, styles and every attribute but ``href``/``alt`` dropped. Bounded: input past
``MAX_HTML`` characters is cut, nesting deeper than ``MAX_DEPTH`` is flattened."""

from __future__ import annotations

import re
from html.parser import HTMLParser

MAX_HTML = 1_000_000
MAX_DEPTH = 64
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {"p", "div", "section", "article", "table", "tr", "hr"}
_SKIPPED = {"script", "style", "head", "template", "noscript", "iframe", "svg"}
_EMPHASIS = {"strong": "**", "b": "**", "em": "_", "i": "_"}
_SAFE_LINK = re.compile(r"^(?:https?://|mailto:|/|#)", re.IGNORECASE)


class _Markdown(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.tail = ""  # the last two characters written: joining ``out`` per block would be quadratic
        self.lists: list[list[int]] = []  # per open list: [counter] (0 for unordered)
        self.links: list[str | None] = []
        self.skipping = 0
        self.pre = 0
        self.depth = 0

    def _emit(self, text: str) -> None:
        if text:
            self.out.append(text)
            self.tail = (self.tail + text)[-2:]

    def _newline(self, blank: bool = True) -> None:
        want = "\n\n" if blank else "\n"
        if self.tail and not self.tail.endswith(want):
            self._emit("\n" if self.tail.endswith("\n") and blank else want)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
            return
        if self.skipping:
            return
        self.depth += 1
        if self.depth > MAX_DEPTH:
            return
        found = dict(attrs)
        if tag in _HEADINGS:
            self._newline()
            self._emit("#" * _HEADINGS[tag] + " ")
        elif tag in ("ul", "ol"):
            self.lists.append([1 if tag == "ol" else 0])
            self._newline(blank=len(self.lists) == 1)
        elif tag == "li":
            self._newline(blank=False)
            indent = "  " * max(0, len(self.lists) - 1)
            counter = self.lists[-1] if self.lists else [0]
            self._emit(indent + (f"{counter[0]}. " if counter[0] else "- "))
            if counter[0]:
                counter[0] += 1
        elif tag == "br":
            self._emit("\n")
        elif tag == "blockquote":
            self._newline()
            self._emit("> ")
        elif tag == "pre":
            self._newline()
            self._emit("```\n")
            self.pre += 1
        elif tag == "code" and not self.pre:
            self._emit("`")
        elif tag in _EMPHASIS:
            self._emit(_EMPHASIS[tag])
        elif tag == "a":
            href = found.get("href")
            self.links.append(href if href and _SAFE_LINK.match(href) else None)
            if self.links[-1]:
                self._emit("[")
        elif tag == "img":
            alt = (found.get("alt") or "").strip()
            if alt:
                self._emit(f"[image: {alt}]")
        elif tag in ("td", "th"):
            self._emit(" | ")
        elif tag in _BLOCKS:
            self._newline(blank=tag not in ("tr",))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
            return
        if self.skipping:
            return
        self.depth = max(0, self.depth - 1)
        if self.depth >= MAX_DEPTH:
            return
        if tag in _HEADINGS:
            self._newline()
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._newline(blank=not self.lists)
        elif tag == "blockquote":
            self._newline()
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self._emit("\n```")
            self._newline()
        elif tag == "code" and not self.pre:
            self._emit("`")
        elif tag in _EMPHASIS:
            self._emit(_EMPHASIS[tag])
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href:
                # A target with spaces or parentheses would end the Markdown link early.
                safe = href.strip().replace(" ", "%20").replace("(", "%28").replace(")", "%29")
                self._emit(f"]({safe[:2048]})")
        elif tag in _BLOCKS:
            self._newline(blank=tag != "tr")

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.pre:
            self._emit(data)
            return
        self._emit(re.sub(r"\s+", " ", data))


def html_to_markdown(html: str) -> str:
    """Markdown of an HTML fragment (never raises on malformed HTML)."""
    if not html.strip():
        return ""
    parser = _Markdown()
    parser.feed(html[:MAX_HTML])
    parser.close()
    text = "".join(parser.out)
    lines = [line.rstrip() for line in text.split("\n")]
    collapsed = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return collapsed.strip()
