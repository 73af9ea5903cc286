"""Content, chunk, configuration and identity hashes (pure)."""

from __future__ import annotations

import hashlib
import json


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(data: bytes) -> str:
    """Hash of a file's bytes: an unchanged hash means an unchanged document."""
    return sha256_hex(data)


def chunk_hash(text: str) -> str:
    return sha256_hex(text.encode("utf-8"))


def config_hash(provider: str, model: str, dimension: int, chunk_tokens: int, chunk_overlap: int) -> str:
    """Everything that changes a document's vectors besides its content."""
    payload = json.dumps(
        {
            "provider": provider,
            "model": model,
            "dimension": dimension,
            "chunk": chunk_tokens,
            "overlap": chunk_overlap,
            "chunker": 1,
        },
        sort_keys=True,
    )
    return sha256_hex(payload.encode())


def document_id(store_id: str, source_type: str, source_id: str) -> str:
    """Deterministic, so a re-run of the same work writes the same rows."""
    digest = sha256_hex(f"{store_id}\x00{source_type}\x00{source_id}".encode())
    return f"doc_{digest[:32]}"


def vector_id(document_id: str, chunk_index: int) -> str:
    return f"{document_id}#{chunk_index}"
