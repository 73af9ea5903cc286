"""PostgreSQL search: pgvector HNSW (cosine) and full text (tsvector + GIN)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from lightfast.index.base import Hit, SearchFilters, like_prefix
from lightfast.search.text import tsquery_expression


def _filters_sql(filters: SearchFilters, params: dict[str, object]) -> str:
    clauses = ""
    if filters.source_types:
        params["types"] = list(filters.source_types)
        clauses += " AND d.source_type = ANY(:types)"
    if filters.path_prefix:
        params["prefix"] = like_prefix(filters.path_prefix)
        clauses += " AND d.path LIKE :prefix ESCAPE '\\'"
    if filters.updated_from is not None:
        params["updated_from"] = filters.updated_from
        clauses += " AND d.updated_at >= :updated_from"
    if filters.updated_to is not None:
        params["updated_to"] = filters.updated_to
        clauses += " AND d.updated_at <= :updated_to"
    return clauses


class PostgresIndex:
    def vector_search(
        self, session: Session, store_ids: list[str], vector: np.ndarray, k: int, filters: SearchFilters
    ) -> list[Hit]:
        if not store_ids:
            return []
        dim = int(vector.shape[0])
        params: dict[str, object] = {
            "stores": store_ids,
            "k": k,
            "q": "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]",
        }
        # HNSW filters after the graph walk; a wider beam keeps filtered queries from coming back short.
        session.execute(text(f"SET LOCAL hnsw.ef_search = {max(40, min(1000, 4 * k))}"))
        cast = f"(ve.embedding::vector({dim}))"
        sql = (
            f"SELECT ve.seq, ve.document_id, 1 - ({cast} <=> CAST(:q AS vector({dim}))) AS score "
            "FROM vector_entries ve JOIN documents d ON d.id = ve.document_id "
            f"WHERE ve.store_id = ANY(:stores) AND vector_dims(ve.embedding) = {dim}"
            f"{_filters_sql(filters, params)} "
            f"ORDER BY {cast} <=> CAST(:q AS vector({dim})) LIMIT :k"
        )
        return [
            Hit(int(r.seq), str(r.document_id), float(r.score)) for r in session.execute(text(sql), params)
        ]

    def lexical_search(
        self, session: Session, store_ids: list[str], query: str, k: int, filters: SearchFilters
    ) -> list[Hit]:
        expression = tsquery_expression(query)
        if expression is None or not store_ids:
            return []
        params: dict[str, object] = {"stores": store_ids, "k": k, "tsq": expression}
        sql = (
            "SELECT ve.seq, ve.document_id, ts_rank_cd(ve.tsv, q, 1) AS score "
            "FROM vector_entries ve JOIN documents d ON d.id = ve.document_id, "
            "to_tsquery('english', :tsq) AS q "
            f"WHERE ve.tsv @@ q AND ve.store_id = ANY(:stores){_filters_sql(filters, params)} "
            "ORDER BY score DESC, ve.seq LIMIT :k"
        )
        return [
            Hit(int(r.seq), str(r.document_id), float(r.score)) for r in session.execute(text(sql), params)
        ]
