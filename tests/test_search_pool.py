"""Searches answered by worker processes (``LIGHTFAST_SEARCH_PROCESSES``), on SQLite and PostgreSQL: the
same answers as in process, fresh after a write, errors that keep their class (and HTTP status), a pool
whose worker died replaced, reranking kept in the server, and the workers' provider usage added to the
server's counters."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services, start_search_processes
from lightfast.app.search import SearchMode, SearchRequest, SearchService
from lightfast.embed.http import ProviderUsage
from lightfast.errors import InvalidInput, NotFound
from lightfast.index.sqlite import SqliteIndex
from lightfast.rerank.base import Ranked, Reranker
from lightfast.rerank.stage import RerankStage
from lightfast.settings import Settings
from tests.conftest import make_settings, write

NOTES = {
    "alpha.md": "# Alpha\n\nThe ingestion pipeline chunks markdown and embeds every chunk.\n",
    "beta.md": "# Beta\n\nHybrid search fuses BM25 keyword ranking with dense vectors.\n",
    "gamma.md": "# Gamma\n\nWebhooks from GitHub trigger a sync of the pushed branch.\n",
    "docs/delta.md": "# Delta\n\nThe console shows jobs, their progress and every activity.\n",
}


@pytest.fixture
def pooled(tmp_path: Path, database_url: str) -> Iterator[Services]:
    settings = make_settings(tmp_path, database_url, search_processes=1)  # one spawn per test is enough
    services = build_services(settings)
    assert services.search.pool is None  # build_services starts none: lightfast serve asks
    assert start_search_processes(services, wait=True) is services.search.pool
    repo = write(
        tmp_path / "repo", {"lightfast.yml": "version: 1\nstore: docs\ninclude: ['**/*.md']\n", **NOTES}
    )
    services.ingest.ingest_path(repo)
    try:
        yield services
    finally:
        services.close()


def in_process(services: Services) -> SearchService:
    return SearchService(services.sessions, services.embedder, services.index, embedders=services.embedders)


def request(services: Services, query: str, **fields: object) -> SearchRequest:
    workspace = services.workspaces.ensure_workspace_id("default")
    return replace(SearchRequest(workspace_id=workspace, query=query, request_id="req_same"), **fields)


def answer(services: Services, search: SearchService, req: SearchRequest) -> list[tuple[str, float, str]]:
    return [(r.document_id, r.score, r.snippet) for r in search.search(req).results]


# Modes, filters and paging; one pool answers them all (a pool per case cost a spawn each).
CASES: list[tuple[str, dict[str, object]]] = [
    ("hybrid search ranking", {}),
    ("github webhooks", {"mode": SearchMode.FAST}),
    ("jobs progress", {"mode": SearchMode.DENSE}),
    ("chunks", {"path_prefix": "docs/"}),
    ("markdown", {"limit": 2, "offset": 1}),
]


def test_a_worker_answers_what_the_server_would(pooled: Services) -> None:
    pool = pooled.search.pool
    assert pool is not None
    for number, (query, fields) in enumerate(CASES, start=1):
        req = request(pooled, query, **fields)
        got = answer(pooled, pooled.search, req)
        assert pool.answered == number, query
        assert got == answer(pooled, in_process(pooled), req), query
        assert got, query  # the corpus answers every one of these


def test_a_write_is_found_by_the_workers_next_search(pooled: Services, tmp_path: Path) -> None:
    req = request(pooled, "zanzibar", mode=SearchMode.FAST)
    assert pooled.search.search(req).results == []
    repo = write(
        tmp_path / "more",
        {"lightfast.yml": "version: 1\nstore: docs\ninclude: ['*.md']\n", "z.md": "# Z\n\nzanzibar spice\n"},
    )
    pooled.ingest.ingest_path(repo)
    assert [r.title for r in pooled.search.search(req).results] == ["Z"]


def test_errors_keep_their_class_across_the_process_boundary(pooled: Services) -> None:
    with pytest.raises(NotFound, match="no store named 'nope'") as raised:
        pooled.search.search(request(pooled, "anything", stores=("nope",)))
    assert raised.value.details == {"field": "stores"}
    with pytest.raises(InvalidInput, match="query must not be empty"):
        pooled.search.search(request(pooled, "   "))


def test_a_pool_whose_worker_died_is_replaced(pooled: Services) -> None:
    pool = pooled.search.pool
    assert pool is not None
    req = request(pooled, "hybrid search")
    expected = answer(pooled, pooled.search, req)
    # A worker that exits mid-task breaks the pool, as a crash or the OOM killer would.
    with pytest.raises(Exception):  # noqa: B017, PT011 - BrokenProcessPool, whatever its message
        pool._current().submit(os._exit, 1).result()
    assert answer(pooled, pooled.search, req) == expected
    assert pool.replaced == 1


def test_searches_over_http_go_through_the_workers(pooled: Services) -> None:
    workspace = pooled.workspaces.ensure_workspace_id("default")
    key = pooled.api_keys.create(workspace, "pool").secret
    with TestClient(create_app(pooled)) as client:
        response = client.post(
            "/v1/search", json={"query": "github webhooks"}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"][0]["title"] == "Gamma"
        missing = client.post(
            "/v1/search",
            json={"query": "x", "filters": {"stores": ["nope"]}},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert missing.status_code == 404
        metrics = client.get("/metrics").text
    # The server's latency histogram counts what the workers answered.
    assert 'lightfast_search_duration_seconds_count{mode="balanced"} 1.0' in metrics


class ReverseReranker(Reranker):
    """Puts the fused order upside down: a reranked answer is recognisable."""

    def score(self, query: str, documents: list[str]) -> list[Ranked]:
        return [Ranked(i, float(i)) for i in range(len(documents))]


def test_a_search_that_reranks_is_answered_by_the_server(pooled: Services) -> None:
    pool = pooled.search.pool
    assert pool is not None
    pooled.search.reranker = RerankStage(ReverseReranker(), budget_ms=5000, candidates=10)
    try:
        fused = answer(pooled, pooled.search, request(pooled, "search"))
        answered = pool.answered
        response = pooled.search.search(request(pooled, "search", rerank=True))
    finally:
        pooled.search.reranker.close()
    assert response.rerank is not None
    assert response.rerank.applied
    assert [r.document_id for r in response.results] == [d for d, _, _ in reversed(fused)]
    assert pool.answered == answered  # no worker was asked
    assert pooled.search.reranker.outcomes == {"applied": 1}  # counted where /metrics reads it


def test_provider_usage_drained_in_a_worker_adds_up_in_the_server() -> None:
    worker, server = ProviderUsage(), ProviderUsage()
    server.count_request("openai", "m", "ok")
    worker.count_request("openai", "m", "ok")
    worker.count_request("openai", "m", "timeout")
    worker.count_tokens("openai", "m", 12)
    server.add(worker.drain())
    assert worker.snapshot() == ({}, {}, {})
    worker.count_tokens("openai", "m", 3)
    server.add(worker.drain())
    assert server.snapshot() == (
        {("openai", "m", "ok"): 2, ("openai", "m", "timeout"): 1},
        {("openai", "m"): 15},
        {},
    )


def test_warming_loads_every_store_before_the_first_search(sqlite_services: Services, tmp_path: Path) -> None:
    services = sqlite_services
    config = "version: 1\nstore: docs\ninclude: ['*.md']\n"
    repo = write(tmp_path / "repo", {"lightfast.yml": config, **NOTES})
    services.ingest.ingest_path(repo)
    index = services.index
    assert isinstance(index, SqliteIndex)
    index.reset()
    loads, builds = index.stats.full_loads, index.lexical.builds
    services.search.warm()
    assert index.stats.full_loads == loads + 1  # the one store
    assert index.lexical.builds == builds + 1
    services.search.search(request(services, "hybrid search"))
    assert (index.stats.full_loads, index.lexical.builds) == (loads + 1, builds + 1)  # nothing loaded


WORKER_OF_A_DYING_SERVER = """
import os, sys
from lightfast.app.container import build_services, start_search_processes
from lightfast.settings import Settings

