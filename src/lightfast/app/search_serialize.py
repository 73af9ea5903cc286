"""JSON shapes of a search response, shared by the CLI and the API."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from lightfast.app.search import SearchResponse, SearchResult


def result_payload(result: SearchResult) -> dict[str, Any]:
    return {
        "id": result.id,
        "documentId": result.document_id,
        "title": result.title,
        "path": result.path,
        "sourceType": result.source_type,
        "url": result.url,
        "snippet": result.snippet,
        "score": result.score,
        "store": result.store,
    }


def cli_payload(response: SearchResponse) -> dict[str, Any]:
    return {
        "results": [result_payload(r) for r in response.results],
        "latency": asdict(response.latency),
        "requestId": response.request_id,
    }
