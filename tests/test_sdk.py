"""The Python SDK against an emulated server (``httpx.MockTransport``): the requests it sends, the typed
objects it returns, its errors, retries, pagination and job waiting, for the sync and async clients."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import lightfast
from lightfast.sdk import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    AsyncLightfast,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    JobDetail,
    JobWaitTimeoutError,
    Lightfast,
    LightfastClientError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    SearchResponse,
    ServerError,
)

BASE = "http://lf.test"
KEY = "lf_test_key"

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def error(
    status: int, code: str, message: str = "nope", headers: dict[str, str] | None = None
) -> httpx.Response:
    return reply({"error": code, "message": message, "requestId": f"req_{status}"}, status, headers)


class Server:
    """Answers requests in order from a script and records what it was sent."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.replies:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        item = self.replies.pop(0)
        if isinstance(item, Exception):
            raise item
        if isinstance(item, httpx.Response):
            return item
        return item(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make(sleeps: Sleeps) -> Iterator[Callable[..., Lightfast]]:
    clients: list[Lightfast] = []

    def build(server: Server, **options: Any) -> Lightfast:
        client = Lightfast(KEY, BASE, transport=httpx.MockTransport(server), sleep=sleeps, **options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def job(id: str = "job_1", status: str = "running", **extra: Any) -> dict[str, Any]:
    return {
        "id": id,
        "name": "Sync docs",
        "status": status,
        "trigger": "manual",
        "sourceId": "src_1",
        "storeId": "st_1",
        "retryOf": None,
        "progress": {"processed": 3, "total": 10},
        "createdAt": "2025-01-02T03:04:05Z",
        "startedAt": "2025-01-02T03:04:06Z",
        "completedAt": None,
        "durationMs": None,
        "error": None,
        "output": None,
        **extra,
    }


SEARCH_ANSWER = {
    "data": [
        {
            "id": "chk_1",
            "documentId": "doc_1",
            "title": "Deploying",
            "url": "https://example.com/deploy",
            "snippet": "Deploy the cluster",
            "score": 0.91,
            "source": {"type": "github", "path": "docs/deploy.md", "store": "docs"},
            "highlights": ["<mark>Deploy</mark> the cluster"],
            "futureField": {"anything": 1},
        }
    ],
    "meta": {"total": 1, "limit": 5, "offset": 0, "took": 12.5, "mode": "fast"},
    "latency": {"embedding": 3.0, "retrieval": 4.0, "fusion": 0.5, "total": 12.5},
    "requestId": "req_search",
}


# -- requests and typed answers ---------------------------------------------------------------------


def test_search_sends_camel_case_and_parses_typed_results(make: Callable[..., Lightfast]) -> None:
    server = Server(reply(SEARCH_ANSWER))
    client = make(server)
    result = client.search(
        "deploy",
        limit=5,
        offset=10,
        mode="fast",
        stores=["docs"],
        source_types="github",
        path_prefix="docs/",
        date_from=datetime(2025, 1, 1, tzinfo=UTC),
        date_to="2025-02-01T00:00:00Z",
        include_highlights=True,
    )
    request = server.last
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/v1/search")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["User-Agent"] == f"lightfast-python/{lightfast.__version__}"
    assert request.headers["Content-Type"] == "application/json"
    assert "Idempotency-Key" not in request.headers  # a read needs none
    assert server.body() == {
        "query": "deploy",
        "limit": 5,
        "offset": 10,
        "mode": "fast",
        "filters": {
            "stores": ["docs"],
            "sourceTypes": ["github"],
            "pathPrefix": "docs/",
            "dateRange": {"from": "2025-01-01T00:00:00+00:00", "to": "2025-02-01T00:00:00Z"},
        },
        "includeHighlights": True,
    }
    assert isinstance(result, SearchResponse)
    hit = result.data[0]
    assert (hit.id, hit.document_id, hit.title, hit.score) == ("chk_1", "doc_1", "Deploying", 0.91)
    assert (hit.source.type, hit.source.path, hit.source.store) == ("github", "docs/deploy.md", "docs")
    assert hit.highlights == ["<mark>Deploy</mark> the cluster"]
    assert hit.model_extra == {"futureField": {"anything": 1}}  # unknown fields are kept, not fatal
    assert (result.meta.total, result.meta.took, result.meta.mode) == (1, 12.5, "fast")
    assert result.latency.embedding == 3.0
    assert result.request_id == "req_search"


def test_search_defaults_send_no_filters(make: Callable[..., Lightfast]) -> None:
    server = Server(reply({"data": [], "meta": {}, "latency": {}}, headers={"x-request-id": "req_h"}))
    result = make(server).search("keys")
    assert server.body() == {
        "query": "keys",
        "limit": 10,
        "offset": 0,
        "mode": "balanced",
        "includeHighlights": False,
    }
    assert result.data == []
    assert result.request_id == "req_h"  # from the header when the body has none


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"query": ""}, "query must be a non-empty string"),
        ({"query": "   "}, "query must be a non-empty string"),
        ({"query": "q", "limit": 0}, "limit must be between 1 and 100"),
        ({"query": "q", "limit": 101}, "limit must be between 1 and 100"),
        ({"query": "q", "offset": -1}, "offset must be at least 0"),
        ({"query": "q", "stores": ["docs", ""]}, "every item of stores"),
        ({"query": "q", "date_from": datetime(2025, 2, 1), "date_to": datetime(2025, 1, 1)}, "date_from"),
    ],
)
def test_search_validates_arguments_locally(
    make: Callable[..., Lightfast], kwargs: dict[str, Any], match: str
) -> None:
    server = Server()
    with pytest.raises(ValueError, match=match):
        make(server).search(**kwargs)
    assert server.requests == []


