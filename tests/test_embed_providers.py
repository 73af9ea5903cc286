"""Hosted embedding providers against their local stand-ins (real HTTP on loopback, nothing reaches the
network): Cohere's input types and 96-text batches, OpenAI's limits and a self-hosted server's probe,
Retry-After, repeated 500s failing a job cleanly, the circuit breaker, keys kept out of messages and logs.
The policy itself, as pure functions: test_provider_policy.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr

from lightfast.app.container import Services, build_services
from lightfast.app.search import SearchMode, SearchRequest
from lightfast.db.engine import make_engine
from lightfast.embed.cohere import MODELS, CohereEmbedder
from lightfast.embed.http import CircuitBreaker, ProviderClient, ProviderUsage
from lightfast.embed.openai import OpenAIEmbedder, openai_spec
from lightfast.embed.registry import EmbedderPool, EmbeddingChoice, make_embedder
from lightfast.embed.resilience import (
    BreakerConfig,
    RetryPolicy,
)
from lightfast.errors import SettingsError, UpstreamError
from lightfast.settings import Settings
from lightfast.testing.cohere import CohereStandIn
from lightfast.testing.openai import OpenAIStandIn
from tests.conftest import make_settings, write

CONFIG = "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n"


@pytest.fixture
def opened() -> Iterator[list[Any]]:
    """Clients and embedders a test made; closed after it (their connections are real sockets)."""
    made: list[Any] = []
    yield made
    for thing in made:
        thing.close()


@pytest.fixture
def cohere() -> Iterator[CohereStandIn]:
    with CohereStandIn() as standin:
        yield standin


@pytest.fixture
def openai() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn(**{"nomic-embed-text": 768}) as standin:
        yield standin


def cohere_settings(
    tmp_path: Path, standin: CohereStandIn, database_url: str | None = None, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "embedding_provider": "cohere",
        "cohere_base_url": standin.url,
        "cohere_api_key": standin.api_key,
        "provider_max_attempts": 3,
        **overrides,
    }
    return make_settings(tmp_path, database_url or f"sqlite:///{tmp_path / 'lightfast.db'}", **values)


class Sleeps:
    """An injectable sleep: records the waits, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def hosted_services(settings: Settings, sleeps: Sleeps) -> Services:
    services = build_services(settings, engine=make_engine(settings.resolved_database_url))
    client = services.embedder.client  # type: ignore[attr-defined]
    client.sleep = sleeps
    return services


def many_documents(count: int) -> dict[str, str]:
    """``count`` short documents (one chunk each), every one naming its own topic word."""
    return {f"docs/note{i:03d}.md": f"# Note {i}\n\nTopic word{i} about kiwi{i % 7}.\n" for i in range(count)}


# -- Cohere through the whole product ---------------------------------------------------------------


def test_a_cohere_store_embeds_documents_in_batches_of_96_and_queries_as_search_query(
    tmp_path: Path, cohere: CohereStandIn, database_url: str
) -> None:
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG, **many_documents(200)})
    settings = cohere_settings(tmp_path, cohere, database_url, ingest_batch_documents=200)
    services = hosted_services(settings, Sleeps())
    try:
        result = services.ingest.ingest_path(repo)
        assert result.status == "completed"
        documents = cohere.embed_calls("search_document")
        assert sum(len(body["texts"]) for body in documents) == 200
        assert max(len(body["texts"]) for body in documents) == 96
        assert all(body["embedding_types"] == ["float"] and body["truncate"] == "END" for body in documents)
        assert cohere.paths()[0] == "/v2/embed"
        assert cohere.embed_calls("search_query") == []

        request = SearchRequest(
            services.workspaces.workspace_id(None), "word123 kiwi4", mode=SearchMode.DENSE
        )
        response = services.search.search(request)
        assert response.results[0].path == "docs/note123.md"
        queries = cohere.embed_calls("search_query")
        assert [body["texts"] for body in queries] == [["word123 kiwi4"]]
        # The store records the hosted model; billed tokens reached the usage counters.
        with services.sessions() as session:
            from lightfast.db.tenancy import list_stores

            store = list_stores(session, services.workspaces.workspace_id(None))[0]
            assert (store.embedding_provider, store.embedding_model, store.embedding_dim) == (
                "cohere",
                "embed-english-v3.0",
                1024,
            )
        requests, tokens, _ = services.provider_usage.snapshot()
        assert requests[("cohere", "embed-english-v3.0", "ok")] == len(documents) + 1
        assert tokens[("cohere", "embed-english-v3.0")] > 200
    finally:
        services.close()


