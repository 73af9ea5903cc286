"""Each wire shape once (issue 9, item 3): the CLI's ``--json`` prints what the API answers, both built by
the models of ``lightfast.app.schemas``; one name per search mode everywhere, the former ones accepted
at the edge only; one ``JobStatus`` and one ``JobTrigger``, and no bare status strings in the code."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from lightfast.app import schemas
from lightfast.app.search import SearchMode, SearchRequest
from lightfast.db.statuses import JobStatus, JobTrigger
from lightfast.errors import InvalidInput
from tests import test_api
from tests.test_api import Api
from tests.test_cli import as_json, cli_env, invoke, ok

SRC = Path(__file__).parents[1] / "src" / "lightfast"
STATUS_VALUES = {str(s) for s in JobStatus}
TRIGGER_VALUES = {str(t) for t in JobTrigger}
# The API fixtures of test_api.py: a workspace "a" with its documents and a key.
make_api = test_api.make_api
api = test_api.api


def cli_on(api: Api) -> dict[str, str]:
    """The CLI's environment on the API's database and workspace."""
    env = cli_env(api.tmp_path / "cli", api.services.settings.resolved_database_url)
    return {**env, "LIGHTFAST_DEFAULT_WORKSPACE": "a"}


# -- the CLI prints the API's shapes ----------------------------------------------------------------


def test_cli_json_is_the_api_answer(api: Api) -> None:
    env = cli_on(api)
    api_jobs = api.get("/v1/jobs")["items"]
    assert as_json(ok(env, "jobs", "list", "--json")) == api_jobs
    job_id = api_jobs[0]["id"]
    shown = as_json(ok(env, "jobs", "show", job_id, "--json"))
    assert shown == api.get(f"/v1/jobs/{job_id}")
    assert list(shown)[:3] == ["id", "name", "status"]  # field order is the API's
    assert shown["status"] == JobStatus.COMPLETED
    assert shown["trigger"] == JobTrigger.MANUAL
    assert shown["createdAt"].endswith("+00:00")  # datetime.isoformat, as the API always sent

    api_keys = api.get("/v1/api-keys")["items"]  # marks the key used, before the CLI reads it
    assert as_json(ok(env, "keys", "list", "--json")) == api_keys
    created = as_json(ok(env, "keys", "create", "--name", "ci", "--json"))
    assert set(created) == set(schemas.CreatedKeyOut.model_json_schema(by_alias=True)["properties"])
    assert created["key"].startswith("sk-lf-")
    assert created["id"] in {k["id"] for k in api.get("/v1/api-keys")["items"]}


# -- search modes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("former", "name"), [("bm25", "fast"), ("hybrid", "balanced")])
def test_api_takes_former_mode_names_and_answers_with_the_name(api: Api, former: str, name: str) -> None:
    by_former = api.search({"query": "invoices refunds", "mode": former, "limit": 100})
    by_name = api.search({"query": "invoices refunds", "mode": name, "limit": 100})
    assert by_former["meta"]["mode"] == by_name["meta"]["mode"] == name
    assert [h["documentId"] for h in by_former["data"]] == [h["documentId"] for h in by_name["data"]]


def test_api_refuses_unknown_modes_naming_the_field(api: Api) -> None:
    reply = api.call("POST", "/v1/search", 400, json={"query": "x", "mode": "semantic"}).json()
    assert reply["error"] == "invalid_input"
    assert reply["message"].startswith("mode")


def test_cli_takes_the_names_and_the_former_names(api: Api) -> None:
    env = cli_on(api)

    def paths(mode: str) -> list[str]:
        payload = as_json(ok(env, "search", "invoices refunds", "--json", "--mode", mode, "--limit", "100"))
        return [r["path"] for r in payload["results"]]

    assert paths("fast") == paths("bm25") == ["docs/billing.md"]
    assert paths("balanced") == paths("hybrid")
    assert len(paths("dense")) == len(paths("balanced"))
    refused = invoke(env, "search", "invoices", "--mode", "semantic")
    assert refused.exit_code == 2
    assert "mode must be one of fast, balanced, dense" in refused.stderr


def test_services_know_only_the_names(api: Api) -> None:
    assert [str(m) for m in SearchMode] == ["fast", "balanced", "dense", "rerank"]
    assert schemas.search_mode("bm25") is SearchMode.FAST
    assert schemas.search_mode("hybrid") is SearchMode.BALANCED
    with pytest.raises(InvalidInput, match="mode must be one of fast, balanced, dense, rerank"):
        api.services.search.search(SearchRequest(api.workspace_id, "invoices", mode="bm25"))  # type: ignore[arg-type]


def test_openapi_names_modes_statuses_and_triggers(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    components = spec["components"]["schemas"]
    assert components["SearchBody"]["properties"]["mode"]["enum"] == [
        "fast",
        "balanced",
        "dense",
        "rerank",
        "bm25",
        "hybrid",
    ]
    assert components["SearchBody"]["properties"]["mode"]["default"] == "balanced"
    assert components["SearchMode"]["enum"] == ["fast", "balanced", "dense", "rerank"]
    assert components["JobOut"]["properties"]["status"] == {"$ref": "#/components/schemas/JobStatus"}
    assert components["JobStatus"]["enum"] == [str(s) for s in JobStatus]
    assert components["JobTrigger"]["enum"] == [str(t) for t in JobTrigger]
    [status] = [p for p in spec["paths"]["/v1/jobs"]["get"]["parameters"] if p["name"] == "status"]
    assert status["schema"]["enum"] == [str(s) for s in JobStatus]


# -- the code names these values once --------------------------------------------------------------------


def _modules() -> list[Path]:
    # The SDK stands alone (it talks HTTP and keeps its own types); the test kit fakes outside systems.
    return [
        path for path in sorted(SRC.rglob("*.py")) if path.relative_to(SRC).parts[0] not in ("sdk", "testing")
    ]


def _bare_values(tree: ast.AST, values: set[str], names: set[str]) -> list[int]:
    """Lines where one of ``values`` is compared against, passed as ``name=`` or stored under ``"name"``."""
    lines: list[int] = []

    def is_value(node: Any) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in values
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return any(is_value(e) for e in node.elts)
        return False

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(is_value(c) for c in [node.left, *node.comparators]):
            lines.append(node.lineno)
        elif isinstance(node, ast.keyword) and node.arg in names and is_value(node.value):
            lines.append(node.value.lineno)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in names and is_value(value):
                    lines.append(value.lineno)
        elif isinstance(node, ast.Assign | ast.AnnAssign) and is_value(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) and t.attr in names for t in targets):
                lines.append(node.lineno)
    return lines


def test_job_statuses_and_triggers_are_never_bare_strings() -> None:
    found = []
    for path in _modules():
        if path == SRC / "db" / "statuses.py":
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for line in _bare_values(tree, STATUS_VALUES, {"status"}):
            found.append(f"{path.relative_to(SRC)}:{line} (status)")
        for line in _bare_values(tree, TRIGGER_VALUES, {"trigger"}):
            found.append(f"{path.relative_to(SRC)}:{line} (trigger)")
    assert not found, "use lightfast.db.statuses.JobStatus / JobTrigger: " + ", ".join(found)


def test_former_mode_names_live_only_at_the_edge() -> None:
    edge = SRC / "app" / "schemas" / "search.py"
    found = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in _modules()
        if path != edge
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.Constant) and node.value in ("bm25", "hybrid")
    ]
    assert not found, "name search modes with lightfast.app.search.SearchMode: " + ", ".join(found)


# Keys only a response object has (stored records, such as a job's input or an activity's details, have
# camelCase keys of their own). A dict with one of them outside the models defines a shape a second time.
RESPONSE_KEYS = {
    "createdAt",
    "updatedAt",
    "completedAt",
    "revokedAt",
    "lastSyncedAt",
    "nextCursor",
    "hasMore",
    "documentId",
    "byStatus",
    "isActive",
    "documentCount",
    "durationMs",
}


def test_response_dicts_are_not_built_by_hand() -> None:
    assert not (SRC / "app" / "jobs_serialize.py").exists()
    assert not (SRC / "app" / "search_serialize.py").exists()
    found = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in _modules()
        if path.relative_to(SRC).parts[:2] != ("app", "schemas")
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.Dict)
        and any(isinstance(k, ast.Constant) and k.value in RESPONSE_KEYS for k in node.keys)
    ]
    assert not found, "build responses with the models of lightfast.app.schemas: " + ", ".join(found)
