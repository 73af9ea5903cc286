"""The document pipeline: read -> decode -> parse -> chunk -> hash -> embed what is new -> write.

Work goes in batches of documents. Each batch embeds all its new chunks in one call (the model is the
cost; batching across documents keeps it busy) and writes in one transaction, so a reader sees each
document either in its old version or in its new one, and a crash loses at most the batch in flight,
which a re-run redoes without embedding anything already written.

Inside that transaction each document is written under a SAVEPOINT: a document the database refuses is
rolled back alone and recorded as a failure of its own (the database's message goes to the server log,
never to a user), and the batch goes on. Identifiers longer than their columns are refused before the
document is even read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.relationships import write_links
from lightfast.app.store_settings import store_choice
from lightfast.db import documents as docs_repo
from lightfast.db import generations
from lightfast.db.models import Store
from lightfast.db.statuses import JobStatus
from lightfast.db.tenancy import bump_generation
from lightfast.embed.base import Embedder, Tokenizer
from lightfast.embed.registry import EmbedderPool
from lightfast.errors import Conflict, DocumentRejected, NotFound
from lightfast.ingest.chunking import chunk_markdown
from lightfast.ingest.files import Rejection, decode_text
from lightfast.ingest.hashing import chunk_hash, config_hash, content_hash, document_id
from lightfast.ingest.markdown import parse_document, slugify
from lightfast.relationships import DocumentLinks, document_links
from lightfast.sources.base import SourceFile

log = logging.getLogger("lightfast.sync")

# What a database says when it refuses one document's rows (a value it cannot hold, a constraint): that
# document fails. Other database errors (a lost connection, a lock timeout) fail the batch, to be retried.
DOCUMENT_DB_ERRORS = (DataError, IntegrityError, ProgrammingError)
DATABASE_ERROR_MESSAGE = "the database could not store this document; the server log has the details"


@dataclass(frozen=True)
class Failure:
    source_id: str
    path: str
    reason: str
    message: str


@dataclass
class SyncSummary:
    documents_added: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_deleted: int = 0
    documents_failed: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    chunks_deleted: int = 0
    tokens_embedded: int = 0
    embedding_seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # things a user should know, e.g. settings not used

    @property
    def status(self) -> JobStatus:
        return JobStatus.COMPLETED_WITH_ERRORS if self.documents_failed else JobStatus.COMPLETED

    def merge(self, other: SyncSummary) -> None:
        for name in self.counts():
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.embedding_seconds += other.embedding_seconds
        self.failures.extend(other.failures)
        self.warnings.extend(w for w in other.warnings if w not in self.warnings)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if isinstance(v, int) and not isinstance(v, bool)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SyncSummary:
        summary = cls()
        for name in summary.counts():
            setattr(summary, name, int(data.get(name, 0)))
        summary.embedding_seconds = float(data.get("embedding_seconds", 0.0))
        summary.failures = [Failure(**f) for f in data.get("failures", [])]
        summary.warnings = [str(w) for w in data.get("warnings", [])]
        return summary

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "embedding_seconds": round(self.embedding_seconds, 3),
            "failures": [asdict(f) for f in self.failures],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Progress:
    documents_done: int
    documents_total: int
    chunks_done: int


# Called inside a batch's write transaction, after its documents and failures, before it commits: the
# caller stores the batch's result and progress with its writes (``SyncRunner.run_batch``).
OnCommit = Callable[[Session, "SyncSummary"], None]


@dataclass(frozen=True)
class SyncTarget:
    """Where the documents go: a store, fed by one connected source of one source type."""

    store: Store
    connection_id: str
    source_type: str
    job_id: str | None = None


@dataclass
class _Prepared:
    file: SourceFile
    doc_id: str
    content_hash: str
    title: str
    slug: str
    frontmatter: dict[str, Any]
    body: str
    chunks: list[tuple[int, str, str, int]]  # (index, text, hash, tokens)
    is_new: bool
    links: DocumentLinks | None = None  # the relationship graph's part (issue 14), read before the write


def _printable(text: str) -> str:
    """A path git decoded with surrogate escapes, shown with its undecodable bytes as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _split_unencodable(files: Sequence[SourceFile]) -> tuple[list[SourceFile], list[Failure]]:
    """Files whose name is not valid UTF-8 (git allows any bytes) cannot be stored or hashed as text:
    each becomes a failure of its own instead of failing the batch."""
    good: list[SourceFile] = []
    bad: list[Failure] = []
    for file in files:
        try:
            file.source_id.encode("utf-8")
            file.path.encode("utf-8")
        except UnicodeEncodeError:
            path = _printable(file.path)
            bad.append(
                Failure(_printable(file.source_id), path, "invalid_path", "the file name is not valid UTF-8")
            )
        else:
            good.append(file)
    return good, bad


