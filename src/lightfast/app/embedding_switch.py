"""Switching a store's embedding model without downtime (issue 15).

A switch is a job (the ``lightfast.embedding_switch`` workflow) that builds a new generation of the
store's vectors in ``generation_vectors`` while searches keep reading the old ones in ``vector_entries``;
when every chunk text of the store has a staged vector, one transaction copies them over and records the
new model on the store (``db.generations.flip``), then the staged copy is removed. Each step is
idempotent, so a crash resumes where the last finished step left off, and a cancel leaves the store on
its old model (it never stopped serving it).

An ingest running during the switch keeps writing chunks with the store's old model; the flip step
embeds whatever chunk texts appeared since the last batch and flips only when none is missing, with the
store row locked, so no document ends up without a vector of the new model."""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lightfast.db import activities, tenancy
from lightfast.db import generations as gen_repo
from lightfast.db import jobs as jobs_repo
from lightfast.db.generation_models import EmbeddingGeneration
from lightfast.db.models import Store
from lightfast.db.statuses import ACTIVE as ACTIVE_JOBS
from lightfast.db.statuses import JobStatus, JobTrigger
from lightfast.db.types import utcnow
from lightfast.embed.base import Embedder
from lightfast.embed.registry import EmbedderPool, EmbeddingChoice, spec_for
from lightfast.errors import Conflict, InvalidInput, NotFound, SettingsError
from lightfast.ingest.hashing import config_hash
from lightfast.settings import Settings

EMBEDDING_SWITCH = "embedding_switch"  # Job.input["kind"]
TEXTS_PER_STEP = 512  # chunk texts embedded per workflow step: what a crash may have to embed again
DROP_PER_STEP = 5000
FLIP_RETRY_SECONDS = 1.0  # a flip blocked by a running sync waits this long before the next try
HOSTED = ("cohere", "openai")  # providers called over HTTP: the estimate counts their requests


@dataclass(frozen=True)
class SwitchEstimate:
    """What a switch will embed and cost, shown before it starts."""

    store: str
    provider: str
    model: str
    dimensions: int
    current_provider: str
    current_model: str
    current_dimensions: int
    chunks: int  # chunk rows of the store
    texts: int  # distinct chunk texts: what is embedded
    tokens: int  # by the store's tokenizer (a hosted provider counts its own a little differently)
    requests: int  # calls to a hosted provider; 0 for a model in this process
    cost_usd: float | None  # when LIGHTFAST_EMBEDDING_PRICES names the model

    def wire(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "provider": self.provider,
            "model": self.model,
            "dimensions": self.dimensions,
            "current": {
                "provider": self.current_provider,
                "model": self.current_model,
                "dimensions": self.current_dimensions,
            },
            "chunks": self.chunks,
            "texts": self.texts,
            "tokens": self.tokens,
            "requests": self.requests,
            "costUsd": self.cost_usd,
        }


def estimated_cost(tokens: int, price_per_million: float | None) -> float | None:
    """Dollars for ``tokens`` at a price per million tokens, rounded up to the cent (an estimate should
    not promise less than the bill); None without a price."""
    if price_per_million is None:
        return None
    return math.ceil(tokens * price_per_million / 10_000) / 100


def describe_estimate(estimate: SwitchEstimate) -> list[str]:
    """The estimate as lines a person reads (the CLI prints them, the console shows them)."""
    lines = [
        f"store {estimate.store}: {estimate.current_provider}/{estimate.current_model} "
        f"({estimate.current_dimensions}-d) -> {estimate.provider}/{estimate.model} "
        f"({estimate.dimensions}-d)",
        f"chunks: {estimate.chunks:,} ({estimate.texts:,} distinct texts to embed)",
        f"tokens: {estimate.tokens:,}",
    ]
    if estimate.requests:
        lines.append(f"requests to {estimate.provider}: {estimate.requests:,}")
    else:
        lines.append("requests: none (the model runs in this process)")
    if estimate.cost_usd is not None:
        lines.append(f"estimated cost: ${estimate.cost_usd:,.2f}")
    elif estimate.requests:
        lines.append(
            f"cost: no price configured (LIGHTFAST_EMBEDDING_PRICES '{estimate.provider}/{estimate.model}')"
        )
    lines.append("searches keep using the current model until the new vectors are complete")
    return lines