def test_contents(make: Callable[..., Lightfast]) -> None:
    answer = {
        "items": [
            {
                "id": "doc_1",
                "title": "Deploying",
                "path": "docs/deploy.md",
                "sourceType": "github",
                "content": "# Deploying\n...",
                "metadata": {"lang": "en"},
                "updatedAt": "2025-01-02T03:04:05+00:00",
            }
        ],
        "missing": ["doc_9"],
        "requestId": "req_c",
    }
    server = Server(reply(answer))
    result = make(server).contents(["doc_1", "doc_9"])
    assert (server.last.method, server.last.url.path) == ("POST", "/v1/contents")
    assert server.body() == {"ids": ["doc_1", "doc_9"]}
    document = result.items[0]
    assert (document.source_type, document.metadata, document.content) == (
        "github",
        {"lang": "en"},
        "# Deploying\n...",
    )
    assert document.updated_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert result.missing == ["doc_9"]
    assert result.request_id == "req_c"


@pytest.mark.parametrize(
    ("ids", "match"),
    [([], "between 1 and 50"), ([f"d{i}" for i in range(51)], "between 1 and 50"), ("doc_1", "not a single")],
)
def test_contents_validates_ids(make: Callable[..., Lightfast], ids: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make(Server()).contents(ids)


def test_find_similar(make: Callable[..., Lightfast]) -> None:
    answer = {
        "data": [
            {
                "id": "chk_2",
                "documentId": "doc_2",
                "title": "Rollback",
                "path": "docs/rollback.md",
                "url": None,
                "sourceType": "github",
                "score": 0.8,
            }
        ],
        "requestId": "req_s",
    }
    server = Server(reply(answer))
    result = make(server).find_similar("doc_1", limit=5, threshold=0.5)
    assert (server.last.method, server.last.url.path) == ("POST", "/v1/findsimilar")
    assert server.body() == {"id": "doc_1", "limit": 5, "threshold": 0.5}
    assert (result.data[0].document_id, result.data[0].source_type, result.data[0].score) == (
        "doc_2",
        "github",
        0.8,
    )
    for kwargs, match in (
        ({"limit": 0}, "limit"),
        ({"limit": 51}, "limit"),
        ({"threshold": 1.5}, "threshold"),
    ):
        with pytest.raises(ValueError, match=match):
            make(Server()).find_similar("doc_1", **kwargs)


def test_jobs_list_get_recent_statistics(make: Callable[..., Lightfast]) -> None:
    detail = job(
        status="completed_with_errors",
        durationMs=1500,
        steps=[
            {
                "id": 1,
                "name": "plan",
                "status": "completed",
                "startedAt": "2025-01-02T03:04:06Z",
                "completedAt": "2025-01-02T03:04:07Z",
                "durationMs": 1000,
                "error": None,
            }
        ],
        failures=[{"path": "a.bin", "reason": "binary", "message": "not text"}],
    )
    stats = {
        "hours": 6,
        "total": 4,
        "byStatus": {"completed": 3, "failed": 1},
        "averageDurationMs": 250.0,
        "successRate": 0.75,
    }
    server = Server(
        reply({"items": [job()], "nextCursor": "c2", "hasMore": True}),
        reply({"items": [job("job_2")]}),
        reply(detail),
        reply(stats),
    )
    client = make(server)
    page = client.jobs.list(status="failed", source="src_1", limit=5, cursor="c1")
    request = server.requests[0]
    assert (request.method, request.url.path) == ("GET", "/v1/jobs")
    assert dict(request.url.params) == {"limit": "5", "status": "failed", "source": "src_1", "cursor": "c1"}
    assert (page.next_cursor, page.has_more) == ("c2", True)
    first = page.items[0]
    assert (first.source_id, first.store_id, first.progress.processed, first.progress.total) == (
        "src_1",
        "st_1",
        3,
        10,
    )
    assert first.created_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert not first.is_terminal

    recent = client.jobs.recent(3)
    assert (server.requests[1].url.path, dict(server.requests[1].url.params)) == (
        "/v1/jobs/recent",
        {"limit": "3"},
    )
    assert [j.id for j in recent] == ["job_2"]

    got = client.jobs.get("job_1")
    assert server.requests[2].url.path == "/v1/jobs/job_1"
    assert isinstance(got, JobDetail)
    assert got.is_terminal
    assert (got.steps[0].name, got.steps[0].duration_ms) == ("plan", 1000)
    assert (got.failures[0].path, got.failures[0].reason) == ("a.bin", "binary")

    statistics = client.jobs.statistics(6)
    assert dict(server.requests[3].url.params) == {"hours": "6"}
    assert (statistics.by_status, statistics.average_duration_ms, statistics.success_rate) == (
        {"completed": 3, "failed": 1},
        250.0,
        0.75,
    )


def test_job_ids_are_quoted_into_one_path_segment(make: Callable[..., Lightfast]) -> None:
    server = Server(reply(job()))
    make(server).jobs.get("../sources/x")
    assert server.last.url.raw_path == b"/v1/jobs/..%2Fsources%2Fx"


def test_mutations_send_idempotency_keys(make: Callable[..., Lightfast]) -> None:
    server = Server(
        reply(job(status="cancelled")),
        reply(job("job_2", retryOf="job_1", status="queued")),
        reply(job("job_3", status="queued")),
        reply({"sourceId": "src_1", "status": "valid", "path": "lightfast.yml", "config": {"store": "docs"}}),
        reply(job("job_4", status="queued", name="Disconnect docs")),
    )
    client = make(server)
    assert client.jobs.cancel("job_1", idempotency_key="mine").status == "cancelled"
    assert client.jobs.retry("job_1").retry_of == "job_1"
    assert client.sources.sync("src_1", full=True).id == "job_3"
    detected = client.sources.detect_config("src_1")
    removed = client.sources.remove("src_1")
    calls = [(r.method, r.url.path) for r in server.requests]
    assert calls == [
        ("POST", "/v1/jobs/job_1/cancel"),
        ("POST", "/v1/jobs/job_1/retry"),
        ("POST", "/v1/sources/src_1/sync"),
        ("POST", "/v1/sources/src_1/detect-config"),
        ("DELETE", "/v1/sources/src_1"),
    ]
    keys = [r.headers["Idempotency-Key"] for r in server.requests]
    assert keys[0] == "mine"
    assert all(key.startswith("lf_") and len(key) == 35 for key in keys[1:])
    assert len(set(keys)) == len(keys)
    assert server.body(2) == {"full": True}
    assert (detected.source_id, detected.config, detected.problems) == ("src_1", {"store": "docs"}, [])
    assert (removed.id, removed.name) == ("job_4", "Disconnect docs")


def test_sources_list(make: Callable[..., Lightfast]) -> None:
    source = {
        "id": "src_1",
        "type": "github",
        "name": "acme/docs",
        "isActive": False,
        "configStatus": "valid",
        "documentCount": 42,
        "lastSyncedAt": None,
        "createdAt": "2025-01-01T00:00:00Z",
    }
    server = Server(reply({"items": [source]}))
    sources = make(server).sources.list()
    assert (server.last.method, server.last.url.path) == ("GET", "/v1/sources")
    assert (sources[0].is_active, sources[0].config_status, sources[0].document_count) == (False, "valid", 42)


def test_jobs_iter_follows_cursors(make: Callable[..., Lightfast]) -> None:
    server = Server(
        reply({"items": [job("j1"), job("j2")], "nextCursor": "c1", "hasMore": True}),
        reply({"items": [job("j3"), job("j4")], "nextCursor": "c2", "hasMore": True}),
        reply({"items": [job("j5")], "nextCursor": None, "hasMore": False}),
    )
    client = make(server)
    assert [j.id for j in client.jobs.iter(status="completed", page_size=2)] == ["j1", "j2", "j3", "j4", "j5"]
    assert [r.url.params.get("cursor") for r in server.requests] == [None, "c1", "c2"]
    assert {r.url.params["status"] for r in server.requests} == {"completed"}
    assert {r.url.params["limit"] for r in server.requests} == {"2"}
    with pytest.raises(ValueError, match="limit must be between 1 and 100"):
        client.jobs.iter(page_size=0)  # checked at once, not on the first next()


def test_jobs_wait_polls_until_terminal(make: Callable[..., Lightfast], sleeps: Sleeps) -> None:
    server = Server(reply(job()), reply(job()), reply(job(status="completed", steps=[], failures=[])))
    seen: list[str] = []
    done = make(server).jobs.wait("job_1", timeout=60, poll=2.0, on_update=lambda j: seen.append(j.status))
    assert done.status == "completed"
    assert seen == ["running", "running", "completed"]
    assert sleeps == [2.0, 2.0]


def test_jobs_wait_times_out(make: Callable[..., Lightfast], sleeps: Sleeps) -> None:
    server = Server(*[reply(job(status="queued")) for _ in range(4)])
    with pytest.raises(JobWaitTimeoutError, match="still queued after 5 s") as caught:
        make(server).jobs.wait("job_1", timeout=5, poll=2.0)
    assert caught.value.job.status == "queued"
    assert isinstance(caught.value, TimeoutError)
    assert sleeps == [2.0, 2.0, 1.0]  # the last sleep is only what is left of the timeout
    assert len(server.requests) == 4  # one last look when the time is up


# -- errors ---------------------------------------------------------------------------------------------

ERRORS = [
    (400, "invalid_input", BadRequestError),
    (401, "unauthorized", AuthenticationError),
    (403, "forbidden", PermissionDeniedError),
    (404, "not_found", NotFoundError),
    (409, "conflict", ConflictError),
    (413, "payload_too_large", PayloadTooLargeError),
    (429, "rate_limited", RateLimitError),
    (500, "internal_error", ServerError),
    (503, "unavailable", ServerError),
    (418, "teapot", APIError),
]


@pytest.mark.parametrize(("status", "code", "kind"), ERRORS)
def test_error_statuses_map_to_exceptions(
    make: Callable[..., Lightfast], status: int, code: str, kind: type[APIError]
) -> None:
    server = Server(error(status, code, "it went wrong"))
    with pytest.raises(kind) as caught:
        make(server, max_retries=0).jobs.get("job_1")
    exc = caught.value
    assert type(exc) is kind
    assert isinstance(exc, APIError)
    assert isinstance(exc, LightfastClientError)
    assert (exc.status, exc.code, exc.message, exc.request_id) == (
        status,
        code,
        "it went wrong",
        f"req_{status}",
    )
    assert str(exc) == f"{status} {code}: it went wrong (request_id=req_{status})"


def test_error_without_json_body(make: Callable[..., Lightfast]) -> None:
    server = Server(httpx.Response(502, text="<html>Bad gateway</html>", headers={"x-request-id": "req_gw"}))
    with pytest.raises(ServerError) as caught:
        make(server, max_retries=0).sources.list()
    assert (caught.value.code, caught.value.message, caught.value.request_id) == (
        "http_502",
        "<html>Bad gateway</html>",
        "req_gw",
    )


def test_unreadable_success_body(make: Callable[..., Lightfast]) -> None:
    server = Server(httpx.Response(200, text="not json"), reply({"items": [{"name": "no id"}]}))
    client = make(server)
    with pytest.raises(APIResponseValidationError, match="not JSON"):
        client.sources.list()
    with pytest.raises(APIResponseValidationError, match="unexpected body"):
        client.sources.list()


# -- retries -------------------------------------------------------------------------------------------


def test_rate_limit_sleeps_retry_after_then_succeeds(make: Callable[..., Lightfast], sleeps: Sleeps) -> None:
    server = Server(error(429, "rate_limited", headers={"Retry-After": "2"}), reply(SEARCH_ANSWER))
    result = make(server).search("deploy")
    assert result.data[0].id == "chk_1"
    assert len(server.requests) == 2
    assert sleeps == [2.0]


def test_retry_after_is_capped(make: Callable[..., Lightfast], sleeps: Sleeps) -> None:
    server = Server(error(429, "rate_limited", headers={"Retry-After": "3600"}), reply({"items": []}))
    make(server).sources.list()
    assert sleeps == [60.0]


def test_server_errors_retry_with_backoff_and_keep_the_idempotency_key(
    make: Callable[..., Lightfast], sleeps: Sleeps
) -> None:
    server = Server(
        error(500, "internal_error"), error(502, "bad_gateway"), reply(job("job_9", status="queued"))
    )
    assert make(server).sources.sync("src_1").id == "job_9"
    assert len(server.requests) == 3
    assert 0.375 <= sleeps[0] <= 0.5  # 0.5 s, minus up to 25 % jitter
    assert 0.75 <= sleeps[1] <= 1.0  # doubled
    keys = {r.headers["Idempotency-Key"] for r in server.requests}
    assert len(keys) == 1  # a retried POST can not do the work twice
    assert [server.body(i) for i in range(3)] == [{"full": False}] * 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413])
