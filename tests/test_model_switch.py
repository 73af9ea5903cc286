"""Switching a store's embedding model without downtime (issue 15): a job builds the new generation of
its vectors while the old one answers searches, flips atomically, and a cancel leaves the old model
serving. Both databases (the ``database_url`` fixture)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from lightfast.app import embedding_switch
from lightfast.app.container import Services, build_services
from lightfast.app.embedding_switch import describe_estimate, estimated_cost
from lightfast.app.search import SearchMode, SearchRequest
from lightfast.db.generation_models import EmbeddingGeneration, GenerationVector
from lightfast.db.models import Job, Store, VectorEntry
from lightfast.embed.registry import EmbeddingChoice
from lightfast.errors import Conflict, InvalidInput
from tests.conftest import make_settings, write

NEW = EmbeddingChoice("fake", "fake-hash-256", 256)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {f"doc{i}.md": f"# Doc {i}\n\nalpha{i} shared words about topic{i % 3}\n" for i in range(12)}
    return write(tmp_path / "repo", files)


@pytest.fixture
def services(tmp_path: Path, database_url: str, repo: Path) -> Iterator[Services]:
    built = build_services(make_settings(tmp_path, database_url))
    registered = built.ingest.register_local(repo)
    built.runner.run_inline(built.jobs.enqueue_sync(registered.workspace_id, registered.connection_id).job_id)
    yield built
    built.close()


def store_row(services: Services) -> Store:
    with services.sessions() as session:
        return session.scalars(select(Store)).one()


def widths(services: Services) -> set[int]:
    with services.sessions() as session:
        return {int(np.asarray(v).shape[0]) for v in session.scalars(select(VectorEntry.embedding))}


def dense(services: Services, query: str) -> list[str]:
    store = store_row(services)
    response = services.search.search(
        SearchRequest(workspace_id=store.workspace_id, query=query, mode=SearchMode.DENSE, limit=3)
    )
    return [result.path for result in response.results]


def test_search_keeps_the_old_generation_until_the_flip_then_the_new_one(
    services: Services, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedding_switch, "TEXTS_PER_STEP", 4)
    store = store_row(services)
    switches = services.embedding_switches
    estimate = switches.estimate(store.workspace_id, store.name, NEW)
    assert (estimate.chunks, estimate.texts, estimate.requests) == (12, 12, 0)
    assert estimate.tokens > 0
    assert estimate.current_dimensions == 384
    job_id, _ = switches.start(store.workspace_id, store.name, NEW)
    with pytest.raises(Conflict):  # one switch of a store at a time
        switches.start(store.workspace_id, store.name, EmbeddingChoice("fake", "fake-hash-128", 128))

    switches.begin(job_id)
    assert switches.embed_batch(job_id) == 4
    # Half built: the store and every search still use the old model.
    before = dense(services, "alpha3")
    assert before[:1] == ["doc3.md"]
    assert store_row(services).embedding_dim == 384
    assert widths(services) == {384}

    # An ingest during the switch adds a document with the old model: the switch catches it up.
    (repo / "late.md").write_text("# Late\n\nlatecomer words\n")
    registered = services.ingest.register_local(repo)
    services.runner.run_inline(
        services.jobs.enqueue_sync(registered.workspace_id, registered.connection_id).job_id
    )
    while (staged := switches.embed_batch(job_id)) > 0:
        assert store_row(services).embedding_dim == 384
    assert staged == 0
    assert switches.flip(job_id)
    while switches.drop_staged(job_id):
        pass
    assert switches.finish(job_id) == "completed"

    after = store_row(services)
    assert (after.embedding_model, after.embedding_dim) == ("fake-hash-256", 256)
    assert widths(services) == {256}  # every chunk, the late one included
    assert dense(services, "alpha3")[0] == "doc3.md"
    assert dense(services, "latecomer")[0] == "late.md"
    with services.sessions() as session:
        assert session.scalars(select(GenerationVector)).first() is None  # the staging is gone
        generation = session.scalars(select(EmbeddingGeneration)).one()
        assert (generation.status, generation.previous_model) == ("active", "fake-hash-384")

    # The next sync embeds nothing again: the documents' configuration hash moved with the flip.
    summary = services.runner.run_inline(
        services.jobs.enqueue_sync(registered.workspace_id, registered.connection_id).job_id
    )
    assert summary.chunks_embedded == 0


def test_a_cancelled_switch_leaves_the_old_model_serving(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedding_switch, "TEXTS_PER_STEP", 4)
    store = store_row(services)
    switches = services.embedding_switches
    job_id, _ = switches.start(store.workspace_id, store.name, NEW)
    switches.begin(job_id)
    switches.embed_batch(job_id)
    services.jobs.cancel(store.workspace_id, job_id)
    assert switches.embed_batch(job_id) == -1 or switches.run_inline(job_id) == "cancelled"
    after = store_row(services)
    assert (after.embedding_model, after.embedding_dim) == ("fake-hash-384", 384)
    assert widths(services) == {384}
    assert dense(services, "alpha5")[0] == "doc5.md"
    assert [state for _, state in switches.generations(store.workspace_id, store.name)] == ["cancelled"]
    # A new switch supersedes the cancelled one and completes; the old job's retry is refused, never
    # racing the newer one.
    cancelled_id = job_id
    job_id, _ = switches.start(store.workspace_id, store.name, NEW)
    assert switches.run_inline(job_id) == "completed"
    assert store_row(services).embedding_dim == 256
    retry = services.jobs.retry(store.workspace_id, cancelled_id)
    with pytest.raises(Conflict, match="superseded"):
        switches.run_inline(retry.id)
    states = [state for _, state in switches.generations(store.workspace_id, store.name)]
    assert sorted(states) == ["active", "cancelled"]


def test_a_switch_to_the_same_or_an_unknown_model_is_refused_naming_it(services: Services) -> None:
    store = store_row(services)
    switches = services.embedding_switches
    with pytest.raises(InvalidInput, match="already"):
        switches.estimate(store.workspace_id, store.name, EmbeddingChoice("fake", "fake-hash-384", 384))
    with pytest.raises(InvalidInput, match="nosuch"):
        switches.estimate(store.workspace_id, store.name, EmbeddingChoice("nosuch", "m"))
    with pytest.raises(InvalidInput, match="LIGHTFAST_COHERE_API_KEY") as caught:
        switches.estimate(store.workspace_id, store.name, EmbeddingChoice("cohere", "embed-english-v3.0"))
    assert caught.value.field == "provider"


@given(tokens=st.integers(0, 10**10), price=st.floats(0, 1000, allow_nan=False))
def test_an_estimated_cost_never_promises_less_than_the_bill(tokens: int, price: float) -> None:
    cost = estimated_cost(tokens, price)
    assert cost is not None
    assert cost + 1e-6 >= tokens * price / 1_000_000
    assert cost - 0.01 <= tokens * price / 1_000_000 + 1e-6  # and at most a cent more
    assert estimated_cost(tokens, None) is None


def test_the_estimate_reads_as_lines(services: Services) -> None:
    store = store_row(services)
    lines = describe_estimate(services.embedding_switches.estimate(store.workspace_id, store.name, NEW))
    assert lines[0].startswith(f"store {store.name}: fake/fake-hash-384 (384-d) -> fake/fake-hash-256")


def test_the_cli_prints_the_estimate_and_starts_only_when_told(tmp_path: Path, repo: Path) -> None:
    from typer.testing import CliRunner

    from lightfast.cli import app
    from tests.test_cli import cli_env

    env = cli_env(tmp_path)
    runner = CliRunner()
    (repo / "lightfast.yml").write_text("version: 1\nstore: docs\ninclude: ['*.md']\n")
    assert runner.invoke(app, ["ingest", str(repo)], env=env).exit_code == 0
    store = "docs"
    args = ["stores", "embedding", store, "--provider", "fake", "--model", "fake-hash-256"]
    dry = runner.invoke(app, [*args, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "fake/fake-hash-384 (384-d) -> fake/fake-hash-256 (256-d)" in dry.output
    assert "chunks: 12 (12 distinct texts to embed)" in dry.output
    declined = runner.invoke(app, args, env=env, input="n\n")
    assert declined.exit_code == 1
    started = runner.invoke(app, [*args, "--yes", "--json"], env=env)
    assert started.exit_code == 0, started.output
    assert '"jobId": "job_' in started.output
    unknown = runner.invoke(
        app, ["stores", "embedding", store, "--provider", "nosuch", "--model", "m"], env=env
    )
    assert unknown.exit_code != 0
    assert "nosuch" in unknown.output


def test_the_api_answers_the_estimate_and_starts_the_switch(services: Services) -> None:
    from fastapi.testclient import TestClient

    from lightfast.api.app import create_app

    store = store_row(services)
    secret = services.api_keys.create(store.workspace_id, "switch").secret
    client = TestClient(create_app(services))
    headers = {"Authorization": f"Bearer {secret}"}
    url = f"/v1/stores/{store.id}/embedding"
    body = {"provider": "fake", "model": "fake-hash-256", "dimensions": 256}
    dry = client.put(url, json={**body, "dryRun": True}, headers=headers)
    assert dry.status_code == 202, dry.text
    assert dry.json()["jobId"] is None
    assert dry.json()["estimate"]["target"] == {
        "provider": "fake",
        "model": "fake-hash-256",
        "dimensions": 256,
    }
    assert dry.json()["estimate"]["texts"] == 12
    assert store_row(services).embedding_dim == 384  # a dry run changes nothing
    bad = client.put(url, json={**body, "model": "fake-hash-7"}, headers=headers)
    assert bad.status_code == 400
    assert "fake-hash-7" in bad.text
    hostile = client.put(url, json={**body, "provider": "x" * 500}, headers=headers)
    assert hostile.status_code in (400, 422)
    assert "provider" in hostile.text
    started = client.put(url, json=body, headers=headers)
    assert started.status_code == 202, started.text
    job_id = started.json()["jobId"]
    assert services.embedding_switches.run_inline(job_id) == "completed"
    assert store_row(services).embedding_dim == 256
    assert client.put(url, json={**body, "dryRun": True}, headers=headers).status_code == 400  # already


@pytest.mark.slow
def test_a_switch_whose_worker_is_killed_resumes_and_completes(
    tmp_path: Path, database_url: str, repo: Path
) -> None:
    """The real workflow on a worker process: searches answer from the old generation while it runs; a
    SIGKILL mid-switch leaves the store on its old model, and the next worker finishes the same job."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from collections import Counter

    for i in range(12, 40):
        (repo / f"more{i}.md").write_text(f"# More {i}\n\nbeta{i} words of note {i}\n")
    settings = make_settings(tmp_path, database_url, worker_id="switch-crash")
    svc = build_services(settings)
    procs: list[subprocess.Popen[bytes]] = []

    def start_worker() -> subprocess.Popen[bytes]:
        root = Path(__file__).resolve().parents[1]
        env = {
            **os.environ,
            "LIGHTFAST_HOME": str(settings.home_dir),
            "LIGHTFAST_DATABASE_URL": settings.resolved_database_url,
            "LIGHTFAST_EMBEDDING_PROVIDER": "fake",
            "LIGHTFAST_WORKER_ID": "switch-crash",
            "LIGHTFAST_DISPATCH_INTERVAL": "0.05",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root / "src"), os.environ.get("PYTHONPATH")])),
        }
        log = (tmp_path / f"worker{len(procs)}.log").open("wb")
        script = Path(__file__).with_name("switch_crash_worker.py")
        proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        procs.append(proc)
        return proc

    def job_state(job_id: str) -> tuple[str, int]:
        with svc.sessions() as session:
            job = session.get(Job, job_id)
            assert job is not None
            return str(job.status), int(job.progress_processed or 0)

    def wait(predicate: Callable[[], bool], what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert procs[-1].poll() is None, (tmp_path / f"worker{len(procs) - 1}.log").read_text()
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.02)

    try:
        registered = svc.ingest.register_local(repo)
        svc.runner.run_inline(svc.jobs.enqueue_sync(registered.workspace_id, registered.connection_id).job_id)
        store = store_row(svc)
        job_id, estimate = svc.embedding_switches.start(store.workspace_id, store.name, NEW)
        assert estimate.texts == 40
        first = start_worker()
        wait(lambda: job_state(job_id)[1] >= 12, "a third of the texts")
        assert dense(svc, "beta20")[0] == "more20.md"  # searched while the switch runs: old generation
        assert store_row(svc).embedding_dim == 384
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        status, done = job_state(job_id)
        assert status == "running"
        assert done < 40
        assert store_row(svc).embedding_dim == 384  # the kill left the old model serving
        assert widths(svc) == {384}

        start_worker()
        wait(lambda: job_state(job_id)[0] not in ("queued", "running"), "the resumed job to end")
        assert job_state(job_id) == ("completed", 40)
        assert store_row(svc).embedding_dim == 256
        assert widths(svc) == {256}
        assert dense(svc, "beta20")[0] == "more20.md"
        names = Counter(step.name for step in svc.jobs.steps(job_id))
        assert names["lightfast.embedding_switch.begin"] == 1  # resumed, not started over
        assert names["lightfast.embedding_switch.flip"] == 1
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        svc.close()


