"""Notion: webhook verification and the handshake, events, pages and blocks as Markdown (pure)."""
