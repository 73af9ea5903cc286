"""PostgreSQL search: pgvector HNSW (cosine), and BM25 from the in-memory index each process keeps in step
with the database (``index.lexical_mirror``), or in SQL over the tsvector column and its GIN index while
that is built and for path, date and metadata filters."""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from lightfast.index.base import Hit, SearchFilters, like_prefix
from lightfast.index.lexical import LexicalIndex
from lightfast.index.lexical_mirror import LexicalMirror, PostgresChanges
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
    for i, condition in enumerate(filters.metadata):
        # jsonb containment, answered by the GIN index on documents.source_metadata (migration 0017):
        # the key equals the value, or is an array holding it (containment of a one-element array).
        alternatives = []
        for j, value in enumerate(condition.values):
            params[f"meta{i}_{j}"] = json.dumps({condition.key: value})
            params[f"meta{i}_{j}_in"] = json.dumps({condition.key: [value]})
            alternatives.append(
                f"d.source_metadata @> CAST(:meta{i}_{j} AS jsonb) "
                f"OR d.source_metadata @> CAST(:meta{i}_{j}_in AS jsonb)"
            )
        clauses += " AND (" + " OR ".join(alternatives) + ")"
    return clauses


class PostgresIndex:
    def __init__(self) -> None:
        self.lexical = LexicalMirror(PostgresChanges())

    def reset(self) -> None:
        """Forget the in-memory lexical index; the next search builds it from the database."""
        self.lexical.reset()

    def wait_lexical(self, session: Session) -> LexicalIndex:
        """The in-memory lexical index built and caught up now (benchmarks, ``index rebuild``)."""
        return self.lexical.wait(session)

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
        if not store_ids or k <= 0:
            return []
        hits = self.lexical.search(
            session, store_ids, query, k, filters, lambda seqs: _kept(session, seqs, store_ids, filters)
        )
        return hits if hits is not None else self.sql_search(session, store_ids, query, k, filters)

    def sql_search(
        self, session: Session, store_ids: list[str], query: str, k: int, filters: SearchFilters
    ) -> list[Hit]:
        """BM25 in SQL over the GIN-indexed tsvectors: the fallback, and the reference."""
        expression = tsquery_expression(query)
        if expression is None or not store_ids:
            return []
        params: dict[str, object] = {
            "stores": store_ids,
            "k": k,
            "tsq": expression,
            "words": expression.replace(" | ", " "),
            "k1": BM25_K1,
            "b": BM25_B,
        }
        return [
            Hit(int(r.seq), str(r.document_id), float(r.score))
            for r in session.execute(text(_BM25_SQL.format(filters=_filters_sql(filters, params))), params)
        ]


def _kept(session: Session, seqs: list[int], store_ids: list[str], filters: SearchFilters) -> dict[int, str]:
    """The document of each candidate chunk the database still holds and the filters keep."""
    params: dict[str, object] = {"seqs": seqs, "stores": store_ids}
    sql = (
        "SELECT ve.seq, ve.document_id FROM vector_entries ve JOIN documents d ON d.id = ve.document_id "
        f"WHERE ve.seq = ANY(:seqs) AND ve.store_id = ANY(:stores){_filters_sql(filters, params)}"
    )
    return {int(r.seq): str(r.document_id) for r in session.execute(text(sql), params)}


# Okapi BM25 over chunks, as SQLite's FTS5 ranks them: PostgreSQL's own ts_rank_cd has no inverse document
# frequency, so a common word counted as much as a rare one (SciFact train nDCG@10 0.446 against FTS5's
# 0.701). Document frequencies come from the GIN index, one count per query term; term frequencies from
# the chunk's tsvector positions (of the query's lexemes only); the length is the chunk's token count.
BM25_K1 = 1.2
BM25_B = 0.75
_BM25_SQL = """
WITH terms AS (
    SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', :words))
),
corpus AS (
    SELECT count(*)::float8 AS n, coalesce(avg(token_count), 1)::float8 AS avgdl
    FROM vector_entries WHERE store_id = ANY(:stores)
),
stats AS (
    SELECT t.lexeme, ln(1 + (c.n - f.df + 0.5) / (f.df + 0.5)) AS idf
    FROM terms t
    CROSS JOIN corpus c
    CROSS JOIN LATERAL (
        SELECT count(*)::float8 AS df FROM vector_entries ve
        WHERE ve.store_id = ANY(:stores) AND ve.tsv @@ CAST(quote_literal(t.lexeme) AS tsquery)
    ) f
),
candidates AS (
    SELECT ve.seq, ve.document_id, ve.tsv, greatest(ve.token_count, 1)::float8 AS dl
    FROM vector_entries ve JOIN documents d ON d.id = ve.document_id, to_tsquery('english', :tsq) AS q
    WHERE ve.tsv @@ q AND ve.store_id = ANY(:stores){filters}
)
SELECT ca.seq, ca.document_id,
       sum(
           s.idf * cardinality(u.positions) * (:k1 + 1)
           / (cardinality(u.positions) + :k1 * (1 - :b + :b * ca.dl / c.avgdl))
       ) AS score
FROM candidates ca
CROSS JOIN corpus c
-- Only the query's lexemes: setweight marks them A (the column's are all D) and ts_filter keeps those,
-- in C, where unnesting every lexeme of every matching chunk made SQL rows of them all (4x slower).
CROSS JOIN LATERAL unnest(
    ts_filter(setweight(ca.tsv, 'A', (SELECT array_agg(lexeme) FROM terms)), '{{a}}')
) AS u(lexeme, positions, weights)
JOIN stats s ON s.lexeme = u.lexeme
GROUP BY ca.seq, ca.document_id
ORDER BY score DESC, ca.seq
LIMIT :k
"""
