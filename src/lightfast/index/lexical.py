"""A BM25 index of chunk text in memory (tantivy), updated by chunk: the lexical side of embedded search.

SQLite's FTS5 ranks every row that matches any query term before it can keep the best ones, so a common
word costs a pass over a third of a large store (25 ms at 100k chunks). tantivy keeps posting lists with
block-level score bounds and skips the blocks that cannot enter the top k (block-max WAND): the same query
takes well under a millisecond. This module knows nothing of the database: ``SqliteIndex`` feeds it rows
and the change log, as it feeds the vector tables, and FTS5 stays the transactional index that answers
while this one is built and for filters it cannot apply (``bench/results/search_latency.md``).

Text is analysed as FTS5's ``porter unicode61 remove_diacritics 2`` does, as closely as tantivy allows:
split on anything not a letter or digit, lowercase, fold diacritics to ASCII, English stemming (Snowball's
Porter 2, where FTS5 has the original Porter). Scores are Okapi BM25 (k1 1.2, b 0.75) with tantivy's
``ln(1 + (N - n + 0.5) / (n + 0.5))`` idf, which unlike FTS5's never goes negative for a word in more than
half the chunks; statistics span every store, as FTS5's do.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Sequence

import tantivy

from lightfast.search.text import query_terms

ANALYZER = "lightfast_en"
# A longer token is dropped (tantivy refuses tokens over 65,530 bytes); a 40-character commit id is kept.
MAX_TOKEN_CHARS = 100
# At most this many analysed terms make one query: an API query is bounded in length, this bounds the work
# any caller (the CLI, a script) can ask of one search.
MAX_QUERY_TERMS = 64
_WRITER_HEAP = 32_000_000  # tantivy's minimum is 15 MB a thread; one indexing thread


def _analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_CHARS))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("seq", indexed=True, fast=True)  # vector_entries.seq
    builder.add_text_field("store", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("content", tokenizer_name=ANALYZER, index_option="freq")
    return builder.build()


class LexicalIndex:
    """Chunks of every store, searchable by BM25 within a set of stores.

    One writer thread at a time (``replace`` holds a lock); searches run concurrently with it and see the
    index as of the last ``replace`` that returned.
    """

    def __init__(self) -> None:
        self._schema = _schema()
        self._analyzer = _analyzer()
        self._index = tantivy.Index(self._schema)  # in memory: derived state, rebuilt from the database
        self._index.register_tokenizer(ANALYZER, self._analyzer)
        self._index.config_reader(reload_policy="Manual")
        self._writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        self._lock = threading.Lock()
        self._live: Counter[str] = Counter()  # chunks of each store the index holds

    @property
    def stores(self) -> frozenset[str]:
        """The stores with chunks in the index."""
        return frozenset(store for store, count in self._live.items() if count > 0)

    def replace(self, removed: Iterable[int], rows: Iterable[tuple[int, str, str]]) -> None:
        """Drop the chunks ``removed`` names, then add ``rows`` (seq, store id, content) and publish: a
        changed chunk is in both. Applying the same change twice leaves the same index."""
        with self._lock:
            searcher = self._index.searcher()
            for seq in removed:
                # Which store loses a chunk: the deleted row is gone from the database, not from here.
                found = searcher.search(
                    tantivy.Query.term_query(self._schema, "seq", int(seq)), limit=1, count=False
                )
                for _, address in found.hits:
                    self._live[str(searcher.doc(address)["store"][0])] -= 1
                self._writer.delete_documents_by_term("seq", int(seq))
            self._add(rows)
            self._publish()

    def add(self, rows: Iterable[tuple[int, str, str]]) -> None:
        """Add rows without publishing them (a build adds every batch, then commits once)."""
        with self._lock:
            self._add(rows)

    def commit(self) -> None:
        """Make what ``add`` wrote searchable."""
        with self._lock:
            self._publish()

    def _add(self, rows: Iterable[tuple[int, str, str]]) -> None:
        for seq, store_id, content in rows:
            document = tantivy.Document()
            document.add_integer("seq", int(seq))
            document.add_text("store", store_id)
            document.add_text("content", content)
            self._writer.add_document(document)
            self._live[store_id] += 1

    def _publish(self) -> None:
        self._writer.commit()
        self._index.reload()

    def terms(self, query: str) -> list[str]:
        """The query's words as the index holds them: stopwords out (``query_terms``), analysed, distinct."""
        analysed: dict[str, None] = {}
        for word in query_terms(query):
            for term in self._analyzer.analyze(word):
                analysed[term] = None
        return list(analysed)[:MAX_QUERY_TERMS]

    def search(self, store_ids: Sequence[str], query: str, limit: int) -> list[tuple[int, float]]:
        """The best ``limit`` chunks of the stores for ``query``: (seq, BM25 score), best first, equal
        scores by seq."""
        terms = self.terms(query)
        if not terms or not store_ids or limit <= 0:
            return []
        term_queries = [tantivy.Query.term_query(self._schema, "content", term) for term in terms]
        ranked = tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in term_queries])
        if not self.stores <= set(store_ids):
            # The store clause filters and must not score (a zero constant leaves BM25 as it is). It is
            # left out when every store in the index is asked for: a required clause beside the words
            # stops tantivy skipping the blocks that cannot reach the top k (21 ms against 3 at 1M).
            stores = tantivy.Query.const_score_query(
                tantivy.Query.term_set_query(self._schema, "store", list(store_ids)), 0.0
            )
            ranked = tantivy.Query.boolean_query([(tantivy.Occur.Must, ranked), (tantivy.Occur.Must, stores)])
        searcher = self._index.searcher()
        result = searcher.search(ranked, limit=limit, count=False)
        addresses = [address for _, address in result.hits]
        seqs = searcher.fast_field_values("seq", addresses)
        # Every document has a seq: a missing value could only be a segment from another schema.
        hits = [(int(seq or 0), float(score)) for (score, _), seq in zip(result.hits, seqs, strict=True)]
        hits.sort(key=lambda hit: (-hit[1], hit[0]))
        return hits

    def count(self, store_id: str) -> int:
        """Chunks of the store the index holds."""
        searcher = self._index.searcher()
        query = tantivy.Query.term_query(self._schema, "store", store_id, index_option="basic")
        result = searcher.search(query, limit=1, count=True)
        return int(result.count or 0)  # type: ignore[attr-defined]  # in tantivy's API, not in its stub

    def __len__(self) -> int:
        return int(self._index.searcher().num_docs)