def test_a_429_with_retry_after_is_waited_for_then_the_batch_succeeds(
    tmp_path: Path, cohere: CohereStandIn
) -> None:
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG, **many_documents(5)})
    sleeps = Sleeps()
    services = hosted_services(cohere_settings(tmp_path, cohere), sleeps)
    try:
        cohere.fail_next(429, retry_after="7", path="/v2/embed")
        result = services.ingest.ingest_path(repo)
        assert result.status == "completed"
        assert sleeps.waits == [7.0]  # the provider's own wait, not a backoff guess
        # The refused batch went again after the wait; the job's second batch (4 + 1 documents) followed.
        assert [call.status for call in cohere.calls] == [429, 200, 200]
        requests, _, _ = services.provider_usage.snapshot()
        assert requests[("cohere", "embed-english-v3.0", "rate_limited")] == 1
    finally:
        services.close()


def test_a_503_naming_its_retry_after_is_waited_for_as_asked(
    cohere: CohereStandIn, opened: list[Any]
) -> None:
    sleeps = Sleeps()
    client = ProviderClient("cohere", cohere.url, api_key=SecretStr(cohere.api_key or ""), sleep=sleeps)
    embedder = CohereEmbedder(MODELS["embed-english-v3.0"], client)
    opened.append(embedder)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    cohere.fail_next(503, retry_after=when)
    cohere.fail_next(503)
    assert embedder.embed(["kiwi"]).shape == (1, 1024)
    assert 28 <= sleeps.waits[0] <= 30  # the HTTP date's distance from now
    assert sleeps.waits[1] <= RetryPolicy().base_delay * 2  # no Retry-After: jittered backoff
    assert client.breaker.state.phase == "closed"


def test_repeated_500s_fail_the_job_with_a_clear_error_and_lose_nothing(
    tmp_path: Path, cohere: CohereStandIn, database_url: str
) -> None:
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG, **many_documents(3)})
    sleeps = Sleeps()
    services = hosted_services(cohere_settings(tmp_path, cohere, database_url), sleeps)
    try:
        assert services.ingest.ingest_path(repo).status == "completed"
        workspace = services.workspaces.workspace_id(None)
        write(
            repo,
            {"docs/note001.md": "# Note 1\n\nRewritten about mango.\n", "docs/new.md": "# New\n\npapaya\n"},
        )
        cohere.fail_next(500, times=3, path="/v2/embed")
        with pytest.raises(UpstreamError) as failure:
            services.ingest.ingest_path(repo)
        message = failure.value.message
        assert "cohere answered 500" in message
        assert "gave up after 3 attempt(s)" in message
        assert len(sleeps.waits) == 2  # backoff between the three attempts
        failed = _last_job(services, workspace)
        assert failed.status == "failed"
        assert "cohere answered 500" in (failed.error_message or "")

        # Nothing was lost: the old version of note001 still answers, the new document is not half-in.
        hits = services.search.search(SearchRequest(workspace, "word1 kiwi1", mode=SearchMode.FAST)).results
        assert [h.path for h in hits][:1] == ["docs/note001.md"]
        assert services.search.search(SearchRequest(workspace, "papaya", mode=SearchMode.FAST)).results == []

        # The job can be retried, and succeeds once the provider is back.
        retried = services.jobs.retry(workspace, failed.id)
        services.runner.run_inline(retried.id)
        assert _last_job(services, workspace).status == "completed"
        hits = services.search.search(SearchRequest(workspace, "papaya", mode=SearchMode.DENSE)).results
        assert hits[0].path == "docs/new.md"
    finally:
        services.close()


def _last_job(services: Services, workspace: str) -> Any:
    from sqlalchemy import select

    from lightfast.db.models import Job

    with services.sessions() as session:
        return session.scalars(
            select(Job).where(Job.workspace_id == workspace).order_by(Job.created_at.desc(), Job.id.desc())
        ).first()