def test_client_errors_are_never_retried(make: Callable[..., Lightfast], sleeps: Sleeps, status: int) -> None:
    server = Server(error(status, "nope"), reply(job()))
    with pytest.raises(APIError):
        make(server, max_retries=5).jobs.get("job_1")
    assert len(server.requests) == 1
    assert sleeps == []


def test_retries_exhausted(make: Callable[..., Lightfast], sleeps: Sleeps) -> None:
    server = Server(*[error(503, "unavailable") for _ in range(3)])
    with pytest.raises(ServerError) as caught:
        make(server, max_retries=2).jobs.get("job_1")
    assert caught.value.status == 503
    assert len(server.requests) == 3
    assert len(sleeps) == 2

    limited = Server(*[error(429, "rate_limited", headers={"Retry-After": "1.5"}) for _ in range(2)])
    with pytest.raises(RateLimitError) as rate:
        make(limited, max_retries=1).jobs.get("job_1")
    assert rate.value.retry_after == 1.5
    assert len(limited.requests) == 2


def test_timeouts_raise_api_timeout_error(make: Callable[..., Lightfast], sleeps: Sleeps) -> None:
    server = Server(*[httpx.ReadTimeout("slow") for _ in range(3)])
    with pytest.raises(APITimeoutError) as caught:
        make(server, max_retries=2).search("deploy")
    assert isinstance(caught.value, APIConnectionError)
    assert (caught.value.code, caught.value.status) == ("timeout", None)
    assert len(server.requests) == 3
    assert len(sleeps) == 2


