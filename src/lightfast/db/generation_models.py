"""Tables of a store's embedding switch (issue 15): a generation of the store's vectors built with a new
model while the active one keeps serving. Imported at the end of ``lightfast.db.models`` so they are part
of its metadata (migration 0017 creates them).

Why a staging table and not a generation column on ``vector_entries``: every read path (SQLite's
in-memory tables fed by the change log, PostgreSQL's partial HNSW indexes, the lexical index, snippets)
keeps reading ``vector_entries.embedding`` alone and never learns about generations, so nothing a search
does changes during a switch. The new vectors wait here, keyed by chunk text hash (a text shared by many
chunks is embedded once, and a chunk re-written by an ingest during the switch with the same text needs
nothing new), and one transaction copies them into ``vector_entries`` with the store's new model: the
flip. The old vectors are gone with that same UPDATE; the staged copy is deleted right after."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lightfast.db.models import Base, Timestamps, new_id
from lightfast.db.types import Embedding, UtcDateTime


class EmbeddingGeneration(Timestamps, Base):
    """One switch of a store's model. ``status``: building (its job embeds), active (flipped: the store
    serves it), cancelled or failed (the store never left its old model)."""

    __tablename__ = "embedding_generations"

    id: Mapped[str] = mapped_column(String(191), primary_key=True, default=lambda: new_id("gen"))
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(191), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(191))
    dimensions: Mapped[int] = mapped_column(Integer)
    chunk_max_tokens: Mapped[int] = mapped_column(Integer)
    chunk_overlap: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="building")
    # What the store served before the flip, for the activity log and the job's output.
    previous_model: Mapped[str] = mapped_column(String(191))
    message: Mapped[str | None] = mapped_column(Text)
    flipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class GenerationVector(Base):
    """A staged vector of a building generation: the embedding of the chunk text whose sha256 is
    ``content_hash`` (``vector_entries.content_hash``), in the generation's model."""

    __tablename__ = "generation_vectors"

    generation_id: Mapped[str] = mapped_column(
        ForeignKey("embedding_generations.id", ondelete="CASCADE"), primary_key=True
    )
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    embedding: Mapped[np.ndarray] = mapped_column(Embedding)