# -- the HTTP layer on its own ------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_consecutive_failures_and_fails_fast_until_its_cooldown(
    cohere: CohereStandIn, opened: list[Any]
) -> None:
    clock = Clock()
    client = ProviderClient(
        "cohere",
        cohere.url,
        api_key=SecretStr(cohere.api_key or ""),
        policy=RetryPolicy(attempts=2, base_delay=0.01),
        breaker=CircuitBreaker(BreakerConfig(threshold=2, cooldown=30), clock),
        sleep=Sleeps(),
    )
    embedder = CohereEmbedder(MODELS["embed-english-v3.0"], client)
    opened.append(embedder)
    cohere.fail_next(503, times=2)
    with pytest.raises(UpstreamError, match="cohere answered 503"):
        embedder.embed(["one"])
    calls = len(cohere.calls)
    with pytest.raises(UpstreamError, match="circuit open"):
        embedder.embed(["two"])
    assert len(cohere.calls) == calls  # failed fast: the provider was not called
    clock.now = 31  # after the cooldown one trial goes out; it succeeds and closes the breaker
    assert embedder.embed(["three"]).shape == (1, 1024)
    assert client.breaker.state.phase == "closed"
    # A breaker that opens during one call's retries ends them, naming what kept failing.
    client.policy = RetryPolicy(attempts=5, base_delay=0.01)
    cohere.fail_next(500, times=5)
    with pytest.raises(UpstreamError, match=r"failing repeatedly \(last: cohere answered 500"):
        embedder.embed(["four"])
    assert [call.status for call in cohere.calls[-2:]] == [500, 500]


def test_one_query_cache_never_answers_one_dimension_with_another(
    tmp_path: Path, cohere: CohereStandIn
) -> None:
    from lightfast.embed.cache import QueryCache

    pool = EmbedderPool(cohere_settings(tmp_path, cohere))
    shared = QueryCache()
    small = pool.get(EmbeddingChoice("cohere", "embed-v4.0", 256))
    large = pool.get(EmbeddingChoice("cohere", "embed-v4.0", 1024))
    small.query_cache = large.query_cache = shared
    assert small.embed_query("kiwi").shape == (256,)
    assert large.embed_query("kiwi").shape == (1024,)
    assert small.embed_query("kiwi").shape == (256,)  # a hit, of its own size
    assert shared.stats().hits == 1
    pool.close()


def test_a_refused_key_is_not_retried_and_never_shown_or_logged(
    openai: OpenAIStandIn, caplog: pytest.LogCaptureFixture, opened: list[Any]
) -> None:
    secret = "sk-wrong-key-that-must-not-leak-42"
    openai.echo_key = True  # a provider that repeats the key it was given in its error
    client = ProviderClient("openai", openai.url + "/v1", api_key=SecretStr(secret), sleep=Sleeps())
    embedder = OpenAIEmbedder(openai_spec("text-embedding-3-small", None, None), client)
    opened.append(embedder)
    with caplog.at_level(logging.DEBUG), pytest.raises(UpstreamError) as refused:
        embedder.embed(["hello"])
    assert "refused the request (401) (check the API key)" in refused.value.message
    assert secret not in refused.value.message
    assert "[key]" in refused.value.message
    assert secret not in caplog.text
    assert secret not in repr(client)
    assert len(openai.calls) == 1

    openai.fail_next(500, times=2)
    good = ProviderClient(
        "openai", openai.url + "/v1", api_key=SecretStr(openai.api_key or ""), sleep=Sleeps()
    )
    opened.append(good)
    with caplog.at_level(logging.DEBUG):
        OpenAIEmbedder(openai_spec("text-embedding-3-small", None, None), good).embed(["hello"])
    assert "openai answered 500" in caplog.text
    assert (openai.api_key or "") not in caplog.text


def test_openai_shortens_vectors_places_rows_by_index_and_counts_tokens(
    openai: OpenAIStandIn, opened: list[Any]
) -> None:
    usage = ProviderUsage()
    client = ProviderClient(
        "openai", openai.url + "/v1", api_key=SecretStr(openai.api_key or ""), usage=usage
    )
    embedder = OpenAIEmbedder(openai_spec("text-embedding-3-small", 256, None), client)
    opened.append(embedder)
    openai.reverse_data = True
    texts = ["alpha beta", "gamma delta", "alpha beta"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 256)
    assert np.allclose(vectors[0], vectors[2])
    assert not np.allclose(vectors[0], vectors[1])
    body = openai.embeddings()[0]
    assert body["dimensions"] == 256
    assert body["encoding_format"] == "float"
    assert body["input"] == texts
    assert usage.snapshot()[1][("openai", "text-embedding-3-small")] == 6


def test_a_self_hosted_model_learns_its_dimension_by_one_probe(
    tmp_path: Path, openai: OpenAIStandIn, opened: list[Any]
) -> None:
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'x.db'}",
        embedding_provider="openai",
        embedding_model="nomic-embed-text",
        openai_base_url=openai.url + "/v1",
        openai_api_key=openai.api_key,
        embedding_max_input_tokens=2048,
    )
    embedder = make_embedder(settings)
    opened.append(embedder)
    assert (embedder.spec.dimension, embedder.spec.max_input_tokens) == (768, 2048)
    assert [body["input"] for body in openai.embeddings()] == [["probe"]]
    # Given in configuration, no probe is made; a wrong size is caught on the first answer.
    wrong = make_embedder(settings.model_copy(update={"embedding_dimensions": 512}))
    opened.append(wrong)
    assert len(openai.embeddings()) == 1
    with pytest.raises(UpstreamError, match="768-d vectors, expected 512"):
        wrong.embed(["text"])