def test_connection_errors_are_retried(make: Callable[..., Lightfast], sleeps: Sleeps) -> None:
    server = Server(httpx.ConnectError("refused"), reply({"items": []}))
    assert make(server).sources.list() == []
    assert len(sleeps) == 1

    down = Server(httpx.ConnectError("refused"))
    with pytest.raises(APIConnectionError, match="refused") as caught:
        make(down, max_retries=0).sources.list()
    assert not isinstance(caught.value, APITimeoutError)


def test_timeout_is_sent_with_each_request(make: Callable[..., Lightfast]) -> None:
    server = Server(reply({"items": []}))
    make(server, timeout=7.5).sources.list()
    assert server.last.extensions["timeout"] == {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}


# -- construction and lifecycle -----------------------------------------------------------------------


def test_api_key_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIGHTFAST_API_KEY", raising=False)
    with pytest.raises(ValueError, match="API key is required"):
        Lightfast()
    monkeypatch.setenv("LIGHTFAST_API_KEY", "from_env")
    server = Server(reply({"items": []}))
    with Lightfast(transport=httpx.MockTransport(server)) as client:
        client.sources.list()
    assert server.last.headers["Authorization"] == "Bearer from_env"
    assert str(server.last.url) == "http://127.0.0.1:8000/v1/sources"
    with pytest.raises(ValueError, match="max_retries"):
        Lightfast(KEY, max_retries=-1)
    with pytest.raises(ValueError, match="base_url"):
        Lightfast(KEY, base_url="127.0.0.1:8000")


