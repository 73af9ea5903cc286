"""SQL of a store's embedding switch (issue 15): generations, staged vectors, and the flip."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from lightfast.db.generation_models import EmbeddingGeneration, GenerationVector
from lightfast.db.models import Document, Job, Store, VectorEntry
from lightfast.db.statuses import JobStatus

BUILDING = "building"
ACTIVE = "active"
CANCELLED = "cancelled"
FAILED = "failed"
# pgvector's HNSW indexes take at most 2,000 dimensions; a larger model is searched exactly.
HNSW_MAX_DIMENSIONS = 2000


def create_generation(session: Session, **values: object) -> EmbeddingGeneration:
    generation = EmbeddingGeneration(**values)
    session.add(generation)
    session.flush()
    return generation


def get_generation(session: Session, generation_id: str) -> EmbeddingGeneration | None:
    return session.get(EmbeddingGeneration, generation_id)


def building_generation(session: Session, store_id: str) -> EmbeddingGeneration | None:
    """The store's switch under way, if any (at most one: the service refuses a second)."""
    return session.scalars(
        select(EmbeddingGeneration).where(
            EmbeddingGeneration.store_id == store_id, EmbeddingGeneration.status == BUILDING
        )
    ).first()


def store_generations(session: Session, store_id: str, limit: int = 20) -> Sequence[EmbeddingGeneration]:
    return session.scalars(
        select(EmbeddingGeneration)
        .where(EmbeddingGeneration.store_id == store_id)
        .order_by(EmbeddingGeneration.created_at.desc())
        .limit(limit)
    ).all()


def chunk_totals(session: Session, store_id: str) -> tuple[int, int, int]:
    """(chunks, distinct chunk texts, tokens of the distinct texts) of a store: what a switch embeds."""
    chunks = session.scalar(select(func.count()).where(VectorEntry.store_id == store_id)) or 0
    distinct = (
        select(VectorEntry.content_hash, func.max(VectorEntry.token_count).label("tokens"))
        .where(VectorEntry.store_id == store_id)
        .group_by(VectorEntry.content_hash)
        .subquery()
    )
    row = session.execute(select(func.count(), func.coalesce(func.sum(distinct.c.tokens), 0))).one()
    return int(chunks), int(row[0]), int(row[1])


def missing_texts(session: Session, generation: EmbeddingGeneration, limit: int) -> list[tuple[str, str]]:
    """Up to ``limit`` (content hash, text) of the store's chunks with no staged vector yet, in hash
    order: an ingest running during the switch adds chunks, and they show up here too."""
    staged = select(GenerationVector.content_hash).where(GenerationVector.generation_id == generation.id)
    rows = session.execute(
        select(VectorEntry.content_hash, func.min(VectorEntry.content))
        .where(VectorEntry.store_id == generation.store_id, VectorEntry.content_hash.not_in(staged))
        .group_by(VectorEntry.content_hash)
        .order_by(VectorEntry.content_hash)
        .limit(limit)
    ).all()
    return [(row[0], row[1]) for row in rows]


def count_staged(session: Session, generation_id: str) -> int:
    count = select(func.count()).where(GenerationVector.generation_id == generation_id)
    return int(session.scalar(count) or 0)


def stage_vectors(session: Session, generation_id: str, vectors: dict[str, np.ndarray]) -> None:
    """Store staged vectors; a hash staged already (a step run again after a crash) is left alone."""
    present = set(
        session.scalars(
            select(GenerationVector.content_hash).where(
                GenerationVector.generation_id == generation_id,
                GenerationVector.content_hash.in_(list(vectors)),
            )
        )
    )
    session.add_all(
        GenerationVector(generation_id=generation_id, content_hash=digest, embedding=vector)
        for digest, vector in vectors.items()
        if digest not in present
    )


def lock_store(session: Session, store_id: str) -> Store | None:
    """The store row, locked until the transaction ends on PostgreSQL (SQLite's write transaction is
    exclusive already): the flip and an ingest's write never interleave."""
    return session.scalars(select(Store).where(Store.id == store_id).with_for_update()).first()