def store_config_hash(store: Store) -> str:
    """The config hash every document of the store is indexed under."""
    return config_hash(
        store.embedding_provider,
        store.embedding_model,
        store.embedding_dim,
        store.chunk_max_tokens,
        store.chunk_overlap,
    )


class Pipeline:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        embedder: Embedder,
        tokenizer: Tokenizer,
        *,
        max_file_bytes: int,
        batch_documents: int = 32,
        embedders: EmbedderPool | None = None,
    ) -> None:
        self.sessions = sessions
        self.embedder = embedder
        self.tokenizer = tokenizer
        # A store is embedded with its own model (issue 15): the pool builds it; without a pool (tests
        # that wire a pipeline by hand) every store is embedded with ``embedder``.
        self.embedders = embedders
        self.max_file_bytes = max_file_bytes
        self.batch_documents = batch_documents

    # -- a run is driven by lightfast.app.sync.SyncRunner, one batch at a time ------------------

    def delete(
        self, target: SyncTarget, document_ids: Sequence[str], on_commit: OnCommit | None = None
    ) -> SyncSummary:
        summary = SyncSummary()
        if not document_ids and on_commit is None:
            return summary
        with self.sessions.begin() as session:
            if document_ids:
                # A source whose lightfast.yml moved it to another store leaves documents in the old one.
                stores = docs_repo.stores_of(session, document_ids) | {target.store.id}
                summary.documents_deleted, summary.chunks_deleted = docs_repo.delete_documents(
                    session, document_ids
                )
                for store_id in sorted(stores):
                    bump_generation(session, store_id)
            if on_commit is not None:
                on_commit(session, summary)
        return summary

    # -- one batch --------------------------------------------------------------------------------

    def process_batch(
        self,
        target: SyncTarget,
        files: Sequence[SourceFile],
        should_stop: Callable[[], bool] | None = None,
        on_commit: OnCommit | None = None,
    ) -> SyncSummary:
        """Index one batch; writes all of it in one transaction, or nothing if ``should_stop`` says so
        before the write (a cancel then leaves every document of the batch in its old version, and
        ``on_commit`` is not called). ``on_commit`` runs inside that transaction, last."""
        store = target.store
        summary = SyncSummary()
        config = store_config_hash(store)
        files, misnamed = _split_unencodable(files)
        summary.documents_failed += len(misnamed)
        summary.failures.extend(misnamed)
        ids = {f.source_id: document_id(store.id, target.source_type, f.source_id) for f in files}
        with self.sessions() as session:
            states = docs_repo.document_states(session, list(ids.values()))

        prepared: list[_Prepared] = []
        for file in files:
            doc_id = ids[file.source_id]
            outcome = self._prepare(store, file, doc_id, states.get(doc_id), config)
            if isinstance(outcome, Failure):
                summary.documents_failed += 1
                summary.failures.append(outcome)
            elif outcome is None:
                summary.documents_unchanged += 1
            else:
                # Extracted here, outside the write transaction: the text is in hand, and the
                # transaction only writes the rows.
                source = (target.source_type, file.source_id, file.path)
                outcome.links = document_links(*source, outcome.body, file.metadata, file.relationships)
                prepared.append(outcome)
        if not prepared and not summary.failures and on_commit is None:
            return summary

        with self.sessions() as session:
            reusable = docs_repo.reusable_embeddings(session, [p.doc_id for p in prepared], config)
            old_hashes = {
                p.doc_id: docs_repo.chunk_hashes(session, p.doc_id) for p in prepared if not p.is_new
            }
        vectors = self._embed_missing(self.embedder_for(store), prepared, reusable, summary, should_stop)
        if vectors is None:
            return SyncSummary()

        with self.sessions.begin() as session:
            # The store switched models since this sync planned (issue 15): its vectors must not land.
            current = generations.store_model(session, store.id)
            recorded = (store.embedding_provider, store.embedding_model, store.embedding_dim)
            if current is not None and current != recorded:
                raise Conflict(
                    f"store {store.name!r} switched to the embedding model {current[1]} during this sync; "
                    "retry the job to index with it"
                )
            written = 0
            for item in prepared:
                entries = [
                    docs_repo.EntryWrite(
                        chunk_index=index,
                        content_hash=digest,
                        content=text,
                        token_count=tokens,
                        embedding=vectors[(item.doc_id, digest)],
                    )
                    for index, text, digest, tokens in item.chunks
                ]
                try:
                    with docs_repo.savepoint(session):
                        docs_repo.write_document(session, self._document_row(target, item, config), entries)
                        if item.links is not None:
                            write_links(
                                session,
                                store,
                                item.doc_id,
                                target.source_type,
                                item.file,
                                item.links,
                                new=item.is_new,
                            )
                except DOCUMENT_DB_ERRORS:
                    # The database's own message may quote the SQL and the row: the server log only.
                    log.exception("the database refused document %s (%s)", item.doc_id, item.file.path)
                    failure = Failure(
                        item.file.source_id, item.file.path, "database_error", DATABASE_ERROR_MESSAGE
                    )
                    summary.documents_failed += 1
                    summary.failures.append(failure)
                    continue
                written += 1
                new_hashes = {digest for _, _, digest, _ in item.chunks}
                summary.chunks_deleted += sum(
                    1 for h in old_hashes.get(item.doc_id, []) if h not in new_hashes
                )
                if item.is_new:
                    summary.documents_added += 1
                else:
                    summary.documents_updated += 1
            for failure in summary.failures:
                docs_repo.record_failure(
                    session,
                    store_id=store.id,
                    job_id=target.job_id,
                    source_type=target.source_type,
                    source_id=failure.source_id,
                    path=failure.path,
                    reason=failure.reason,
                    message=failure.message,
                )
            if written:
                bump_generation(session, store.id)
            if on_commit is not None:
                on_commit(session, summary)
        return summary

    def _prepare(
        self, store: Store, file: SourceFile, doc_id: str, state: docs_repo.DocumentState | None, config: str
    ) -> _Prepared | Failure | None:
        """The parsed and chunked document, a failure, or None when it is unchanged."""
        too_long = docs_repo.unstorable(file.source_id, file.path, file.url)
        if too_long is not None:
            return Failure(file.source_id, file.path, "path_too_long", f"cannot be stored: {too_long}")
        if file.size is not None and file.size > self.max_file_bytes:
            # The source knows the size up front: refuse without downloading the content.
            return Failure(
                file.source_id,
                file.path,
                "too_large",
                f"file is {file.size:,} bytes; the limit is {self.max_file_bytes:,} bytes",
            )
        try:
            data = file.read()
        except OSError as exc:
            return Failure(
                file.source_id, file.path, "unreadable", f"cannot read the file: {exc.strerror or exc}"
            )
        except NotFound as exc:  # gone from the source between listing and reading
            return Failure(file.source_id, file.path, "unreadable", exc.message)
        except DocumentRejected as exc:  # past the size limit after all (a local file that grew)
            return Failure(file.source_id, file.path, exc.reason, exc.message)
        digest = content_hash(data)
        if (
            state is not None
            and state.content_hash == digest
            and state.config_hash == config
            and state.entry_count == state.chunk_count
        ):
            return None
        text = decode_text(data, self.max_file_bytes)
        if isinstance(text, Rejection):
            return Failure(file.source_id, file.path, text.reason, text.message)
        try:
            parsed = parse_document(text, file.path)
        except DocumentRejected as exc:  # front matter past its limits: this document only is skipped
            return Failure(file.source_id, file.path, exc.reason, exc.message)
        store_chunks = chunk_markdown(
            parsed.body, store.chunk_max_tokens, store.chunk_overlap, self._tokenizer(store).count
        )
        return _Prepared(
            file=file,
            doc_id=doc_id,
            content_hash=digest,
            title=parsed.title,
            slug=slugify(file.path),
            frontmatter=parsed.frontmatter,
            body=parsed.body,
            chunks=[(c.index, c.text, chunk_hash(c.text), c.token_count) for c in store_chunks],
            is_new=state is None,
        )

    def embedder_for(self, store: Store) -> Embedder:
        """The embedder of the store's recorded model, so its documents and its queries share one model."""
        if self.embedders is None:
            return self.embedder
        return self.embedders.get(store_choice(store))

    def _tokenizer(self, store: Store) -> Tokenizer:
        # The process default's tokenizer may be injected (tests): it counts for the default's provider.
        if self.embedders is None or store.embedding_provider == self.embedder.spec.provider:
            return self.tokenizer
        return self.embedders.tokenizer(store_choice(store))

    def _embed_missing(
        self,
        embedder: Embedder,
        prepared: list[_Prepared],
        reusable: dict[tuple[str, str], np.ndarray],
        summary: SyncSummary,
        should_stop: Callable[[], bool] | None = None,
    ) -> dict[tuple[str, str], np.ndarray] | None:
        """Vectors for every chunk, reused or embedded; None if stopped before all were embedded."""
        vectors: dict[tuple[str, str], np.ndarray] = {}
        pending: dict[str, list[tuple[str, str]]] = {}  # chunk hash -> keys that need it
        texts: dict[str, tuple[str, int]] = {}
        for item in prepared:
            for _, text, digest, tokens in item.chunks:
                key = (item.doc_id, digest)
                if key in vectors:
                    continue
                if key in reusable:
                    vectors[key] = reusable[key]
                    summary.chunks_reused += 1
                else:
                    pending.setdefault(digest, []).append(key)
                    texts[digest] = (text, tokens)
        if texts:
            digests = list(texts)
            parts: list[np.ndarray] = []
            step = embedder.batch_size
            for start in range(0, len(digests), step):
                # Checked between model batches so a cancel takes effect within about one batch.
                if should_stop is not None and should_stop():
                    return None
                began = time.perf_counter()
                parts.append(embedder.embed([texts[d][0] for d in digests[start : start + step]]))
                summary.embedding_seconds += time.perf_counter() - began
            embedded = np.concatenate(parts)
            for row, digest in enumerate(digests):
                summary.chunks_embedded += 1
                summary.tokens_embedded += texts[digest][1]
                for key in pending[digest]:
                    vectors[key] = embedded[row]
        return vectors

    def _document_row(self, target: SyncTarget, item: _Prepared, config: str) -> docs_repo.DocumentWrite:
        return docs_repo.DocumentWrite(
            id=item.doc_id,
            store_id=target.store.id,
            connection_id=target.connection_id,
            source_type=target.source_type,
            source_id=item.file.source_id,
            source_metadata=item.file.metadata,
            path=item.file.path,
            url=item.file.url,
            slug=item.slug,
            title=item.title,
            content_hash=item.content_hash,
            config_hash=config,
            frontmatter=item.frontmatter or None,
            content=item.body,
            parent_doc_id=document_id(target.store.id, target.source_type, item.file.parent_source_id)
            if item.file.parent_source_id
            else None,
            relationships=(item.links.relationships or None) if item.links else item.file.relationships,
        )
