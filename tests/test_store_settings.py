"""A store's embedding and chunking settings belong to the store, not to the process that runs its jobs
(issue 10, item 19): what a job asks for travels with it to whichever worker runs it, a worker's own
settings never change a store, and what a worker cannot honour fails the job with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from lightfast.app.container import Services, build_services
from lightfast.cli import app
from lightfast.db.models import Job, Store
from lightfast.embed.base import ModelSpec
from lightfast.embed.fake import FAKE_SPEC, FakeEmbedder
from lightfast.settings import Settings
from tests.conftest import make_settings, write
from tests.test_cli import cli_env


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    words = " ".join(f"word{i}" for i in range(120))
    return write(tmp_path / "repo", {"a.md": f"# A\n\n{words}\n", "b.md": "# B\n\nbeta\n"})


def worker(settings: Settings, embedder: FakeEmbedder | None = None) -> Services:
    """Another process on the same database and home: a server's worker, with settings of its own."""
    return build_services(settings, embedder=embedder)


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Services]:
    built = worker(make_settings(tmp_path, database_url))
    yield built
    built.close()


def the_store(services: Services) -> Store:
    with services.sessions() as session:
        return session.scalars(select(Store)).one()


def job_row(services: Services, job_id: str) -> Job:
    with services.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def queue(services: Services, repo: Path, **store_settings: object) -> str:
    registered = services.ingest.register_local(repo)
    if not store_settings:  # as a process that asks for nothing queues it
        return services.jobs.enqueue_sync(registered.workspace_id, registered.connection_id).job_id
    enqueued = services.jobs.enqueue_sync(
        registered.workspace_id, registered.connection_id, store_settings=store_settings
    )
    return enqueued.job_id


def test_a_chunk_size_set_for_the_cli_reaches_the_servers_worker(tmp_path: Path, repo: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**cli_env(tmp_path, database_url), "LIGHTFAST_CHUNK_SIZE": "20"}
    queued = CliRunner().invoke(app, ["ingest", "--detach", str(repo)], env=env)
    assert queued.exit_code == 0, queued.output
    job_id = queued.stdout.strip()

    server = worker(make_settings(tmp_path, database_url))  # the server's worker: no chunk size of its own
    try:
        server.runner.run_inline(job_id)
        assert job_row(server, job_id).status == "completed"
        assert the_store(server).chunk_max_tokens == 20

        # Asked again, differently, of the existing store: the store changes, and the job says so.
        env["LIGHTFAST_CHUNK_SIZE"] = "30"
        queued = CliRunner().invoke(app, ["ingest", "--detach", str(repo)], env=env)
        job_id = queued.stdout.strip()
        server.runner.run_inline(job_id)
        job = job_row(server, job_id)
        assert job.status == "completed"
        assert the_store(server).chunk_max_tokens == 30
        assert job.output is not None
        [warning] = job.output["warnings"]
        assert "chunks of 30 tokens" in warning
        assert "were 20" in warning
    finally:
        server.close()


def test_a_worker_keeps_the_stores_settings_whatever_its_own(
    server: Services, repo: Path, tmp_path: Path, database_url: str
) -> None:
    server.runner.run_inline(queue(server, repo))
    before = the_store(server)
    assert before.chunk_max_tokens == FAKE_SPEC.default_chunk_tokens

    other = worker(make_settings(tmp_path, database_url, chunk_size=50, chunk_overlap=5))
    try:
        job_id = queue(server, repo)  # queued by the server, which asks for nothing
        summary = other.runner.run_inline(job_id)
        after = the_store(other)
        assert after.chunk_max_tokens == before.chunk_max_tokens
        assert after.chunk_overlap == before.chunk_overlap
        assert summary.documents_unchanged == 2
        assert summary.chunks_embedded == 0
        assert summary.warnings == []
    finally:
        other.close()


OTHER_MODEL = ModelSpec(
    provider="fake",
    name="fake-other-384",
    dimension=384,
    max_input_tokens=256,
    default_chunk_tokens=100,
    default_chunk_overlap=10,
)


def test_a_worker_with_another_default_model_embeds_the_store_with_the_stores_own(
    server: Services, repo: Path, tmp_path: Path, database_url: str
) -> None:
    """Issue 15: the worker asks its pool for the store's recorded model, whatever its own default."""
    server.runner.run_inline(queue(server, repo))
    other = worker(make_settings(tmp_path, database_url), embedder=FakeEmbedder(OTHER_MODEL))
    try:
        (repo / "a.md").write_text("# A\n\nchanged words\n")
        summary = other.runner.run_inline(queue(server, repo))
        assert summary.documents_updated == 1
        assert the_store(other).embedding_model == FAKE_SPEC.name  # the store was not touched

        # Asked for explicitly, the worker's model takes the store over, and the job says so.
        job_id = queue(server, repo, embeddingProvider="fake", embeddingModel="fake-other-384")
        summary = other.runner.run_inline(job_id)
        store = the_store(other)
        assert (store.embedding_model, store.chunk_max_tokens) == ("fake-other-384", 100)
        assert summary.documents_updated == 2
        assert any("fake-other-384" in w for w in summary.warnings)
    finally:
        other.close()


def test_a_job_asking_for_a_provider_no_process_can_build_fails_naming_it(
    server: Services, repo: Path
) -> None:
    job_id = queue(server, repo, embeddingProvider="nosuch", embeddingModel="some-model")
    with pytest.raises(Exception, match="nosuch"):
        server.runner.run_inline(job_id)
    job = job_row(server, job_id)
    assert job.status == "failed"
    assert job.error_message is not None
    assert "nosuch" in job.error_message
    assert "some-model" in job.error_message


def test_lightfast_yml_sets_the_stores_chunking_over_a_request(server: Services, repo: Path) -> None:
    (repo / "lightfast.yml").write_text(
        "version: 1\nstore: docs\ninclude: ['*.md']\nchunk_size: 40\nchunk_overlap: 4\n"
    )
    job_id = queue(server, repo, chunkSize=80)
    summary = server.runner.run_inline(job_id)
    store = the_store(server)
    assert (store.chunk_max_tokens, store.chunk_overlap) == (40, 4)
    assert any("sets chunk_size: 40" in warning for warning in summary.warnings), summary.warnings