def ensure_dimension_index(session: Session, dimensions: int) -> None:
    """PostgreSQL: the partial HNSW index for the new dimension, made before the flip so the flip's
    UPDATE fills it (no row has that dimension yet, so building it is instant)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or not 0 < dimensions <= HNSW_MAX_DIMENSIONS:
        return
    session.execute(
        text(
            f"CREATE INDEX IF NOT EXISTS ix_vector_entries_hnsw_{int(dimensions)} ON vector_entries "
            f"USING hnsw ((embedding::vector({int(dimensions)})) vector_cosine_ops) "
            f"WHERE vector_dims(embedding) = {int(dimensions)}"
        )
    )


def flip(
    session: Session, generation: EmbeddingGeneration, *, config_hashes: tuple[str, str], at: datetime
) -> int:
    """Make the generation the store's: copy every staged vector into its chunks, record the new model
    on the store and the new configuration hash on its documents (or the next sync would embed them
    all again), in the caller's transaction. Returns the chunks updated: a chunk with no staged vector
    keeps its old one, and the caller undoes the transaction when any did."""
    staged = (
        select(GenerationVector.embedding)
        .where(
            GenerationVector.generation_id == generation.id,
            GenerationVector.content_hash == VectorEntry.content_hash,
        )
        .scalar_subquery()
    )
    has_staged = (
        select(GenerationVector.content_hash)
        .where(
            GenerationVector.generation_id == generation.id,
            GenerationVector.content_hash == VectorEntry.content_hash,
        )
        .exists()
    )
    result = session.execute(
        update(VectorEntry)
        .where(VectorEntry.store_id == generation.store_id, has_staged)
        .values(embedding=staged)
        .execution_options(synchronize_session=False)
    )
    old_hash, new_hash = config_hashes
    session.execute(
        update(Document)
        .where(Document.store_id == generation.store_id, Document.config_hash == old_hash)
        .values(config_hash=new_hash)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Store)
        .where(Store.id == generation.store_id)
        .values(
            embedding_provider=generation.provider,
            embedding_model=generation.model,
            embedding_dim=generation.dimensions,
            index_generation=Store.index_generation + 1,
        )
    )
    generation.status = ACTIVE
    generation.flipped_at = at
    return int(getattr(result, "rowcount", 0) or 0)


def drop_staged(session: Session, generation_id: str, limit: int) -> int:
    """Delete up to ``limit`` staged vectors of a generation (after its flip or cancel); the number
    deleted, 0 when none are left."""
    hashes = list(
        session.scalars(
            select(GenerationVector.content_hash)
            .where(GenerationVector.generation_id == generation_id)
            .limit(limit)
        )
    )
    if not hashes:
        return 0
    session.execute(
        delete(GenerationVector).where(
            GenerationVector.generation_id == generation_id, GenerationVector.content_hash.in_(hashes)
        )
    )
    return len(hashes)


def distinct_token_counts(session: Session, store_id: str) -> list[int]:
    """Token counts of the store's distinct chunk texts: a hosted provider's requests are counted from
    them (OpenAI caps the tokens of a call as well as its inputs)."""
    rows = session.scalars(
        select(func.max(VectorEntry.token_count))
        .where(VectorEntry.store_id == store_id)
        .group_by(VectorEntry.content_hash)
    )
    return [int(n) for n in rows]


def store_model(session: Session, store_id: str) -> tuple[str, str, int] | None:
    """The store's recorded (provider, model, dimensions), read under the row lock an ingest's batch
    takes anyway when it bumps the store's generation at its end (FOR NO KEY UPDATE on PostgreSQL): a
    batch's write and a flip (FOR UPDATE) cannot interleave. Taken first in the batch, not as a share
    lock: two batches of one store that each held a share lock deadlocked when both came to the bump.
    It leaves the KEY SHARE locks of inserts that reference the store free."""
    row = session.execute(
        select(Store.embedding_provider, Store.embedding_model, Store.embedding_dim)
        .where(Store.id == store_id)
        .with_for_update(key_share=True)
    ).first()
    return (row[0], row[1], int(row[2])) if row else None


def running_jobs_of_store(session: Session, store_id: str, except_job: str) -> list[str]:
    """Running jobs of the store other than ``except_job``: a sync among them planned with the store's
    current model and writes with it, so the flip waits for it to end."""
    return list(
        session.scalars(
            select(Job.id).where(
                Job.store_id == store_id, Job.status == JobStatus.RUNNING, Job.id != except_job
            )
        )
    )