if __name__ == "__main__":
    services = build_services(Settings())
    pool = start_search_processes(services, wait=True)
    print(pool._current().submit(os.getpid).result(), flush=True)
    os._exit(0)  # as a server the OOM killer or kill -9 stops: nothing is shut down
"""


def test_workers_exit_when_their_server_dies(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(WORKER_OF_A_DYING_SERVER)
    env = {
        **os.environ,
        "LIGHTFAST_HOME": str(tmp_path / "home"),
        "LIGHTFAST_EMBEDDING_PROVIDER": "fake",
        "LIGHTFAST_SEARCH_PROCESSES": "1",
    }
    env.pop("LIGHTFAST_DATABASE_URL", None)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    worker = int(done.stdout.split()[-1])
    deadline = time.monotonic() + 30
    while True:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, f"the search worker {worker} outlived its server"
        time.sleep(0.1)


def test_serve_stops_its_search_processes_and_job_worker_on_sigterm(tmp_path: Path) -> None:
    """``kill`` (SIGTERM) of ``lightfast serve``: uvicorn shuts down, then the server stops its job engine
    and its search processes and says so, instead of dying by the signal uvicorn raised again."""
    import httpx

    port = free_port()
    env = {
        **os.environ,
        "LIGHTFAST_HOME": str(tmp_path / "home"),
        "LIGHTFAST_EMBEDDING_PROVIDER": "fake",
        "LIGHTFAST_SEARCH_PROCESSES": "1",
        "LIGHTFAST_PORT": str(port),
    }
    env.pop("LIGHTFAST_DATABASE_URL", None)
    made = build_services(Settings(home=tmp_path / "home", embedding_provider="fake"))
    made.workspaces.ensure_workspace_id("default")  # what an anonymous search searches
    made.close()
    command = [sys.executable, "-m", "lightfast.cli", "serve"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        searched = httpx.post(f"http://127.0.0.1:{port}/v1/search", json={"query": "anything"}, timeout=60)
        assert searched.status_code == 200, searched.text
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0  # a stop that was asked for and done
    assert "lightfast serve stopped" in stderr
    assert "leaked semaphore" not in stderr  # the search processes' pool was shut down


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
