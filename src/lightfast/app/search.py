"""Hybrid retrieval: embed the query, ask the vector and lexical indexes, fuse, collapse to one result
per document, and cut a highlighted snippet for each."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.search_pool import SearchPool
from lightfast.app.store_settings import store_choice
from lightfast.db import documents as docs_repo
from lightfast.db.models import Store
from lightfast.db.tenancy import every_store, list_stores
from lightfast.embed.base import Embedder
from lightfast.embed.registry import EmbedderPool, EmbeddingChoice
from lightfast.errors import InvalidInput, ModelMismatch, NotFound
from lightfast.index.base import Hit, SearchFilters, SearchIndex
from lightfast.rerank.stage import RerankOutcome, RerankStage
from lightfast.search.fusion import reciprocal_rank_fusion, weighted_score_fusion
from lightfast.search.highlight import make_snippet
from lightfast.search.metadata_filter import parse_metadata_filter
from lightfast.search.text import query_terms


# The names the API documents. At the edge only (API requests, the CLI's --mode) ``bm25`` and
# ``hybrid`` are accepted too, as former names of fast and balanced: ``lightfast.app.schemas.search_mode``.
class SearchMode(StrEnum):
    """How a query is answered: fast (keyword retrieval only; the query is not embedded), balanced
    (semantic and keyword retrieval, fused), dense (semantic retrieval only) or rerank (balanced, then
    the top candidates reordered by the configured reranker)."""

    FAST = "fast"  # keyword (BM25) retrieval only: the query is not embedded
    BALANCED = "balanced"  # semantic and keyword retrieval, fused
    DENSE = "dense"  # semantic (vector) retrieval only
    RERANK = "rerank"  # balanced, then reranked (the same as balanced with rerank: true)


EMBEDS_QUERY = (SearchMode.BALANCED, SearchMode.DENSE, SearchMode.RERANK)
LEXICAL = (SearchMode.BALANCED, SearchMode.FAST, SearchMode.RERANK)
MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class FusionConfig:
    """How balanced mode fuses the two rankings; the defaults were measured on SciFact train
    (docs/search-quality.md)."""

    method: Literal["rrf", "weighted"] = "weighted"
    rrf_k: float = 60.0
    dense_weight: float = 0.5
    lexical_weight: float = 0.5
    candidates: int = 100


@dataclass(frozen=True)
class SearchRequest:
    workspace_id: str
    query: str
    limit: int = 10
    offset: int = 0
    stores: tuple[str, ...] = ()
    source_types: tuple[str, ...] = ()
    path_prefix: str | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    mode: SearchMode = SearchMode.BALANCED
    request_id: str | None = None
    rerank: bool = False  # reorder the top fused candidates with the reranker (mode rerank implies it)
    # Conditions on the documents' source metadata ({"state": "In Progress"}), checked by the service.
    metadata: Mapping[str, Any] | None = None

    @property
    def reranks(self) -> bool:
        return self.rerank or self.mode == SearchMode.RERANK


@dataclass(frozen=True)
class SearchResult:
    id: str
    document_id: str
    title: str
    path: str
    source_type: str
    url: str | None
    snippet: str
    score: float
    store: str


@dataclass(frozen=True)
class Latency:
    embedding: float
    retrieval: float
    fusion: float
    total: float
    rerank: float = 0.0


@dataclass(frozen=True)
class SearchResponse:
    results: list[SearchResult]
    total: int  # distinct documents among the candidates
    latency: Latency
    request_id: str
    mode: SearchMode
    limit: int
    offset: int
    terms: list[str] = field(default_factory=list)
    rerank: RerankOutcome | None = None  # None when the request did not ask for rerank


def validate_request(request: SearchRequest) -> None:
    if not request.query.strip():
        raise InvalidInput("query must not be empty", field="query")
    if len(request.query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"query is longer than {MAX_QUERY_CHARS} characters", field="query")
    if not 1 <= request.limit <= 100:
        raise InvalidInput("limit must be between 1 and 100", field="limit")
    if not 0 <= request.offset <= 1000:
        raise InvalidInput("offset must be between 0 and 1000", field="offset")
    if request.mode not in tuple(SearchMode):
        raise InvalidInput(f"mode must be one of {', '.join(SearchMode)}", field="mode")
    if request.updated_from and request.updated_to and request.updated_from > request.updated_to:
        raise InvalidInput("dateRange.from must not be after dateRange.to", field="filters.dateRange")


def reranked_page(
    ranked: list[tuple[int, float]], outcome: RerankOutcome, offset: int, limit: int
) -> list[tuple[int, float]]:
    """The page of (seq, score) after the rerank stage: its candidates (the head of ``ranked``) in its
    order with its scores when applied, the rest after them in fused order."""
    head = ranked[: outcome.candidates]
    if outcome.applied and outcome.scores:
        head = [(head[i][0], round(outcome.scores[i], 6)) for i in outcome.order]
    return [*head, *ranked[outcome.candidates :]][offset : offset + limit]


class SearchService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        embedder: Embedder,
        index: SearchIndex,
        fusion: FusionConfig | None = None,
        reranker: RerankStage | None = None,
        embedders: EmbedderPool | None = None,
        pool: SearchPool | None = None,
    ) -> None:
        self.sessions = sessions
        self.pool = pool  # worker processes that answer searches, when the settings ask for them
        self.embedder = embedder
        self.embedders = embedders
        self.index = index
        self.fusion = fusion or FusionConfig()
        self.reranker = reranker
        # Called with (mode, seconds) after each search: /metrics' latency histogram by mode.
        self.observers: list[Callable[[str, float], None]] = []

    def search(self, request: SearchRequest) -> SearchResponse:
        validate_request(request)
        if request.reranks and self.reranker is None:
            # Refused rather than silently answered in fused order: the caller asked for a ranking this
            # server cannot give (a provider that fails or runs late is another matter: see RerankStage).
            raise InvalidInput(
                "rerank needs a rerank provider; this server has none (LIGHTFAST_RERANK_PROVIDER)",
                field="mode" if request.mode == SearchMode.RERANK else "rerank",
            )
        if self.pool is not None and not request.reranks:
            response = self.pool.search(request)
            for observe in self.observers:
                observe(str(request.mode), response.latency.total / 1000)
            return response
        started = time.perf_counter()
        request_id = request.request_id or f"req_{uuid.uuid4().hex[:20]}"
        filters = SearchFilters(
            request.source_types,
            request.path_prefix or None,
            request.updated_from,
            request.updated_to,
            parse_metadata_filter(request.metadata),
        )
        k = max(self.fusion.candidates, 3 * (request.offset + request.limit))

        with self.sessions() as session:
            stores = self._stores(session, request)
            store_ids = [s.id for s in stores]
            embedding_ms = 0.0
            vector_hits: list[Hit] = []
            lexical_hits: list[Hit] = []
            vectors: list[tuple[list[str], np.ndarray]] = []
            if request.mode in EMBEDS_QUERY:
                t0 = time.perf_counter()
                vectors = self._query_vectors(stores, request.query)
                embedding_ms = (time.perf_counter() - t0) * 1000
            t1 = time.perf_counter()
            if vectors:
                vector_hits = self._vector_hits(session, vectors, k, filters)
            if request.mode in LEXICAL:
                lexical_hits = self.index.lexical_search(session, store_ids, request.query, k, filters)
            retrieval_ms = (time.perf_counter() - t1) * 1000

            t2 = time.perf_counter()
            ranked = self._fuse(vector_hits, lexical_hits)
            documents = {h.seq: h.document_id for h in [*vector_hits, *lexical_hits]}
            best_per_document: list[tuple[int, float]] = []
            seen: set[str] = set()
            for seq, score in ranked:
                document = documents[seq]
                if document not in seen:
                    seen.add(document)
                    best_per_document.append((seq, score))
            page = best_per_document[request.offset : request.offset + request.limit]
            fusion_ms = (time.perf_counter() - t2) * 1000
            if request.reranks and self.reranker is not None:
                # The candidates always cover the page asked for; read before the session closes, sent
                # after (no database connection is held while a provider answers).
                head = best_per_document[: max(self.reranker.candidates, request.offset + request.limit)]
                rows = docs_repo.chunk_rows(session, [seq for seq, _ in head])
            else:
                head = []
                rows = docs_repo.chunk_rows(session, [seq for seq, _ in page])
        outcome: RerankOutcome | None = None
        if request.reranks and self.reranker is not None:
            texts = [f"{row.title}\n{row.content}" if (row := rows.get(seq)) else "" for seq, _ in head]
            outcome = self.reranker.run(request.query, texts)
            page = reranked_page(best_per_document, outcome, request.offset, request.limit)
        terms = query_terms(request.query)
        store_names = {s.id: s.name for s in stores}
        results = [
            SearchResult(
                id=row.id,
                document_id=row.document_id,
                title=row.title,
                path=row.path,
                source_type=row.source_type,
                url=row.url,
                snippet=make_snippet(row.content, terms),
                score=round(score, 6),
                store=store_names.get(row.store_id, ""),
            )
            for seq, score in page
            if (row := rows.get(seq)) is not None
        ]
        total_ms = (time.perf_counter() - started) * 1000
        for observe in self.observers:
            observe(str(request.mode), total_ms / 1000)
        return SearchResponse(
            results=results,
            total=len(best_per_document),
            latency=Latency(
                round(embedding_ms, 2),
                round(retrieval_ms, 2),
                round(fusion_ms, 2),
                round(total_ms, 2),
                outcome.milliseconds if outcome else 0.0,
            ),
            request_id=request_id,
            mode=request.mode,
            limit=request.limit,
            offset=request.offset,
            terms=terms,
            rerank=outcome,
        )

    def warm(self) -> None:
        """Load every store's in-memory indexes now, and wait for the lexical one: what a search worker
        does before it takes its first search, so that no search waits for a load."""
        with self.sessions() as session:
            stores = every_store(session)
            for store in stores:
                probe = np.zeros(store.embedding_dim, dtype=np.float32)
                self.index.vector_search(session, [store.id], probe, 1, SearchFilters())
            if stores:
                self.index.wait_lexical(session)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def _stores(self, session: Session, request: SearchRequest) -> list[Store]:
        stores = list_stores(session, request.workspace_id, list(request.stores) or None)
        missing = sorted(set(request.stores) - {s.name for s in stores})
        if missing:
            raise NotFound(
                f"no store named {', '.join(map(repr, missing))} in this workspace", field="stores"
            )
        return stores

    def _query_vectors(self, stores: list[Store], query: str) -> list[tuple[list[str], np.ndarray]]:
        """The query embedded once per model among ``stores``, each with the stores it searches: every
        store's query vector comes from the model its own row names, so a store and its queries cannot
        disagree on the model (issue 15). Without a pool (a service wired by hand) the one embedder
        serves, and a store it does not match is refused."""
        by_choice: dict[EmbeddingChoice, list[str]] = {}
        for store in stores:
            by_choice.setdefault(store_choice(store), []).append(store.id)
        out: list[tuple[list[str], np.ndarray]] = []
        for choice, ids in by_choice.items():
            if self.embedders is not None:
                embedder = self.embedders.get(choice)
            else:
                embedder = self.embedder
                spec = embedder.spec
                if (choice.model, choice.dimensions) != (spec.name, spec.dimension):
                    raise ModelMismatch(
                        f"a store is indexed with {choice.model} ({choice.dimensions}-d) but this "
                        f"search service embeds queries with {spec.name} only"
                    )
            out.append((ids, embedder.embed_query(query)))
        return out

    def _vector_hits(
        self, session: Session, vectors: list[tuple[list[str], np.ndarray]], k: int, filters: SearchFilters
    ) -> list[Hit]:
        if len(vectors) == 1:
            ids, vector = vectors[0]
            return self.index.vector_search(session, ids, vector, k, filters)
        # Stores of several models: cosine similarities of normalised vectors, merged by score (each
        # model's scale differs a little; rank fusion with the lexical list absorbs most of that).
        hits = [
            h for ids, vector in vectors for h in self.index.vector_search(session, ids, vector, k, filters)
        ]
        return sorted(hits, key=lambda h: -h.score)[:k]

    def _fuse(self, vector_hits: list[Hit], lexical_hits: list[Hit]) -> list[tuple[int, float]]:
        if not lexical_hits:
            return [(h.seq, h.score) for h in vector_hits]
        if not vector_hits:
            return [(h.seq, h.score) for h in lexical_hits]
        weights = [self.fusion.dense_weight, self.fusion.lexical_weight]
        if self.fusion.method == "weighted":
            return weighted_score_fusion(
                [[(h.seq, h.score) for h in vector_hits], [(h.seq, h.score) for h in lexical_hits]], weights
            )
        return reciprocal_rank_fusion(
            [[h.seq for h in vector_hits], [h.seq for h in lexical_hits]],
            k=self.fusion.rrf_k,
            weights=weights,
        )


@dataclass(frozen=True)
class DocumentContent:
    id: str
    title: str
    path: str
    source_type: str
    url: str | None
    content: str
    metadata: dict[str, object]
    updated_at: datetime


@dataclass(frozen=True)
class SimilarDocument:
    document_id: str
    title: str
    path: str
    url: str | None
    source_type: str
    score: float


class DocumentService:
    """Whole documents of a workspace: their content, and the documents most like one of them."""

    def __init__(self, sessions: sessionmaker[Session], index: SearchIndex) -> None:
        self.sessions = sessions
        self.index = index

    def contents(self, workspace_id: str, ids: list[str]) -> tuple[list[DocumentContent], list[str]]:
        if not 1 <= len(ids) <= 50:
            raise InvalidInput("ids must hold 1 to 50 document ids", field="ids")
        with self.sessions() as session:
            rows = docs_repo.documents_in_workspace(session, workspace_id, ids)
        found = {row.id: row for row in rows}
        items = [
            DocumentContent(
                id=row.id,
                title=row.title,
                path=row.path,
                source_type=row.source_type,
                url=row.url,
                content=row.content or "",
                metadata={
                    "source": row.source_metadata,
                    "frontmatter": row.frontmatter or {},
                    "storeId": row.store_id,
                    "chunkCount": row.chunk_count,
                },
                updated_at=row.updated_at,
            )
            for doc_id in dict.fromkeys(ids)
            if (row := found.get(doc_id)) is not None
        ]
        return items, [doc_id for doc_id in dict.fromkeys(ids) if doc_id not in found]

    def find_similar(
        self, workspace_id: str, document_id: str, limit: int = 10, threshold: float = 0.0
    ) -> list[SimilarDocument]:
        if not 1 <= limit <= 50:
            raise InvalidInput("limit must be between 1 and 50", field="limit")
        if not 0.0 <= threshold <= 1.0:
            raise InvalidInput("threshold must be between 0 and 1", field="threshold")
        with self.sessions() as session:
            found = docs_repo.documents_in_workspace(session, workspace_id, [document_id])
            if not found:
                raise NotFound(f"document {document_id!r} does not exist", field="id")
            vectors = docs_repo.document_vectors(session, document_id)
            if len(vectors) == 0:
                return []
            centroid = vectors.mean(axis=0)
            centroid /= max(float((centroid**2).sum() ** 0.5), 1e-12)
            store_ids = [s.id for s in list_stores(session, workspace_id) if s.embedding_dim == len(centroid)]
            hits = self.index.vector_search(session, store_ids, centroid, (limit + 1) * 8, SearchFilters())
            best: dict[str, tuple[int, float]] = {}
            for hit in hits:
                if hit.document_id != document_id and hit.document_id not in best and hit.score >= threshold:
                    best[hit.document_id] = (hit.seq, hit.score)
            top = list(best.items())[:limit]
            rows = {
                r.id: r for r in docs_repo.documents_in_workspace(session, workspace_id, [d for d, _ in top])
            }
        return [
            SimilarDocument(doc_id, row.title, row.path, row.url, row.source_type, round(score, 6))
            for doc_id, (_, score) in top
            if (row := rows.get(doc_id)) is not None
        ]