def test_the_flip_waits_for_a_sync_of_the_store_that_runs_with_the_old_model(
    services: Services, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lightfast.db import jobs as jobs_repo

    monkeypatch.setattr(embedding_switch, "FLIP_RETRY_SECONDS", 0)
    store = store_row(services)
    switches = services.embedding_switches
    job_id, _ = switches.start(store.workspace_id, store.name, NEW)
    switches.begin(job_id)
    while switches.embed_batch(job_id) > 0:
        pass
    registered = services.ingest.register_local(repo)
    sync_id = services.jobs.enqueue_sync(registered.workspace_id, registered.connection_id).job_id
    with services.sessions.begin() as session:
        jobs_repo.start_job(session, sync_id, store.id)  # planned with the old model, writing
    assert not switches.flip(job_id)
    assert store_row(services).embedding_dim == 384
    services.runner.run_inline(sync_id)  # the sync ends...
    assert switches.flip(job_id)  # ...and the flip goes ahead
    assert store_row(services).embedding_dim == 256


COHERE_YML = (
    "version: 1\nstore: docs\ninclude: ['*.md']\n"
    "embedding:\n  provider: cohere\n  model: embed-english-v3.0\n  dimensions: 1024\n"
)


def cohere_store(tmp_path: Path, database_url: str, repo: Path, standin: Any) -> Services:
    settings = make_settings(
        tmp_path,
        database_url,
        cohere_base_url=standin.url,
        cohere_api_key=standin.api_key,
        embedding_prices={"cohere/embed-english-v3.0": 0.1},
    )
    services = build_services(settings)
    (repo / "lightfast.yml").write_text(COHERE_YML)
    registered = services.ingest.register_local(repo)
    services.runner.run_inline(
        services.jobs.enqueue_sync(registered.workspace_id, registered.connection_id).job_id
    )
    return services


@pytest.mark.parametrize(
    "target",
    [
        EmbeddingChoice("fake", "fake-hash-384", 384),
        pytest.param(EmbeddingChoice("local", "all-MiniLM-L6-v2", 384), marks=pytest.mark.slow),
    ],
    ids=["fake", "local"],
)
def test_done_when_a_cohere_store_is_switched_to_the_local_model(
    tmp_path: Path, database_url: str, repo: Path, target: EmbeddingChoice
) -> None:
    """Issue 15's scenario: a store on Cohere (the stand-in) switched to a model run in this process; its
    queries go to Cohere until the flip and never after."""
    from lightfast.testing.cohere import CohereStandIn

    with CohereStandIn() as standin:
        services = cohere_store(tmp_path, database_url, repo, standin)
        try:
            store = store_row(services)
            assert (store.embedding_provider, store.embedding_dim) == ("cohere", 1024)
            switches = services.embedding_switches
            job_id, estimate = switches.start(store.workspace_id, store.name, target)
            assert estimate.requests == 0  # runs in this process
            assert estimate.cost_usd is None
            switches.begin(job_id)
            queries_before = len(standin.embed_calls("search_query"))
            assert dense(services, "alpha4")  # during the switch: Cohere embeds the query
            assert len(standin.embed_calls("search_query")) == queries_before + 1
            assert switches.run_inline(job_id) == "completed"
            after = store_row(services)
            assert (after.embedding_provider, after.embedding_model) == (target.provider, target.model)
            assert widths(services) == {384}
            calls = len(standin.calls)
            assert dense(services, "alpha4")[0] == "doc4.md"
            assert len(standin.calls) == calls  # after the flip, Cohere is never asked again
        finally:
            services.close()


def test_a_hosted_target_is_estimated_in_requests_and_cost(
    tmp_path: Path, database_url: str, repo: Path
) -> None:
    from lightfast.testing.cohere import CohereStandIn

    with CohereStandIn() as standin:
        services = build_services(
            make_settings(
                tmp_path,
                database_url,
                cohere_base_url=standin.url,
                cohere_api_key=standin.api_key,
                embedding_prices={"cohere/embed-english-v3.0": 0.1},
            )
        )
        try:
            registered = services.ingest.register_local(repo)
            services.runner.run_inline(
                services.jobs.enqueue_sync(registered.workspace_id, registered.connection_id).job_id
            )
            store = store_row(services)
            choice = EmbeddingChoice("cohere", "embed-english-v3.0", 1024)
            estimate = services.embedding_switches.estimate(store.workspace_id, store.name, choice)
            assert estimate.requests == 1  # 12 texts: one call of at most 96
            assert estimate.cost_usd == 0.01  # a few dozen tokens at $0.10 a million: rounded up to a cent
            assert len(standin.calls) == 0  # an estimate calls nobody
            job_id, _ = services.embedding_switches.start(store.workspace_id, store.name, choice)
            assert services.embedding_switches.run_inline(job_id) == "completed"
            assert len(standin.embed_calls("search_document")) == 1
            assert widths(services) == {1024}
        finally:
            services.close()


def test_a_failed_switch_keeps_the_old_model_and_its_retry_reuses_what_was_staged(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lightfast.embed.fake import FakeEmbedder

    monkeypatch.setattr(embedding_switch, "TEXTS_PER_STEP", 4)
    store = store_row(services)
    switches = services.embedding_switches
    target = services.embedders.get(NEW)
    assert isinstance(target, FakeEmbedder)
    embedded: list[int] = []
    real = FakeEmbedder.embed_batch

    def flaky(texts: list[str]) -> np.ndarray:
        if len(embedded) == 2:
            raise RuntimeError("provider unavailable")
        embedded.append(len(texts))
        return real(target, texts)

    monkeypatch.setattr(target, "embed_batch", flaky)
    job_id, _ = switches.start(store.workspace_id, store.name, NEW)
    with pytest.raises(RuntimeError, match="provider unavailable"):
        switches.run_inline(job_id)
    with services.sessions() as session:
        failed = session.get(Job, job_id)
        assert failed is not None
        assert (failed.status, failed.error_message) == ("failed", "provider unavailable")
    assert store_row(services).embedding_dim == 384
    assert dense(services, "alpha7")[0] == "doc7.md"  # the old generation still answers

    monkeypatch.setattr(target, "embed_batch", lambda texts: real(target, texts))
    retry = services.jobs.retry(store.workspace_id, job_id)
    assert retry.input["generationId"] == failed.input["generationId"]
    assert switches.run_inline(retry.id) == "completed"
    assert store_row(services).embedding_dim == 256
    assert sum(embedded) == 8  # staged before the failure, not embedded again


def test_the_sdk_switches_a_store(services: Services) -> None:
    from fastapi.testclient import TestClient

    from lightfast import Lightfast
    from lightfast.api.app import create_app
    from lightfast.sdk.errors import BadRequestError

    store = store_row(services)
    secret = services.api_keys.create(store.workspace_id, "sdk").secret
    with TestClient(create_app(services)) as http:
        client = Lightfast(secret, base_url="http://testserver", http_client=http)
        dry = client.switch_embedding(store.id, "fake", "fake-hash-256", dry_run=True)
        assert dry.job_id is None
        assert (dry.estimate.target.dimensions, dry.estimate.texts) == (256, 12)
        with pytest.raises(BadRequestError, match="nosuch"):
            client.switch_embedding(store.id, "nosuch", "m")
        with pytest.raises(ValueError, match="dimensions"):
            client.switch_embedding(store.id, "fake", "fake-hash-256", dimensions=0)
        started = client.switch_embedding(store.id, "fake", "fake-hash-256", dimensions=256)
        assert started.job_id is not None
    assert services.embedding_switches.run_inline(started.job_id) == "completed"
    assert store_row(services).embedding_dim == 256


def test_a_flip_that_would_leave_a_chunk_without_a_new_vector_is_undone(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lightfast.db import generations as gen_repo

    store = store_row(services)
    switches = services.embedding_switches
    job_id, _ = switches.start(store.workspace_id, store.name, NEW)
    switches.begin(job_id)
    switches.embed_batch(job_id)
    with services.sessions.begin() as session:  # one text loses its staged vector behind the check
        gen = gen_repo.building_generation(session, store.id)
        assert gen is not None
        assert gen_repo.drop_staged(session, gen.id, 1) == 1
    monkeypatch.setattr(gen_repo, "missing_texts", lambda *args, **kwargs: [])
    assert not switches.flip(job_id)
    after = store_row(services)
    assert (after.embedding_model, after.embedding_dim) == ("fake-hash-384", 384)
    assert widths(services) == {384}
    monkeypatch.undo()
    assert switches.run_inline(job_id) == "completed"  # the next try embeds the text and flips
    assert widths(services) == {256}
