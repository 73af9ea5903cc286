"""Documents by what they are, through every shell (issue 13): the SDK's ``find_documents`` and
``children`` and ``search(metadata=...)`` against a running API, the CLI's ``documents get`` /
``documents children`` / ``search --where``, and the MCP tools ``lightfast_document`` /
``lightfast_children`` and ``lightfast_search``'s metadata, all over one Linear issue and its comment
delivered by signed webhooks."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient

from lightfast.api.app import create_app
from lightfast.app.container import build_services
from lightfast.db.engine import make_engine
from lightfast.mcp.server import http_app
from lightfast.sdk import BadRequestError, Lightfast
from lightfast.sources.linear.webhooks import sign
from tests.conftest import make_settings
from tests.test_cli import as_json, cli_env, invoke, ok
from tests.test_mcp import TIMEOUT, ServerThread, error_text, http_session, payload

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "webhooks" / "linear"
SECRET = "lin_wh_lookup_calls_secret_0123456789"


@dataclass(frozen=True)
class World:
    url: str
    key: str
    cli: dict[str, str]
    issue_id: str  # the issue's document id


def _fixture(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    settings = make_settings(tmp_path, url, allow_anonymous=False, webhook_max_age=0)
    services = build_services(settings, engine=make_engine(url))
    try:
        workspace_id = services.workspaces.ensure_workspace_id()
        source = services.vendors.connections.connect(
            workspace_id, "linear", name="acme", webhook_secret=SECRET
        )
        issue = _fixture("issue.create.json")
        comment = _fixture("comment.create.json")
        comment["data"]["issueId"] = issue["data"]["id"]
        comment["data"]["issue"] = {"id": issue["data"]["id"], "title": issue["data"]["title"]}
        comment["url"] = issue["url"] + "#comment-5081a82b"
        with TestClient(create_app(services)) as client:
            for delivery in (issue, comment):
                body = json.dumps(delivery).encode()
                headers = {"Linear-Signature": sign(SECRET, body), "Linear-Delivery": str(uuid.uuid4())}
                answer = client.post(f"/webhooks/linear/{source.source.id}", content=body, headers=headers)
                assert answer.status_code in (200, 202), answer.text
                for job_id in answer.json()["jobs"]:
                    services.runner.run_inline(job_id)
        found = services.vendors.lookup.by_source(workspace_id, "linear", "KOR-11")
        assert len(found) == 1
        key = services.api_keys.create(workspace_id, "lookup").secret
        # The CLI's default workspace is the one ensure_workspace_id made (LIGHTFAST_DEFAULT_WORKSPACE).
        cli = {**cli_env(tmp_path / "cli", url), "LIGHTFAST_DEFAULT_WORKSPACE": settings.default_workspace}
        with ServerThread(create_app(services)) as base_url:
            yield World(base_url, key, cli, found[0].id)
    finally:
        services.close()


def test_sdk_finds_by_source_id_lists_children_and_filters_by_metadata(world: World) -> None:
    with Lightfast(world.key, world.url) as lf:
        (issue,) = lf.find_documents("linear", "KOR-11")
        assert issue.id == world.issue_id
        assert issue.source_metadata["state"] == "Backlog"
        assert issue.url == "https://linear.app/korosuke613/issue/KOR-11/webhook-test"
        assert lf.find_documents("linear", "KOR-999") == []
        (comment,) = lf.children(issue.id)
        assert comment.parent_doc_id == issue.id
        assert comment.source_metadata["kind"] == "comment"
        assert lf.children(comment.id) == []
        found = lf.search("webhook test", mode="fast", metadata={"state": "Backlog", "teamKey": ["KOR", "X"]})
        assert [hit.document_id for hit in found.data] == [issue.id]
        assert lf.search("webhook test", mode="fast", metadata={"state": "Done"}).data == []
        with pytest.raises(BadRequestError) as refused:
            lf.search("webhook test", metadata={"state": [["nested"]]})
        assert "filters.metadata.state" in str(refused.value)
        with pytest.raises(ValueError, match="metadata"):
            lf.search("x", metadata=["state"])  # type: ignore[arg-type]


def test_cli_documents_get_children_and_search_where(world: World) -> None:
    got = as_json(
        ok(world.cli, "documents", "get", "--source-type", "linear", "--source-id", "KOR-11", "--json")
    )
    assert [item["id"] for item in got["items"]] == [world.issue_id]
    assert got["items"][0]["sourceMetadata"]["identifier"] == "KOR-11"
    shown = ok(world.cli, "documents", "get", "--source-type", "linear", "--source-id", "KOR-11")
    assert "KOR-11: webhook test" in shown.stdout
    missing = invoke(world.cli, "documents", "get", "--source-type", "linear", "--source-id", "KOR-404")
    assert missing.exit_code == 1
    assert "No linear document 'KOR-404'" in missing.stdout
    children = as_json(ok(world.cli, "documents", "children", world.issue_id, "--json"))
    assert [item["parentDocId"] for item in children["items"]] == [world.issue_id]
    unknown = invoke(world.cli, "documents", "children", "doc_nope")
    assert unknown.exit_code != 0
    bad_type = invoke(world.cli, "documents", "get", "--source-type", "jira", "--source-id", "X-1")
    assert bad_type.exit_code != 0
    assert "sourceType" in bad_type.stdout + bad_type.stderr

    def titles(*where: str) -> list[str]:
        args = [arg for expression in where for arg in ("--where", expression)]
        found = as_json(ok(world.cli, "search", "webhook test", "--mode", "fast", "--json", *args))
        return [hit["title"] for hit in found["results"]]

    assert titles("state=Backlog", "teamKey=KOR") == ["KOR-11: webhook test"]
    assert titles("priority:=0", "kind=issue") == ["KOR-11: webhook test"]
    assert titles("state=In Progress") == []
    refused = invoke(world.cli, "search", "x", "--where", "state")
    assert refused.exit_code != 0
    assert "KEY=VALUE" in refused.stdout + refused.stderr


def test_mcp_document_children_and_search_metadata(world: World) -> None:
    with ServerThread(http_app(world.url)) as mcp_base:

        async def scenario() -> None:
            with anyio.fail_after(TIMEOUT):
                async with http_session(f"{mcp_base}/mcp", world.key) as session:
                    tools = {tool.name: tool for tool in (await session.list_tools()).tools}
                    assert {"lightfast_document", "lightfast_children"} <= set(tools)
                    found = payload(
                        await session.call_tool(
                            "lightfast_document", {"source_type": "linear", "source_id": "KOR-11"}
                        )
                    )
                    (issue,) = found["documents"]
                    assert issue["documentId"] == world.issue_id
                    assert issue["metadata"]["teamKey"] == "KOR"
                    children = payload(await session.call_tool("lightfast_children", {"id": world.issue_id}))
                    assert [c["parentDocumentId"] for c in children["documents"]] == [world.issue_id]
                    hits = payload(
                        await session.call_tool(
                            "lightfast_search",
                            {"query": "webhook test", "mode": "fast", "metadata": {"state": "Backlog"}},
                        )
                    )
                    assert [h["documentId"] for h in hits["results"]] == [world.issue_id]
                    refused = await session.call_tool(
                        "lightfast_search", {"query": "webhook test", "metadata": {"bad key!": "x"}}
                    )
                    assert "filters.metadata" in error_text(refused)
                    gone = await session.call_tool("lightfast_children", {"id": "doc_nope"})
                    assert gone.is_error

        asyncio.run(scenario())