class EmbeddingSwitches:
    """Estimate, start and run a store's switch to another embedding model."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], embedders: EmbedderPool) -> None:
        self.settings = settings
        self.sessions = sessions
        self.embedders = embedders

    # -- asking ---------------------------------------------------------------------------------------

    def _embedder(self, choice: EmbeddingChoice) -> Embedder:
        try:
            return self.embedders.get(choice)
        except SettingsError as exc:  # the registry's message names the provider and the model
            raise InvalidInput(exc.message, field="model") from None

    def _store(self, session: Session, workspace_id: str, name: str) -> Store:
        store = tenancy.find_store_by_name(session, workspace_id, name)
        if store is None:
            raise NotFound(f"store {name!r} does not exist")
        return store

    def estimate(self, workspace_id: str, store_name: str, choice: EmbeddingChoice) -> SwitchEstimate:
        try:  # checked without building anything: an estimate never loads a local model
            spec = spec_for(choice, self.settings)
        except SettingsError as exc:
            raise InvalidInput(exc.message, field="model") from None
        if missing := _missing_key(spec.provider, self.settings):
            raise InvalidInput(
                f"{spec.provider}/{spec.name} needs an API key this server does not have: set {missing}",
                field="provider",
            )
        if not spec.dimension:
            raise InvalidInput(
                f"{choice.provider}/{choice.model}: name the model's dimensions", field="dimensions"
            )
        with self.sessions() as session:
            store = self._store(session, workspace_id, store_name)
            if (store.embedding_provider, store.embedding_model, store.embedding_dim) == (
                spec.provider,
                spec.name,
                spec.dimension,
            ):
                raise InvalidInput(
                    f"store {store_name!r} is embedded with {spec.provider}/{spec.name} already",
                    field="model",
                )
            chunks, texts, tokens = gen_repo.chunk_totals(session, store.id)
            counts = gen_repo.distinct_token_counts(session, store.id)
            current = (store.embedding_provider, store.embedding_model, store.embedding_dim)
        price = self.settings.embedding_prices.get(f"{spec.provider}/{spec.name}")
        return SwitchEstimate(
            store=store_name,
            provider=spec.provider,
            model=spec.name,
            dimensions=spec.dimension,
            current_provider=current[0],
            current_model=current[1],
            current_dimensions=current[2],
            chunks=chunks,
            texts=texts,
            tokens=tokens,
            requests=self._embedder(choice).requests_for(counts) if spec.provider in HOSTED else 0,
            cost_usd=estimated_cost(tokens, price),
        )

    def start(
        self, workspace_id: str, store_name: str, choice: EmbeddingChoice, *, triggered_by: str | None = None
    ) -> tuple[str, SwitchEstimate]:
        """Queue the switch job; (job id, estimate). Conflict while another switch of the store runs."""
        estimate = self.estimate(workspace_id, store_name, choice)
        with self.sessions.begin() as session:
            store = self._store(session, workspace_id, store_name)
            earlier = gen_repo.building_generation(session, store.id)
            if earlier is not None:
                job = jobs_repo.find_job(session, earlier.job_id) if earlier.job_id else None
                if job is not None and job.status in ACTIVE_JOBS:
                    raise Conflict(
                        f"store {store_name!r} is switching to {earlier.model} already (job {job.id}); "
                        "cancel that job first"
                    )
                # A cancelled or failed switch that was never retried: this one supersedes it.
                earlier.status = gen_repo.CANCELLED
                earlier.message = "superseded by a newer switch"
            workspace = tenancy.find_workspace_by_id(session, workspace_id)
            if workspace is None:
                raise NotFound(f"workspace {workspace_id!r} does not exist")
            job = jobs_repo.create_job(
                session,
                workspace_id=workspace_id,
                organization_id=workspace.organization_id,
                store_id=store.id,
                name=f"Switch {store_name} to {estimate.model}",
                trigger=JobTrigger.MANUAL,
                triggered_by=triggered_by,
                input={"kind": EMBEDDING_SWITCH, "store": store_name, "estimate": estimate.wire()},
            )
            generation = gen_repo.create_generation(
                session,
                store_id=store.id,
                job_id=job.id,
                provider=estimate.provider,
                model=estimate.model,
                dimensions=estimate.dimensions,
                chunk_max_tokens=store.chunk_max_tokens,
                chunk_overlap=store.chunk_overlap,
                previous_model=store.embedding_model,
            )
            job.input = {**job.input, "generationId": generation.id}
            return job.id, estimate

    def generations(self, workspace_id: str, store_name: str) -> list[tuple[EmbeddingGeneration, str]]:
        """The store's switches, newest first, each with the state to show: a building generation whose
        job ended (cancelled, failed) says so, though a retry of that job may still revive it."""
        with self.sessions() as session:
            store = self._store(session, workspace_id, store_name)
            shown = []
            for generation in gen_repo.store_generations(session, store.id):
                state = generation.status
                job = jobs_repo.find_job(session, generation.job_id) if generation.job_id else None
                if state == gen_repo.BUILDING and job is not None and job.status not in ACTIVE_JOBS:
                    state = str(job.status)
                shown.append((generation, state))
            return shown

    # -- the workflow's steps (each idempotent) -------------------------------------------------------

    def _generation(self, session: Session, job_id: str) -> EmbeddingGeneration:
        job = jobs_repo.get_job(session, job_id)
        generation = gen_repo.get_generation(session, str(job.input.get("generationId")))
        if generation is None:
            raise NotFound(f"job {job_id} switches a store whose new generation is gone")
        if generation.status in (gen_repo.CANCELLED, gen_repo.FAILED):
            # A retry of a switch that a newer one superseded: going on would race the newer one.
            raise Conflict(f"this switch to {generation.model} was {generation.status}: {generation.message}")
        if generation.job_id != job_id:  # a retry's fork carries the generation over
            generation.job_id = job_id
        return generation

    def begin(self, job_id: str) -> int:
        """Mark the job running; its progress total is the store's distinct chunk texts."""
        with self.sessions.begin() as session:
            generation = self._generation(session, job_id)
            jobs_repo.start_job(session, job_id, generation.store_id)
            _, texts, _ = gen_repo.chunk_totals(session, generation.store_id)
            staged = gen_repo.count_staged(session, generation.id)
            jobs_repo.set_progress(session, job_id, staged, texts)
            return texts

    def _stopped(self, job_id: str) -> bool:
        with self.sessions() as session:
            return jobs_repo.get_job(session, job_id).status == JobStatus.CANCELLED

    def embed_batch(self, job_id: str) -> int:
        """Embed up to TEXTS_PER_STEP chunk texts the generation lacks; the number staged (0: none left,
        -1: the job was cancelled meanwhile)."""
        with self.sessions() as session:
            generation = self._generation(session, job_id)
            if generation.status != gen_repo.BUILDING:
                return 0
            choice = EmbeddingChoice(generation.provider, generation.model, generation.dimensions)
            missing = gen_repo.missing_texts(session, generation, TEXTS_PER_STEP)
            generation_id = generation.id
        if not missing:
            return 0
        embedder = self.embedders.get(choice)
        staged = 0
        for start in range(0, len(missing), embedder.batch_size):
            if self._stopped(job_id):  # checked between model batches: a cancel acts within one batch
                return -1
            part = missing[start : start + embedder.batch_size]
            vectors = embedder.embed([text for _, text in part])
            with self.sessions.begin() as session:
                gen_repo.stage_vectors(
                    session, generation_id, {d: v for (d, _), v in zip(part, vectors, strict=True)}
                )
                job = jobs_repo.get_job(session, job_id)
                done = gen_repo.count_staged(session, generation_id)
                jobs_repo.set_progress(session, job_id, done, max(job.progress_total or 0, done))
            staged += len(part)
        return staged

    def flip(self, job_id: str) -> bool:
        """Flip when every chunk text has a staged vector; False if an ingest added texts since the last
        batch (the workflow embeds them and tries again)."""
        try:
            return self._flip(job_id)
        except _Incomplete:  # rolled back: the store is still on its old model, whole
            return False

    def _flip(self, job_id: str) -> bool:
        with self.sessions.begin() as session:
            generation = self._generation(session, job_id)
            if generation.status == gen_repo.ACTIVE:
                return True  # this step ran before a crash
            store = gen_repo.lock_store(session, generation.store_id)
            if store is None:
                raise NotFound(f"the store of job {job_id} is gone")
            if gen_repo.missing_texts(session, generation, 1):
                return False
            if gen_repo.running_jobs_of_store(session, store.id, job_id):
                # A sync running now embeds with the old model until it ends: flipping under it would
                # leave its chunks in the wrong model. Wait a little and let the workflow try again.
                time.sleep(FLIP_RETRY_SECONDS)
                return False
            gen_repo.ensure_dimension_index(session, generation.dimensions)
            old_hash = _store_hash(
                store.embedding_provider, store.embedding_model, store.embedding_dim, store
            )
            new_hash = _store_hash(generation.provider, generation.model, generation.dimensions, store)
            total, _, _ = gen_repo.chunk_totals(session, store.id)
            chunks = gen_repo.flip(session, generation, config_hashes=(old_hash, new_hash), at=utcnow())
            if chunks != total:
                # Never reached while every writer of chunks goes through the pipeline's guard; if one
                # did not, a chunk would lose its vector: undo the flip rather than commit that.
                raise _Incomplete
            activities.record_activity(
                session,
                workspace_id=store.workspace_id,
                actor_type="system",
                actor_id=job_id,
                category="store",
                action="store.embedding_switched",
                entity_type="store",
                entity_id=store.id,
                details={
                    "store": store.name,
                    "from": generation.previous_model,
                    "to": generation.model,
                    "dimensions": generation.dimensions,
                    "chunks": chunks,
                },
            )
            return True

    def drop_staged(self, job_id: str) -> int:
        with self.sessions.begin() as session:
            generation = self._generation(session, job_id)
            return gen_repo.drop_staged(session, generation.id, DROP_PER_STEP)

    def finish(self, job_id: str) -> str:
        with self.sessions.begin() as session:
            generation = self._generation(session, job_id)
            job = jobs_repo.get_job(session, job_id)
            if job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
                return str(job.status)
            output = {"store": job.input.get("store"), "model": generation.model, "texts": job.progress_total}
            jobs_repo.finish_job(session, job_id, status=JobStatus.COMPLETED, output=output)
            return str(JobStatus.COMPLETED)

    def fail(self, job_id: str, message: str) -> None:
        with self.sessions.begin() as session:
            job = jobs_repo.find_job(session, job_id)
            if job is None or job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED, JobStatus.FAILED):
                return
            with contextlib.suppress(NotFound, Conflict):
                self._generation(session, job_id).message = message[:1000]
            jobs_repo.finish_job(session, job_id, status=JobStatus.FAILED, error_message=message[:2000])

    def run_inline(self, job_id: str) -> str:
        """Run a switch job in this thread, step by step as the workflow does (tests, ``--wait`` paths)."""
        try:
            self.begin(job_id)
            while True:
                staged = self.embed_batch(job_id)
                if staged < 0:
                    return str(JobStatus.CANCELLED)
                if staged == 0 and self.flip(job_id):
                    break
            while self.drop_staged(job_id):
                pass
            return self.finish(job_id)
        except Exception as exc:
            self.fail(job_id, str(exc) or type(exc).__name__)
            raise


def _store_hash(provider: str, model: str, dimensions: int, store: Store) -> str:
    return config_hash(provider, model, dimensions, store.chunk_max_tokens, store.chunk_overlap)


def _missing_key(provider: str, settings: Settings) -> str | None:
    """The setting a hosted provider's key comes from, when it is unset: refused before a switch starts
    rather than failing at its first batch. An OpenAI-compatible server of one's own may need no key."""
    if provider == "cohere" and settings.cohere_api_key is None:
        return "LIGHTFAST_COHERE_API_KEY"
    hosted_openai = "api.openai.com" in settings.openai_base_url
    if provider == "openai" and hosted_openai and settings.openai_api_key is None:
        return "LIGHTFAST_OPENAI_API_KEY"
    return None


class _Incomplete(Exception):
    """A flip that would have left a chunk without a vector of the new model; its transaction is undone."""
