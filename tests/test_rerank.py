"""The rerank stage: Cohere (v2 and v1), text-embeddings-inference and Jina against their stand-ins; the
search reorders its top candidates, keeps the fused order past the budget or on an error and says so, and
refuses rerank with a 400 naming the field when no reranker is configured. The ordering helpers are
checked as properties (hypothesis)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from lightfast.app.container import Services
from lightfast.app.search import SearchMode, SearchRequest, SearchResponse, reranked_page
from lightfast.embed.http import ProviderClient
from lightfast.errors import InvalidInput
from lightfast.rerank.base import Ranked, complete_order
from lightfast.rerank.providers import CohereReranker, JinaReranker, TEIReranker
from lightfast.rerank.stage import RerankOutcome, RerankStage
from lightfast.sdk import Lightfast
from lightfast.testing.cohere import CohereStandIn
from lightfast.testing.rerank import RerankStandIn
from tests.conftest import write

CONFIG = "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n"
# Five documents that all match "handbook topic"; only one holds the word the reranker is scripted to love.
DOCS = {
    "docs/a.md": "# Alpha\n\nHandbook topic. Handbook topic about deployment and handbook topic again.\n",
    "docs/b.md": "# Bravo\n\nHandbook topic, handbook topic: billing and invoices.\n",
    "docs/c.md": "# Charlie\n\nHandbook topic on security reviews.\n",
    "docs/d.md": "# Delta\n\nA handbook topic: the on-call rota and its pager.\n",
    "docs/e.md": "# Echo\n\nSomething else entirely, with one handbook mention and a platypus.\n",
}


def platypus_first(query: str, document: str) -> float:
    return 0.99 if "platypus" in document else 0.1 + 0.01 * len(document) / 1000


@pytest.fixture
def cohere() -> Iterator[CohereStandIn]:
    with CohereStandIn() as standin:
        standin.score = platypus_first
        yield standin


@pytest.fixture
def lightfast_settings_overrides(cohere: CohereStandIn) -> dict[str, Any]:
    return {
        "rerank_provider": "cohere",
        "cohere_base_url": cohere.url,
        "cohere_api_key": cohere.api_key,
        "rerank_budget_ms": 2000,
    }


@pytest.fixture
def ingested(lightfast_services: Services, tmp_path: Path) -> Services:
    repo = write(tmp_path / "repo", {"lightfast.yml": CONFIG, **DOCS})
    assert lightfast_services.ingest.ingest_path(repo).status == "completed"
    return lightfast_services


def search(services: Services, **kwargs: Any) -> SearchResponse:
    request = SearchRequest(services.workspaces.workspace_id(None), "handbook topic", **kwargs)
    return services.search.search(request)


def paths(response: SearchResponse) -> list[str]:
    return [result.path for result in response.results]


def test_rerank_reorders_the_fused_candidates(ingested: Services, cohere: CohereStandIn) -> None:
    fused = search(ingested)
    assert fused.rerank is None
    assert paths(fused)[0] != "docs/e.md"
    reranked = search(ingested, rerank=True)
    assert reranked.rerank is not None
    assert reranked.rerank.applied
    assert reranked.rerank.reason is None
    assert paths(reranked)[0] == "docs/e.md"
    assert sorted(paths(reranked)) == sorted(paths(fused))  # the same documents, another order
    assert reranked.results[0].score == pytest.approx(0.99)
    call = cohere.calls[-1]
    assert call.path == "/v2/rerank"
    assert call.body["model"] == "rerank-v3.5"
    assert call.body["query"] == "handbook topic"
    assert len(call.body["documents"]) == reranked.rerank.candidates == len(DOCS)
    # Mode "rerank" is balanced retrieval, reranked.
    assert paths(search(ingested, mode=SearchMode.RERANK)) == paths(reranked)
    _, _, units = ingested.provider_usage.snapshot()
    assert units[("cohere", "rerank-v3.5")] == 2  # one search unit a call


def test_past_the_budget_the_fused_order_is_returned_and_said(
    ingested: Services, cohere: CohereStandIn
) -> None:
    stage = ingested.search.reranker
    assert stage is not None
    stage.budget_ms = 100
    cohere.delay = 0.6  # the stand-in answers long after the budget
    fused = search(ingested)
    late = search(ingested, rerank=True)
    assert late.rerank is not None
    assert not late.rerank.applied
    assert late.rerank.reason == "budget"
    assert paths(late) == paths(fused)
    assert [r.score for r in late.results] == [r.score for r in fused.results]
    assert late.rerank.milliseconds < 500  # it did not wait for the late answer


def test_a_failing_reranker_falls_back_to_the_fused_order_with_its_error(
    ingested: Services, cohere: CohereStandIn
) -> None:
    cohere.fail_next(500, path="/v2/rerank")
    failed = search(ingested, rerank=True)
    assert failed.rerank is not None
    assert failed.rerank.reason == "error"
    assert "cohere answered 500" in (failed.rerank.detail or "")
    assert paths(failed) == paths(search(ingested))


def test_the_api_sdk_and_answer_speak_rerank(
    ingested: Services, lightfast_client: TestClient, lightfast_sdk: Lightfast
) -> None:
    answer = lightfast_client.post("/v1/search", json={"query": "handbook topic", "rerank": True}).json()
    assert answer["rerank"]["applied"] is True
    assert answer["rerank"]["provider"] == "cohere"
    assert answer["data"][0]["source"]["path"] == "docs/e.md"
    plain = lightfast_client.post("/v1/search", json={"query": "handbook topic"}).json()
    assert "rerank" not in plain
    by_mode = lightfast_client.post("/v1/search", json={"query": "handbook topic", "mode": "rerank"}).json()
    assert by_mode["meta"]["mode"] == "rerank"
    assert by_mode["rerank"]["applied"] is True
    refused = lightfast_client.post("/v1/search", json={"query": "x", "rerank": "yes"})
    assert refused.status_code == 400
    via_sdk = lightfast_sdk.search("handbook topic", rerank=True)
    assert via_sdk.rerank is not None
    assert via_sdk.rerank.applied
    assert via_sdk.data[0].source.path == "docs/e.md"  # type: ignore[union-attr]


def test_without_a_reranker_asking_for_rerank_is_refused_naming_the_field(
    ingested: Services, lightfast_client: TestClient
) -> None:
    ingested.search.reranker = None
    with pytest.raises(InvalidInput) as refused:
        search(ingested, rerank=True)
    assert refused.value.field == "rerank"
    with pytest.raises(InvalidInput) as by_mode:
        search(ingested, mode=SearchMode.RERANK)
    assert by_mode.value.field == "mode"
    answer = lightfast_client.post("/v1/search", json={"query": "handbook", "rerank": True})
    assert answer.status_code == 400
    assert "LIGHTFAST_RERANK_PROVIDER" in answer.json()["message"]


# -- providers on their own -----------------------------------------------------------------------


@pytest.fixture
def rerank_server() -> Iterator[RerankStandIn]:
    with RerankStandIn(max_batch=8) as standin:
        yield standin


def client_for(url: str, key: str | None = None) -> ProviderClient:
    return ProviderClient("test", url, api_key=SecretStr(key) if key else None)


DOCUMENTS = ["nothing here", "kiwi and mango", "kiwi", "mango kiwi papaya"]


def test_tei_and_jina_shapes_rank_by_the_servers_scores(rerank_server: RerankStandIn) -> None:
    client = client_for(rerank_server.url)
    try:
        for reranker in (TEIReranker(client, "bge-reranker-base"), JinaReranker(client)):
            ranked = reranker.rerank("kiwi mango papaya", DOCUMENTS)
            assert [r.index for r in ranked] == [3, 1, 2, 0]
        assert rerank_server.paths() == ["/rerank", "/v1/rerank"]
        assert rerank_server.calls[0].body == {
            "query": "kiwi mango papaya",
            "texts": DOCUMENTS,
            "truncate": True,
        }
        # TEI refuses more texts than its batch size; the reranker never sends more than it allows.
        tei = TEIReranker(client)
        tei.max_documents = 8
        ranked = tei.rerank("kiwi", [f"kiwi {i}" if i % 5 == 0 else "no" for i in range(12)])
        assert [r.index for r in ranked][:2] == [0, 5]
        assert len(ranked) == 12
        assert [r.score for r in ranked[8:]] == [-math.inf] * 4  # unsent candidates keep their place
        assert rerank_server.calls[-1].status == 200
    finally:
        client.close()


def test_cohere_v1_rerank_and_a_malformed_answer(cohere: CohereStandIn, rerank_server: RerankStandIn) -> None:
    client = client_for(cohere.url, cohere.api_key)
    try:
        cohere.score = lambda query, text: 1.0 if "mango" in text else 0.0
        ranked = CohereReranker(client, "rerank-english-v3.0", "v1").rerank("mango", DOCUMENTS)
        assert [r.index for r in ranked][:2] == [1, 3]
        assert cohere.calls[-1].path == "/v1/rerank"
        assert cohere.calls[-1].body["top_n"] == len(DOCUMENTS)
    finally:
        client.close()


def test_the_stage_reports_an_answer_with_a_repeated_index_as_an_error() -> None:
    class Broken(TEIReranker):
        def score(self, query: str, documents: list[str]) -> list[Ranked]:
            return [Ranked(0, 1.0), Ranked(0, 0.5)]

    stage = RerankStage(Broken(client_for("http://127.0.0.1:9")), budget_ms=1000, candidates=10)
    try:
        outcome = stage.run("q", ["a", "b"])
        assert outcome.reason == "error"
        assert "ranked twice" in (outcome.detail or "")
        assert outcome.order == [0, 1]
    finally:
        stage.close()


# -- properties -----------------------------------------------------------------------------------


@st.composite
def rankings(draw: st.DrawFn) -> tuple[int, list[Ranked]]:
    count = draw(st.integers(0, 40))
    chosen = draw(st.lists(st.integers(0, max(count - 1, 0)), unique=True, max_size=count)) if count else []
    scores = draw(st.lists(st.floats(-10, 10), min_size=len(chosen), max_size=len(chosen)))
    return count, [Ranked(i, s) for i, s in zip(chosen, scores, strict=True)]


@given(rankings())
def test_complete_order_is_a_permutation_best_first(case: tuple[int, list[Ranked]]) -> None:
    count, ranked = case
    order = complete_order(count, ranked)
    assert sorted(r.index for r in order) == list(range(count))
    scores = [r.score for r in order]
    assert scores == sorted(scores, reverse=True)
    given_indexes = {r.index for r in ranked}
    assert [r.index for r in order[len(ranked) :]] == [i for i in range(count) if i not in given_indexes]


@given(st.integers(1, 20), st.data())
def test_complete_order_refuses_what_is_not_a_ranking(count: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, count - 1))
    with pytest.raises(ValueError, match="twice"):
        complete_order(count, [Ranked(index, 1.0), Ranked(index, 0.0)])
    with pytest.raises(ValueError, match="outside"):
        complete_order(count, [Ranked(count + data.draw(st.integers(0, 5)), 1.0)])
    with pytest.raises(ValueError, match="finite"):
        complete_order(count, [Ranked(index, math.nan)])


@given(
    st.integers(0, 30),
    st.permutations(list(range(12))),
    st.booleans(),
    st.integers(0, 12),
    st.integers(1, 10),
)
def test_a_reranked_page_is_a_slice_of_a_permutation_of_the_fused_ranking(
    extra: int, permutation: list[int], applied: bool, offset: int, limit: int
) -> None:
    candidates = len(permutation)
    ranked = [(100 + i, 1.0 - i / 100) for i in range(candidates + extra)]
    outcome = RerankOutcome(
        order=permutation,
        scores={i: float(candidates - position) for position, i in enumerate(permutation)} if applied else {},
        applied=applied,
        reason=None if applied else "budget",
        provider="p",
        model="m",
        candidates=candidates,
        milliseconds=1.0,
    )
    page = reranked_page(ranked, outcome, offset, limit)
    full = reranked_page(ranked, outcome, 0, len(ranked))
    assert sorted(seq for seq, _ in full) == sorted(seq for seq, _ in ranked)
    assert page == full[offset : offset + limit]
    if applied:
        assert [seq for seq, _ in full[:candidates]] == [100 + i for i in permutation]
    else:
        assert full == ranked
    assert full[candidates:] == ranked[candidates:]


def test_metrics_count_rerank_outcomes_and_billed_units(
    ingested: Services, lightfast_client: TestClient, cohere: CohereStandIn
) -> None:
    search(ingested, rerank=True)
    cohere.fail_next(500, path="/v2/rerank")
    search(ingested, rerank=True)
    text = lightfast_client.get("/metrics").text
    assert 'lightfast_rerank_outcomes_total{outcome="applied"} 1.0' in text
    assert 'lightfast_rerank_outcomes_total{outcome="error"} 1.0' in text
    assert 'lightfast_provider_search_units_total{model="rerank-v3.5",provider="cohere"} 1.0' in text
    assert (
        'lightfast_provider_requests_total{model="rerank-v3.5",outcome="server_error",provider="cohere"} 1.0'
        in text
    )


def test_the_cli_searches_with_rerank_and_says_what_the_stage_did(
    tmp_path: Path, cohere: CohereStandIn
) -> None:
    from typer.testing import CliRunner

    from lightfast.cli import app

    env = {
        "LIGHTFAST_HOME": str(tmp_path / "cli-home"),
        "LIGHTFAST_EMBEDDING_PROVIDER": "fake",
        "LIGHTFAST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "LIGHTFAST_RERANK_PROVIDER": "cohere",
        "LIGHTFAST_COHERE_BASE_URL": cohere.url,
        "LIGHTFAST_COHERE_API_KEY": cohere.api_key or "",
        "COLUMNS": "200",
    }
    repo = write(tmp_path / "cli-repo", {"lightfast.yml": CONFIG, **DOCS})
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(repo)], env=env).exit_code == 0
    shown = runner.invoke(app, ["search", "handbook topic", "--rerank"], env=env)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.index("Echo") < shown.stdout.index("Alpha")
    assert "reranked 5 by cohere rerank-v3.5" in shown.stdout
    as_json = runner.invoke(app, ["search", "handbook topic", "--rerank", "--json"], env=env)
    payload = json.loads(as_json.stdout)
    assert payload["results"][0]["path"] == "docs/e.md"
    assert payload["rerank"]["applied"] is True
    plain = json.loads(runner.invoke(app, ["search", "handbook topic", "--json"], env=env).stdout)
    assert "rerank" not in plain


def test_the_mcp_search_tool_takes_rerank(ingested: Services, lightfast_api_key: str) -> None:
    import asyncio

    import anyio

    from lightfast.api.app import create_app
    from lightfast.mcp.server import http_app
    from tests.test_mcp import TIMEOUT, ServerThread, http_session, payload

    with ServerThread(create_app(ingested)) as api_url, ServerThread(http_app(api_url)) as mcp_url:

        async def scenario() -> list[list[str]]:
            with anyio.fail_after(TIMEOUT):
                async with http_session(f"{mcp_url}/mcp", lightfast_api_key) as session:
                    found = []
                    for rerank in (False, True):
                        args = {"query": "handbook topic", "rerank": rerank}
                        result = payload(await session.call_tool("lightfast_search", args))
                        found.append([hit["path"] for hit in result["results"]])
                    return found

        plain, reranked = asyncio.run(scenario())
    assert plain[0] != "docs/e.md"
    assert reranked[0] == "docs/e.md"
