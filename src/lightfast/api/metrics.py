"""``GET /metrics`` in Prometheus' text format, from the official client with a registry of this app's own
(never the process-global one: two apps in one process, as in the tests, keep their series apart).

* ``lightfast_http_request_duration_seconds{method, route, status}``: every request, by route template
  (``/v1/jobs/{id}``, never the concrete path: the label set stays bounded); unmatched paths share one
  ``route="(unmatched)"``.
* ``lightfast_search_duration_seconds{mode}``: the search service's own time, by mode.
* At scrape time, through one service call: ``lightfast_jobs{status}``, ``lightfast_job_queue_depth``,
  ``lightfast_documents_indexed``, ``lightfast_chunks_indexed``, ``lightfast_notification_deliveries
  {status}``, and the embedder's ``lightfast_embedded_texts_total`` and
  ``lightfast_embedding_seconds_total`` (their rates' ratio is the embedding throughput).
* Hosted model providers (``lightfast.embed.http``), per provider and model:
  ``lightfast_provider_requests_total{provider, model, outcome}`` (ok, rate_limited, server_error,
  refused, timeout, unreachable, circuit_open), ``lightfast_provider_tokens_total{provider, model}``
  (billed input tokens as the provider reports them: the cost of a store) and
  ``lightfast_provider_search_units_total{provider, model}`` (Cohere rerank's billing unit); and
  ``lightfast_rerank_outcomes_total{outcome}`` (applied, budget, error) of the search's rerank stage.

Who may read it: nobody when ``LIGHTFAST_METRICS_ENABLED=false`` (404). In development, anyone who reaches
the server (it listens on loopback by default). In production, a client sending ``Authorization: Bearer
<LIGHTFAST_METRICS_TOKEN>`` when that is set; without a token, only a loopback client whose request
carries no ``X-Forwarded-For`` (a reverse proxy on the same host would otherwise make every client look
local). Metrics name no document or query, but job counts and routes are still an operator's business."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable, Iterator

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lightfast.app.container import Services
from lightfast.app.operations import OperationsReader

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
# Request latencies: most answers take milliseconds; searches and ingests can take seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SEARCH_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)

Handler = Callable[[Request], Awaitable[Response]]


class FiguresCollector(Collector):
    """Gauges read from the database (and the embedder's counters) when Prometheus scrapes."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.reader = OperationsReader.of(services)

    def collect(self) -> Iterator[Metric]:
        figures = self.reader.figures()
        jobs = GaugeMetricFamily("lightfast_jobs", "Jobs by status (all workspaces).", labels=["status"])
        for status, count in sorted(figures.jobs_by_status.items()):
            jobs.add_metric([status], count)
        yield jobs
        yield GaugeMetricFamily(
            "lightfast_job_queue_depth", "Jobs queued, waiting for a worker.", value=figures.queue_depth
        )
        yield GaugeMetricFamily(
            "lightfast_documents_indexed", "Documents in every store.", value=figures.documents_indexed
        )
        yield GaugeMetricFamily(
            "lightfast_chunks_indexed", "Chunks (vectors) in every store.", value=figures.chunks_indexed
        )
        deliveries = GaugeMetricFamily(
            "lightfast_notification_deliveries", "Notification deliveries by status.", labels=["status"]
        )
        for status, count in sorted(figures.deliveries_by_status.items()):
            deliveries.add_metric([status], count)
        yield deliveries
        embedder = self.services.embedder
        yield CounterMetricFamily(
            "lightfast_embedded_texts",
            "Texts embedded by this process (chunks and queries).",
            value=embedder.texts_embedded,
        )
        yield CounterMetricFamily(
            "lightfast_embedding_seconds",
            "Seconds this process spent embedding.",
            value=embedder.seconds_embedding,
        )
        yield from provider_families(self.services)


def provider_families(services: Services) -> Iterator[Metric]:
    requests, tokens, units = services.provider_usage.snapshot()
    calls = CounterMetricFamily(
        "lightfast_provider_requests",
        "Calls to hosted model providers by outcome.",
        labels=["provider", "model", "outcome"],
    )
    for (provider, model, outcome), count in sorted(requests.items()):
        calls.add_metric([provider, model, outcome], count)
    yield calls
    billed = CounterMetricFamily(
        "lightfast_provider_tokens", "Input tokens hosted providers billed.", labels=["provider", "model"]
    )
    for (provider, model), count in sorted(tokens.items()):
        billed.add_metric([provider, model], count)
    yield billed
    searched = CounterMetricFamily(
        "lightfast_provider_search_units", "Rerank search units billed.", labels=["provider", "model"]
    )
    for (provider, model), count in sorted(units.items()):
        searched.add_metric([provider, model], count)
    yield searched
    outcomes = CounterMetricFamily(
        "lightfast_rerank_outcomes", "Searches that asked for rerank, by outcome.", labels=["outcome"]
    )
    stage = services.search.reranker
    for outcome, count in sorted((stage.outcomes if stage is not None else {}).items()):
        outcomes.add_metric([outcome], count)
    yield outcomes


class Metrics:
    def __init__(self, services: Services) -> None:
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "lightfast_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["method", "route", "status"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.searches = Histogram(
            "lightfast_search_duration_seconds",
            "Search latency inside the search service, by mode.",
            ["mode"],
            buckets=SEARCH_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(FiguresCollector(services))

    def observe_search(self, mode: str, seconds: float) -> None:
        self.searches.labels(mode=mode).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def route_template(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "(unmatched)"


def allowed(request: Request, services: Services) -> bool:
    settings = services.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token is not None else None
    if token:
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())
    if settings.environment != "production":
        return True
    client = request.client.host if request.client else ""
    return client in LOOPBACK and "x-forwarded-for" not in request.headers


def install(app: FastAPI, services: Services) -> Metrics:
    metrics = Metrics(services)
    services.search.observers.append(metrics.observe_search)
    app.state.metrics = metrics

    @app.middleware("http")
    async def time_requests(request: Request, call_next: Handler) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        # The route is known once routing ran, i.e. after call_next: its template, not the path.
        metrics.requests.labels(
            method=request.method, route=route_template(request), status=str(response.status_code)
        ).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def scrape(request: Request) -> Response:
        if not services.settings.metrics_enabled:
            return Response(
                "metrics are disabled (LIGHTFAST_METRICS_ENABLED=false)\n", 404, media_type="text/plain"
            )
        if not allowed(request, services):
            return Response(
                "metrics need Authorization: Bearer <LIGHTFAST_METRICS_TOKEN> (or a loopback client)\n",
                403,
                media_type="text/plain",
            )
        body = await run_in_threadpool(metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics
