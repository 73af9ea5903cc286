"""A store's embedding and chunking settings, which belong to the store: the worker that runs a job uses
the store's recorded settings, never its own. A new store takes them from ``lightfast.yml``, else from what
the job asked for (``store_request``: the settings the process that queued it set explicitly), else from
the model; a job that asks for other settings changes the store and says so in its warnings, and one the
worker cannot honour (another embedding model) fails with a message that says why."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lightfast.db import activities, tenancy
from lightfast.db.models import Job, Store
from lightfast.embed.base import ModelSpec
from lightfast.embed.registry import EmbeddingChoice, model_spec
from lightfast.ingest.config import SourceConfig
from lightfast.settings import Settings


def store_request(settings: Settings) -> dict[str, Any]:
    """The store settings a process asks for explicitly (set in its environment or passed to it), to be
    carried by the jobs it queues to whichever worker runs them. Settings left at their defaults ask for
    nothing: the store's recorded ones are used."""
    asked = settings.model_fields_set
    request: dict[str, Any] = {}
    if "chunk_size" in asked and settings.chunk_size is not None:
        request["chunkSize"] = settings.chunk_size
    if "chunk_overlap" in asked and settings.chunk_overlap is not None:
        request["chunkOverlap"] = settings.chunk_overlap
    if asked & {"embedding_provider", "embedding_model"}:
        spec = model_spec(settings)
        request["embeddingProvider"], request["embeddingModel"] = spec.provider, spec.name
    return request


def store_choice(store: Store) -> EmbeddingChoice:
    """The model a store's vectors are in: what embeds its documents and, so they always match, its
    queries (issue 15)."""
    return EmbeddingChoice(store.embedding_provider, store.embedding_model, store.embedding_dim)


def store_input(request: dict[str, Any] | None) -> dict[str, Any]:
    """The part of a sync job's input that carries a store request (none when nothing was asked)."""
    return {"storeSettings": dict(request)} if request else {}


def chunking(
    spec: ModelSpec, size: int | None, overlap: int | None, current: tuple[int, int] | None = None
) -> tuple[int, int]:
    """(tokens, overlap) of a store: what was asked, else its ``current`` values, else the model's measured
    default; never more than the model reads (its window less the two special tokens), never an overlap
    of more than half a chunk."""
    tokens = size if size is not None else current[0] if current else spec.default_chunk_tokens
    tokens = min(tokens, spec.max_input_tokens - 2)
    over = overlap if overlap is not None else current[1] if current else spec.default_chunk_overlap
    return tokens, min(over, tokens // 2)


def chunk_settings(settings: Settings, spec: ModelSpec) -> tuple[int, int]:
    """The chunking a new store gets from ``settings`` (their override, else the model's default)."""
    return chunking(spec, settings.chunk_size, settings.chunk_overlap)


def store_for(session: Session, job: Job, config: SourceConfig, spec: ModelSpec) -> tuple[Store, list[str]]:
    """The store the configuration names, created or brought to the settings asked for, and what the
    job should tell its user about them. Asked for: ``lightfast.yml`` first, then the job's request;
    nothing asked keeps the store's recorded settings. The worker's own settings play no part."""
    request = dict(job.input.get("storeSettings") or {})
    warnings: list[str] = []
    # ``spec``: what lightfast.yml or the request asks for, built by the worker's pool (SyncRunner.job_spec).
    # A model lightfast.yml names makes new stores only: an existing store is switched by a switch job.
    asked_model = None if config.embedding is not None else request.get("embeddingModel")
    size, overlap = _asked_chunking(config, request, warnings)
    store = tenancy.find_store_by_name(session, job.workspace_id, config.store)
    if store is None:
        tokens, over = chunking(spec, size, overlap)
        store = tenancy.create_store(
            session,
            job.workspace_id,
            config.store,
            provider=spec.provider,
            model=spec.name,
            dimension=spec.dimension,
            chunk_tokens=tokens,
            chunk_overlap=over,
        )
        session.flush()
        # Made by the first sync that names it: its actor is whoever set that sync going.
        actor_type, actor_id = activities.actor_of(job.trigger, job.triggered_by)
        activities.record_activity(
            session,
            workspace_id=job.workspace_id,
            actor_type=actor_type,
            actor_id=actor_id,
            category="store",
            action="store.created",
            entity_type="store",
            entity_id=store.id,
            details={"name": store.name, "model": store.embedding_model, "job": job.id},
            source_id=job.source_id,
        )
        return store, warnings
    current: tuple[int, int] | None = (store.chunk_max_tokens, store.chunk_overlap)
    named = config.embedding
    recorded_model = (store.embedding_provider, store.embedding_model)
    if named is not None and (named.provider, named.model) != recorded_model:
        # A store's model changes only by a switch (a new generation built while the old one serves).
        warnings.append(
            f"{config.path or 'lightfast.yml'} names the embedding model {named.model} ({named.provider}) "
            f"but store {store.name!r} is embedded with {store.embedding_model}; switch it with "
            f"`lightfast stores embedding {store.name} --provider {named.provider} --model {named.model}`"
        )
    recorded = (store.embedding_provider, store.embedding_model, store.embedding_dim)
    # Nothing asked: the store keeps its own model, whatever the worker's default (its pool builds it).
    if asked_model and recorded != (spec.provider, spec.name, spec.dimension):
        warnings.append(
            f"store {store.name!r}: embedding model {store.embedding_model} -> {spec.name} as asked; "
            "every document is embedded again"
        )
        store.embedding_provider, store.embedding_model, store.embedding_dim = (
            spec.provider,
            spec.name,
            spec.dimension,
        )
        current = None  # the new model's chunking defaults, unless asked otherwise
    tokens, over = chunking(spec, size, overlap, current)
    if (tokens, over) != (store.chunk_max_tokens, store.chunk_overlap):
        warnings.append(
            f"store {store.name!r}: chunks of {tokens} tokens overlapping by {over} (were "
            f"{store.chunk_max_tokens} and {store.chunk_overlap}) as asked; its documents are "
            "embedded again"
        )
        store.chunk_max_tokens, store.chunk_overlap = tokens, over
    session.flush()
    return store, warnings


def _asked_chunking(
    config: SourceConfig, request: dict[str, Any], warnings: list[str]
) -> tuple[int | None, int | None]:
    """(chunk size, overlap) asked for: lightfast.yml's when it sets them, else the job's request. A
    request that lightfast.yml overrules is reported."""
    asked: list[int | None] = []
    for key, setting, variable in (
        ("chunk_size", "chunkSize", "LIGHTFAST_CHUNK_SIZE"),
        ("chunk_overlap", "chunkOverlap", "LIGHTFAST_CHUNK_OVERLAP"),
    ):
        in_file: int | None = getattr(config, key, None)
        requested: int | None = request.get(setting)
        if in_file is not None and requested is not None and in_file != requested:
            warnings.append(
                f"{config.path or 'lightfast.yml'} sets {key}: {in_file}; the {requested} asked for "
                f"({variable}) was not used"
            )
        asked.append(in_file if in_file is not None else requested)
    return asked[0], asked[1]
