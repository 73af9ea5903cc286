"""Turning raw bytes into text, or into a reason why a file cannot be indexed (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rejection:
    reason: str  # "too_large" | "binary" | "invalid_utf8" | "invalid_path"
    message: str


def decode_text(data: bytes, max_bytes: int) -> str | Rejection:
    if len(data) > max_bytes:
        return Rejection("too_large", f"file is {len(data):,} bytes; the limit is {max_bytes:,} bytes")
    # Anywhere, not only in the first block: PostgreSQL text columns cannot hold NUL characters.
    if b"\x00" in data:
        return Rejection("binary", "file looks binary (it contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection("invalid_utf8", f"file is not valid UTF-8 (byte {exc.start}: {exc.reason})")
    return text.removeprefix("\ufeff")
