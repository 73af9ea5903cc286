"""Property-based tests of the /v1 API against its own OpenAPI document (schemathesis 4), on SQLite.

For every operation, schemathesis generates requests from the schema (valid ones and invalid ones) and
sends them with a valid API key; every answer must be documented (status code, content type, headers,
body schema), invalid requests must be refused, valid ones accepted, and none may be a server error.
Path ids are also drawn from real resources, so the success answers are validated, not only the 404s.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from sqlalchemy import select

from lightfast.api import activity, insights, notifications, relationships, store_embedding
from lightfast.api.app import create_app
from lightfast.api.routes import router
from lightfast.app.container import Services, build_services
from lightfast.app.jobs import encode_cursor
from lightfast.db.engine import make_engine
from lightfast.db.models import Document, Job, Store
from lightfast.testing.github import GitHubStandIn, generate_private_key
from tests.conftest import make_settings, write

CONFIG = "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n"
DOCS = {
    "docs/deploy.md": "# Deploying\n\nDeploy the kubernetes cluster with helm charts.\n",
    "docs/billing.md": "# Billing\n\nInvoices and refunds are issued monthly.\n",
    "guides/onboarding.md": "---\ntitle: Welcome\n---\n# Onboarding\n\nWelcome new engineers.\n",
}
OPERATIONS = sorted(
    (method, str(getattr(route, "path", "")))
    for route in [
        *router.routes,
        *insights.router.routes,
        *notifications.router.routes,
        *activity.router.routes,
        *relationships.router.routes,
        *store_embedding.router.routes,
    ]
    for method in getattr(route, "methods", ())
    if method != "HEAD"
)
# Streams never end within a fuzzed example: GET /v1/events is checked in tests/test_live.py.
STREAMS = {("GET", "/v1/events")}
EXAMPLES = 25  # per operation and generation mode
ACCEPTED = ["2xx", "401", "404", "409", "429"]  # schemathesis' default, less 3xx and 5xx


@dataclass
class Target:
    app: FastAPI
    schema: Any
    services: Services
    key: str
    ids: dict[str, list[str]]  # real ids by the collection a path names
    cursors: list[str]  # real job-list cursors
    repo: Path  # a directory the API may connect


@pytest.fixture(scope="module")
def github() -> Iterator[tuple[GitHubStandIn, str]]:
    """A GitHub App (the REST stand-in) for the connect operation: fuzzed repositories and installations
    are answered 404 by it, as GitHub would."""
    private_pem, public_pem = generate_private_key()
    standin = GitHubStandIn(app_id=1, public_key_pem=public_pem)
    standin.start()
    yield standin, private_pem
    standin.stop()


@pytest.fixture
def target(tmp_path: Path, github: tuple[GitHubStandIn, str]) -> Iterator[Target]:
    """A fresh workspace per operation, so one operation's changes never starve another's."""
    roots = tmp_path / "roots"
    repo = write(roots / "repo", {"lightfast.yml": CONFIG, **DOCS})
    standin, private_pem = github
    settings_ = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'lightfast.db'}",
        allow_anonymous=False,
        local_source_roots=[roots],
        rate_limit_per_minute=1_000_000,
        github_app_id="1",
        github_private_key=private_pem,
        github_api_url=standin.url,
    )
    services = build_services(settings_, engine=make_engine(settings_.resolved_database_url))
    services.ingest.ingest_path(repo, "a")
    workspace = services.workspaces.workspace_id("a")
    source = services.sources.list(workspace)[0].id
    cancelled = services.jobs.enqueue_sync(workspace, source).job_id
    services.jobs.cancel(workspace, cancelled)
    queued = services.jobs.enqueue_sync(workspace, source).job_id
    key = services.api_keys.create(workspace, "schemathesis")
    # Keys the fuzzer may revoke or rotate: never the one it authenticates with.
    spare = [services.api_keys.create(workspace, f"spare-{i}").key.id for i in range(3)]
    # Targets the fuzzer may delete; never called (nothing fails in the fuzzed workspace).
    targets = [
        services.notifications.create_target(
            workspace, kind="generic", url=f"https://hooks.example.com/{i}"
        ).target.id
        for i in range(3)
    ]
    with services.sessions() as session:
        completed = list(session.scalars(select(Job.id).where(Job.status == "completed")))
        stores = list(session.scalars(select(Store.id)))
        documents = list(session.scalars(select(Document.id)))
        cursors = [encode_cursor(job) for job in session.scalars(select(Job))]
    app = create_app(services)
    config = schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"apiKey": {"bearer": key.secret}}},
            "operations": [
                # Schema-valid yet refused with 400, by design: a cursor is an opaque token only the
                # server issues, and a local path must lie under LIGHTFAST_LOCAL_SOURCE_ROOTS (server
                # configuration), and a store's embedding model must be one a provider serves (the
                # registry's, not the schema's, to say). Everything else must still be accepted.
                {
                    "include-path": path,
                    "include-method": method,
                    "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
                }
                for method, path in (
                    ("GET", "/v1/jobs"),
                    ("POST", "/v1/sources"),
                    ("PUT", "/v1/stores/{id}/embedding"),
                )
            ],
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    ids = {
        "jobs": [*completed, queued, cancelled],
        "workspaces": [workspace],
        "stores": stores,
        "sources": [source],
        "api-keys": spare,
        "documents": documents,
        "notifications": targets,
    }
    yield Target(app, schema, services, key.secret, ids, cursors, repo)
    services.close()


def strategies_for(target: Target, method: str, path: str) -> list[tuple[Any, int]]:
    """(strategy, examples): free generation, valid then invalid, plus valid requests on real data."""
    operation = target.schema[path][method]
    found: list[tuple[Any, int]] = [
        (operation.as_strategy(generation_mode=GenerationMode.POSITIVE), EXAMPLES),
        (operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), EXAMPLES),
    ]
    if "{id}" in path:
        found += [
            (operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters={"id": value}), 5)
            for value in target.ids[path.split("/")[2]]
        ]
    if (method, path) == ("GET", "/v1/jobs"):
        found += [
            (operation.as_strategy(generation_mode=GenerationMode.POSITIVE, query={"cursor": cursor}), 5)
            for cursor in target.cursors
        ]
    if (method, path) == ("POST", "/v1/sources"):
        body = {"type": "local", "path": str(target.repo)}
        found.append((operation.as_strategy(generation_mode=GenerationMode.POSITIVE, body=body), 5))
    if (method, path) == ("POST", "/v1/notifications/targets"):
        body = {"kind": "generic", "url": "https://hooks.example.com/fuzzed"}
        found.append((operation.as_strategy(generation_mode=GenerationMode.POSITIVE, body=body), 5))
    if (method, path) == ("PUT", "/v1/stores/{id}/embedding"):
        body = {"provider": "fake", "model": "fake-hash-256", "dryRun": True}
        found += [
            (operation.as_strategy(path_parameters={"id": store}, body=body), 2)
            for store in target.ids["stores"]
        ]
    if path in ("/v1/contents", "/v1/findsimilar"):
        documents = st.sampled_from(target.ids["documents"])
        bodies = (
            st.lists(documents, min_size=1, max_size=3).map(lambda ids: {"ids": ids})
            if path == "/v1/contents"
            else documents.map(lambda document: {"id": document})
        )
        strategy = bodies.flatmap(
            lambda body: operation.as_strategy(generation_mode=GenerationMode.POSITIVE, body=body)
        )
        found.append((strategy, 10))
    return found


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_conforms_to_the_schema(target: Target, method: str, path: str) -> None:
    statuses: Counter[int] = Counter()
    for strategy, examples in strategies_for(target, method, path):

        @given(case=strategy)
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,  # the same requests every run: a failure reproduces
        )
        def run(case: Any) -> None:
            statuses[case.call_and_validate().status_code] += 1

        run()
    assert not [status for status in statuses if status >= 500], statuses
    # The fuzzer reached the operation's success answer, so its body was validated too.
    assert any(200 <= status < 300 for status in statuses), statuses


def test_every_route_is_fuzzed(target: Target) -> None:
    documented = {
        (method.upper(), path)
        for path, item in target.schema.raw_schema["paths"].items()
        for method in item
        if path.startswith("/v1/")
    }
    assert documented == set(OPERATIONS) | STREAMS
    assert len(OPERATIONS) >= 26


def test_the_schema_declares_the_error_answers(target: Target) -> None:
    with TestClient(target.app) as client:
        spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["apiKey"]["description"],
    }
    error = spec["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"error", "message", "requestId"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert "422" not in operation["responses"], (method, path)
            if not path.startswith("/v1/"):
                continue
            responses = operation["responses"]
            for status in ("400", "401", "404", "409", "413", "429", "500"):
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, status)
            assert "Retry-After" in responses["429"]["headers"]
            assert operation["security"] == [{"apiKey": []}]
            success = next(code for code in responses if code.startswith("2"))
            if success == "204":
                assert "content" not in responses[success], (method, path)
            elif (method.upper(), path) in STREAMS:
                assert "text/event-stream" in responses[success]["content"], (method, path)
            else:
                schema = responses[success]["content"]["application/json"]["schema"]
                assert "$ref" in schema, (method, path)


def test_the_checks_catch_an_undocumented_answer(target: Target) -> None:
    """The validation bites: a success body that breaks the documented schema is reported."""
    operation = target.schema["/v1/stores"]["GET"]
    case = operation.Case()
    response = case.call(headers={"Authorization": f"Bearer {target.key}"})
    assert response.status_code == 200
    conformance = [schemathesis.checks.response_schema_conformance]
    case.validate_response(response, checks=conformance)  # the real answer conforms
    body = response.json()
    body["items"][0]["documentCount"] = "many"
    tampered = schemathesis.Response(
        status_code=200,
        headers={k: v for k, v in response.headers.items() if k != "content-length"},
        content=json.dumps(body).encode(),
        request=response.request,
        elapsed=response.elapsed,
        verify=True,
    )
    with pytest.raises(FailureGroup) as caught:
        case.validate_response(tampered, checks=conformance)
    assert [type(e).__name__ for e in caught.value.exceptions] == ["JsonSchemaError"]
    assert "documentCount" in str(caught.value)
    assert '"many" is not of type "integer"' in str(caught.value)
