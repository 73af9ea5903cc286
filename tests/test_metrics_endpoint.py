"""GET /metrics: Prometheus' text format from the app's own registry, parsed back with the official
parser; counters move after a search; the route label is the template; access rules per environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from lightfast.api.app import create_app
from lightfast.app.container import Services, build_services
from lightfast.db.engine import make_engine
from tests.conftest import make_settings, write


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'lf.db'}")
    built = build_services(settings, engine=make_engine(settings.resolved_database_url))
    yield built
    built.close()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_exposition_parses_and_moves_after_a_search(services: Services, tmp_path: Path) -> None:
    services.ingest.ingest_path(str(write(tmp_path / "docs", {"a.md": "# Keys\n\nRotate the keys.\n"})))
    client = TestClient(create_app(services))
    before = client.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    assert value(before.text, "lightfast_documents_indexed") == 1
    assert value(before.text, "lightfast_chunks_indexed") >= 1
    assert value(before.text, "lightfast_jobs", status="completed") >= 1
    assert value(before.text, "lightfast_embedded_texts_total") >= 1
    searched_before = value(before.text, "lightfast_search_duration_seconds_count", mode="balanced")

    assert client.post("/v1/search", json={"query": "rotate keys"}).status_code == 200
    after = client.get("/metrics").text
    assert value(after, "lightfast_search_duration_seconds_count", mode="balanced") == searched_before + 1
    route = {"method": "POST", "route": "/v1/search", "status": "200"}
    assert value(after, "lightfast_http_request_duration_seconds_count", **route) == 1


def test_route_label_is_the_template_not_the_path(services: Services) -> None:
    services.workspaces.ensure_workspace_id()
    client = TestClient(create_app(services))
    client.get("/v1/jobs/job_one")
    client.get("/v1/jobs/job_two")
    client.get("/no/such/page/123")
    text = client.get("/metrics").text
    assert (
        value(
            text,
            "lightfast_http_request_duration_seconds_count",
            method="GET",
            route="/v1/jobs/{id}",
            status="404",
        )
        == 2
    )
    assert "job_one" not in text
    assert "/no/such/page" not in text
    assert (
        value(
            text,
            "lightfast_http_request_duration_seconds_count",
            method="GET",
            route="(unmatched)",
            status="404",
        )
        == 1
    )


def test_each_app_has_its_own_registry(services: Services) -> None:
    first, second = TestClient(create_app(services)), TestClient(create_app(services))
    first.get("/healthz")
    text = second.get("/metrics").text
    assert (
        value(
            text,
            "lightfast_http_request_duration_seconds_count",
            method="GET",
            route="/healthz",
            status="200",
        )
        == 0
    )


def test_disabled_metrics_answer_404(services: Services) -> None:
    services.settings = services.settings.model_copy(update={"metrics_enabled": False})
    assert TestClient(create_app(services)).get("/metrics").status_code == 404


def test_production_needs_the_token_or_a_direct_loopback_client(services: Services) -> None:
    services.settings = services.settings.model_copy(update={"environment": "production"})
    # TestClient's client address is "testclient": neither loopback nor carrying the token.
    assert TestClient(create_app(services)).get("/metrics").status_code == 403
    local = TestClient(create_app(services), client=("127.0.0.1", 5000))
    assert local.get("/metrics").status_code == 200
    assert local.get("/metrics", headers={"x-forwarded-for": "203.0.113.9"}).status_code == 403

    services.settings = services.settings.model_copy(update={"metrics_token": SecretStr("s3cret-token")})
    client = TestClient(create_app(services))
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", headers={"authorization": "Bearer s3cret-token"}).status_code == 200