def test_an_unreachable_self_hosted_server_without_a_dimension_is_a_settings_error(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'x.db'}",
        embedding_provider="openai",
        embedding_model="my-model",
        openai_base_url="http://127.0.0.1:9/v1",  # the discard port: nothing listens
        provider_max_attempts=1,
    )
    with pytest.raises(SettingsError, match="LIGHTFAST_EMBEDDING_DIMENSIONS"):
        make_embedder(settings)


def test_the_pool_builds_hosted_embedders_from_a_choice_and_shares_one_client_per_provider(
    tmp_path: Path, cohere: CohereStandIn
) -> None:
    pool = EmbedderPool(cohere_settings(tmp_path, cohere))
    english = pool.get(EmbeddingChoice("cohere", "embed-english-v3.0"))
    v4 = pool.get(EmbeddingChoice("cohere", "embed-v4.0", 512))
    assert (english.spec.dimension, v4.spec.dimension) == (1024, 512)
    assert pool.get(EmbeddingChoice("cohere", "embed-v4.0", 512)) is v4
    assert english.client is v4.client  # type: ignore[attr-defined]
    assert v4.embed(["x"]).shape == (1, 512)
    assert cohere.embed_calls()[-1]["output_dimension"] == 512
    with pytest.raises(SettingsError, match=r"embed-v4\.0 embeds at 256, 512, 1024, 1536, not 300"):
        pool.get(EmbeddingChoice("cohere", "embed-v4.0", 300))
    with pytest.raises(SettingsError, match="unknown Cohere model"):
        pool.get(EmbeddingChoice("cohere", "embed-nope"))
    pool.close()


def test_the_stand_ins_refuse_what_the_providers_refuse(cohere: CohereStandIn, openai: OpenAIStandIn) -> None:
    import httpx

    key = {"Authorization": f"Bearer {cohere.api_key}"}
    too_many = {"model": "embed-english-v3.0", "texts": ["a"] * 97, "input_type": "search_document"}
    answer = httpx.post(cohere.url + "/v2/embed", json=too_many, headers=key)
    assert answer.status_code == 400
    assert "at most 96" in answer.json()["message"]
    assert httpx.post(cohere.url + "/v2/embed", json=too_many).status_code == 401
    no_type = {"model": "embed-english-v3.0", "texts": ["a"]}
    assert httpx.post(cohere.url + "/v2/embed", json=no_type, headers=key).status_code == 400
    key = {"Authorization": f"Bearer {openai.api_key}"}
    over = {"model": "text-embedding-3-small", "input": ["a"] * 2049}
    answer = httpx.post(openai.url + "/v1/embeddings", json=over, headers=key)
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"
    ada = {"model": "text-embedding-ada-002", "input": "a", "dimensions": 8}
    assert httpx.post(openai.url + "/v1/embeddings", json=ada, headers=key).status_code == 400


def test_settings_name_the_variable_of_a_missing_key_or_a_bad_url() -> None:
    from lightfast.settings import settings_from_environment

    with pytest.raises(SettingsError, match="LIGHTFAST_COHERE_API_KEY"):
        settings_from_environment(embedding_provider="cohere")
    with pytest.raises(SettingsError, match="LIGHTFAST_OPENAI_API_KEY"):
        settings_from_environment(embedding_provider="openai")
    assert settings_from_environment(embedding_provider="openai", openai_base_url="http://gpu:8080/v1")
    with pytest.raises(SettingsError, match="LIGHTFAST_COHERE_BASE_URL"):
        settings_from_environment(cohere_base_url="ftp://x")
    with pytest.raises(SettingsError, match="LIGHTFAST_RERANK_BASE_URL"):
        settings_from_environment(rerank_provider="tei")
    with pytest.raises(
        SettingsError, match="LIGHTFAST_RERANK_PROVIDER: Input should be 'cohere', 'tei' or 'jina'"
    ):
        settings_from_environment(rerank_provider="bogus")
    unset = settings_from_environment(rerank_provider=" ", embedding_model="", embedding_dimensions="")
    assert (unset.rerank_provider, unset.embedding_model, unset.embedding_dimensions) == (None, None, None)
    with pytest.raises(SettingsError) as bad:
        settings_from_environment(cohere_api_key=["not", "a", "key"])
    assert "LIGHTFAST_COHERE_API_KEY" in bad.value.message
    assert "not" not in bad.value.message.split(":", 1)[1]


def test_a_store_on_a_self_hosted_openai_compatible_model_ingests_and_searches(
    tmp_path: Path, openai: OpenAIStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lightfast.embed.openai as openai_module

    # A small token cap per request, so one batch of the pipeline goes out as several requests.
    monkeypatch.setattr(openai_module, "MAX_TOKENS_PER_CALL", 200)
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'lightfast.db'}",
        embedding_provider="openai",
        embedding_model="nomic-embed-text",
        openai_base_url=openai.url + "/v1",
        openai_api_key=openai.api_key,
        embedding_max_input_tokens=256,
        ingest_batch_documents=50,
    )
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG, **many_documents(40)})
    services = hosted_services(settings, Sleeps())
    try:
        assert services.ingest.ingest_path(repo).status == "completed"
        calls = openai.embeddings()[1:]  # after the probe
        assert sum(len(body["input"]) for body in calls) == 40
        assert len(calls) > 1
        tokenizer = services.tokenizer
        assert all(sum(tokenizer.count(text) for text in body["input"]) <= 200 for body in calls)
        workspace = services.workspaces.workspace_id(None)
        hits = services.search.search(SearchRequest(workspace, "word7 kiwi0", mode=SearchMode.DENSE)).results
        assert hits[0].path == "docs/note007.md"
        with services.sessions() as session:
            from lightfast.db.tenancy import list_stores

            store = list_stores(session, workspace)[0]
            assert (store.embedding_provider, store.embedding_model, store.embedding_dim) == (
                "openai",
                "nomic-embed-text",
                768,
            )
            assert store.chunk_max_tokens <= 254  # the window less two special tokens
    finally:
        services.close()


def test_an_estimate_counts_requests_by_each_providers_limits(
    tmp_path: Path, cohere: CohereStandIn, opened: list[Any]
) -> None:
    pool = EmbedderPool(cohere_settings(tmp_path, cohere))
    opened.append(pool)
    assert pool.get(EmbeddingChoice("cohere", "embed-english-v3.0")).requests_for([10] * 200) == 3  # 96+96+8
    assert pool.get(EmbeddingChoice("fake", "fake-hash-384")).requests_for([10] * 200) == 0
    client = ProviderClient("openai", "http://127.0.0.1:9/v1")
    opened.append(client)
    openai_embedder = OpenAIEmbedder(openai_spec("text-embedding-3-small", None, None), client)
    assert openai_embedder.requests_for([100] * 1024) == 2  # batches of 512 inputs
    assert openai_embedder.requests_for([8000] * 512) == 14  # 37 inputs of 8,000 tokens fit in 300,000
    assert openai_embedder.requests_for([]) == 0


def test_a_call_that_breaks_before_the_provider_answers_does_not_wedge_the_breaker(
    cohere: CohereStandIn, opened: list[Any]
) -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerConfig(threshold=1, cooldown=5), clock)
    key = SecretStr(cohere.api_key or "")
    client = ProviderClient("cohere", cohere.url, api_key=key, breaker=breaker, sleep=Sleeps())
    opened.append(client)
    cohere.fail_next(500)
    with pytest.raises(UpstreamError):
        client.post_json("/v2/embed", {"texts": ["x"]}, model="m")
    clock.now = 6  # half-open: the next call is the trial, and it fails inside the client
    with pytest.raises(TypeError):
        client.post_json("/v2/embed", {"texts": {object()}}, model="m")
    clock.now = 12  # the failed trial re-opened the breaker; after its cooldown another trial goes out
    body = {"model": "embed-english-v3.0", "texts": ["x"], "input_type": "search_query"}
    assert client.post_json("/v2/embed", body, model="m")["texts"] == ["x"]
    assert breaker.state.phase == "closed"


def test_cohere_v1_embed_is_called_and_read_too(cohere: CohereStandIn, opened: list[Any]) -> None:
    client = ProviderClient("cohere", cohere.url, api_key=SecretStr(cohere.api_key or ""))
    embedder = CohereEmbedder(MODELS["embed-english-v3.0"], client, api_version="v1")
    opened.append(embedder)
    assert embedder.embed(["kiwi", "mango"]).shape == (2, 1024)
    assert embedder.embed_query("kiwi").shape == (1024,)
    assert [(call.path, call.body["input_type"]) for call in cohere.calls] == [
        ("/v1/embed", "search_document"),
        ("/v1/embed", "search_query"),
    ]
