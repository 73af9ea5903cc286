"""Token-bounded chunking of Markdown (pure).

A document is cut into blocks: headings, paragraphs (separated by blank lines) and fenced code blocks,
which stay whole. Blocks are packed greedily into chunks of at most ``max_tokens`` tokens of the
embedding model's tokenizer; a heading starts a new chunk once the current one holds a quarter of the
budget, so sections stay together without producing crumbs. Consecutive chunks inside a section share
about ``overlap`` tokens of context. A block larger than the budget (a long paragraph, a huge code block)
is split at sentence, then line, then word boundaries, because text past the model's input window is
never seen by it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass

CountTokens = Callable[[str], int]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}#{1,6}(\s|$)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Block:
    text: str
    kind: str  # "heading" | "paragraph" | "code"


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    token_count: int


def split_blocks(text: str) -> list[Block]:
    """Headings, paragraphs and fenced code blocks, in order, without the blank lines between them."""
    blocks: list[Block] = []
    paragraph: list[str] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")

    def flush() -> None:
        if paragraph:
            blocks.append(Block("\n".join(paragraph).strip("\n"), "paragraph"))
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker = fence.group(1)
            code = [line]
            i += 1
            while i < len(lines):
                code.append(lines[i])
                if lines[i].strip().startswith(marker[0] * len(marker)) and not lines[i].strip().strip(
                    marker[0]
                ):
                    break
                i += 1
            blocks.append(Block("\n".join(code), "code"))
        elif _HEADING.match(line):
            flush()
            blocks.append(Block(line.strip(), "heading"))
        elif not line.strip():
            flush()
        else:
            paragraph.append(line)
        i += 1
    flush()
    return [b for b in blocks if b.text.strip()]


def _split_text(text: str, max_tokens: int, count: CountTokens, kind: str) -> list[str]:
    """Split one oversized block into pieces of at most ``max_tokens``, at the coarsest boundary that
    works: sentences (prose), lines, then words, then characters."""
    # Pieces of one block are re-joined with a space by the packer, so a split paragraph reads as prose.
    if count(text) <= max_tokens:
        return [text]
    if kind not in ("code", "sentence"):
        sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
        if len(sentences) > 1:
            # Sentences stay separate pieces: the packer fills chunks with them and carries the last
            # ones over as overlap.
            return [part for s in sentences for part in _split_text(s, max_tokens, count, "sentence")]
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) > 1:
        return _pack_pieces(lines, "\n", max_tokens, count, "words")
    words = text.split()
    if len(words) > 1:
        return _pack_pieces(words, " ", max_tokens, count, "chars")
    return _split_chars(text, max_tokens, count)


def _pack_pieces(pieces: list[str], sep: str, max_tokens: int, count: CountTokens, kind: str) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    current_tokens = 0
    for piece in pieces:
        tokens = count(piece)
        if tokens > max_tokens:
            if current:
                out.append(sep.join(current))
                current, current_tokens = [], 0
            out.extend(_split_text(piece, max_tokens, count, kind if kind != "chars" else "chars"))
            continue
        if current and current_tokens + tokens > max_tokens:
            out.append(sep.join(current))
            current, current_tokens = [], 0
        current.append(piece)
        current_tokens += tokens
    if current:
        out.append(sep.join(current))
    # Counting the joined text can exceed the sum of the parts for some tokenizers: re-split if so.
    result: list[str] = []
    for text in out:
        if count(text) > max_tokens and len(text) > 1:
            half = len(text) // 2
            result.extend(_split_text(text[:half], max_tokens, count, kind))
            result.extend(_split_text(text[half:], max_tokens, count, kind))
        else:
            result.append(text)
    return result


def _split_chars(text: str, max_tokens: int, count: CountTokens) -> list[str]:
    out: list[str] = []
    start = 0
    while start < len(text):
        lo, hi = start + 1, len(text)
        while lo < hi:  # the longest prefix that fits
            mid = (lo + hi + 1) // 2
            if count(text[start:mid]) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        out.append(text[start:lo])
        start = lo
    return out


@dataclass
class _Piece:
    text: str
    tokens: int
    heading: bool
    block: int  # pieces of one block are re-joined with a space, blocks with a blank line


def chunk_markdown(text: str, max_tokens: int, overlap: int, count: CountTokens) -> list[Chunk]:
    """Chunks of ``text``, each at most ``max_tokens`` tokens by ``count``; deterministic."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    if not 0 <= overlap < max_tokens:
        raise ValueError("overlap must be at least 0 and smaller than max_tokens")
    pieces: list[_Piece] = []
    for number, block in enumerate(split_blocks(text)):
        for part in _split_text(block.text, max_tokens, count, block.kind):
            if part.strip():
                pieces.append(_Piece(part.strip("\n"), count(part), block.kind == "heading", number))

    chunks: list[list[_Piece]] = []
    current: list[_Piece] = []
    fresh = 0  # tokens in ``current`` that are not overlap carried from the previous chunk
    separator_tokens = count("\n\n")
    min_section = max_tokens // 4

    def size(parts: list[_Piece]) -> int:
        return sum(p.tokens for p in parts) + separator_tokens * max(0, len(parts) - 1)

    for piece in pieces:
        starts_section = piece.heading and fresh >= min_section
        if current and fresh and (starts_section or size([*current, piece]) > max_tokens):
            chunks.append(current)
            current = (
                [] if starts_section else _tail(current, overlap, max_tokens - piece.tokens, separator_tokens)
            )
            fresh = 0
        elif current and not fresh and size([*current, piece]) > max_tokens:
            current = _tail(current, overlap, max_tokens - piece.tokens, separator_tokens)
        current.append(piece)
        fresh += piece.tokens
    if current and fresh:
        chunks.append(current)

    result: list[Chunk] = []
    for parts in chunks:
        body = parts[0].text
        for previous, following in itertools.pairwise(parts):
            body += (" " if following.block == previous.block else "\n\n") + following.text
        result.append(Chunk(index=len(result), text=body, token_count=count(body)))
    return result


def _tail(parts: list[_Piece], overlap: int, room: int, separator_tokens: int) -> list[_Piece]:
    """The trailing pieces of ``parts`` that hold at most ``overlap`` tokens (the overlap) and, with the
    separator that follows each of them, fit in ``room``: the budget left by the next piece."""
    tail: list[_Piece] = []
    used = 0
    for piece in reversed(parts):
        if piece.heading or used + piece.tokens > overlap:
            break
        if used + piece.tokens + separator_tokens * (len(tail) + 1) > room:
            break
        tail.insert(0, piece)
        used += piece.tokens
    return tail