def test_context_manager_and_close() -> None:
    with Lightfast(KEY, BASE + "/", transport=httpx.MockTransport(Server())) as client:
        assert KEY not in repr(client)
        assert client.base_url == BASE
    assert client._http.is_closed

    shared = httpx.Client(transport=httpx.MockTransport(Server()))
    Lightfast(KEY, http_client=shared).close()
    assert not shared.is_closed  # not ours to close
    shared.close()


def test_top_level_import_is_lazy_and_light() -> None:
    assert lightfast.Lightfast is Lightfast
    assert lightfast.AsyncLightfast is AsyncLightfast
    code = (
        "import sys\n"
        "from lightfast import Lightfast, AsyncLightfast\n"
        "heavy = ('torch', 'sqlalchemy', 'fastapi', 'numpy', 'sentence_transformers', 'lightfast.api',"
        " 'lightfast.db', 'lightfast.app', 'lightfast.search')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- async parity --------------------------------------------------------------------------------------


def make_async(server: Server, sleeps: Sleeps, **options: Any) -> AsyncLightfast:
    return AsyncLightfast(
        KEY, BASE, transport=httpx.MockTransport(server), sleep=sleeps.async_sleep, **options
    )


def test_async_search_and_contents(sleeps: Sleeps) -> None:
    server = Server(reply(SEARCH_ANSWER), reply({"items": [], "missing": ["doc_1"]}))

    async def scenario() -> None:
        async with make_async(server, sleeps) as client:
            result = await client.search("deploy", limit=5, stores="docs")
            assert result.data[0].source.path == "docs/deploy.md"
            contents = await client.contents(["doc_1"])
            assert contents.missing == ["doc_1"]
        assert client._http.is_closed

    asyncio.run(scenario())
    assert server.body(0)["filters"] == {"stores": ["docs"]}
    assert server.requests[0].headers["Authorization"] == f"Bearer {KEY}"


def test_async_retries_and_errors(sleeps: Sleeps) -> None:
    server = Server(
        error(429, "rate_limited", headers={"Retry-After": "3"}),
        error(500, "internal_error"),
        reply(job(status="cancelled")),
        error(404, "not_found", "job 'x' does not exist"),
        httpx.ReadTimeout("slow"),
    )

    async def scenario() -> None:
        async with make_async(server, sleeps) as client:
            assert (await client.jobs.cancel("job_1")).status == "cancelled"
            with pytest.raises(NotFoundError, match="does not exist") as caught:
                await client.jobs.get("x")
            assert caught.value.request_id == "req_404"
        async with make_async(server, sleeps, max_retries=0) as client:
            with pytest.raises(APITimeoutError):
                await client.sources.list()

    asyncio.run(scenario())
    assert sleeps[0] == 3.0
    assert 0.75 <= sleeps[1] <= 1.0
    assert len(sleeps) == 2  # the 404 was not retried
    assert len({r.headers["Idempotency-Key"] for r in server.requests[:3]}) == 1


def test_async_iter_wait_and_sources(sleeps: Sleeps) -> None:
    server = Server(
        reply({"items": [job("j1")], "nextCursor": "c1", "hasMore": True}),
        reply({"items": [job("j2")], "nextCursor": None, "hasMore": False}),
        reply(job("j2")),
        reply(job("j2", status="failed", error="boom")),
        reply({"items": [{"id": "src_1"}]}),
        reply(job("job_5", status="queued")),
        reply({"hours": 24, "total": 0, "byStatus": {}}),
        reply({"items": [job("j2")]}),
    )

    async def scenario() -> None:
        async with make_async(server, sleeps) as client:
            assert [j.id async for j in client.jobs.iter(page_size=1)] == ["j1", "j2"]
            final = await client.jobs.wait("j2", poll=0.5)
            assert (final.status, final.error) == ("failed", "boom")
            assert [s.id for s in await client.sources.list()] == ["src_1"]
            assert (await client.sources.remove("src_1")).id == "job_5"
            assert (await client.jobs.statistics()).total == 0
            assert [j.id for j in await client.jobs.recent()] == ["j2"]

    asyncio.run(scenario())
    assert [r.url.params.get("cursor") for r in server.requests[:2]] == [None, "c1"]
    assert sleeps == [0.5]
