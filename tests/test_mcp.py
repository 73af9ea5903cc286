"""``lightfast mcp`` end to end: a real Lightfast HTTP API (uvicorn, SQLite, fake embedder) in a thread,
queried by MCP client sessions of the official SDK over stdio (``lightfast mcp`` as a subprocess) and over
streamable HTTP (the MCP app in another uvicorn thread)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import uvicorn
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

from lightfast.api.app import create_app
from lightfast.app.container import build_services
from lightfast.db.engine import make_engine
from lightfast.mcp.server import http_app
from tests.conftest import make_settings, write

TOOLS = {
    "lightfast_search",
    "lightfast_contents",
    "lightfast_find_similar",
    "lightfast_related",
    "lightfast_document",
    "lightfast_children",
}
TIMEOUT = 60.0
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


class ServerThread:
    """A uvicorn server on a free loopback port, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the server did not stop"


@dataclass(frozen=True)
class Api:
    url: str
    key: str
    other_key: str  # a key of workspace "other", which holds different documents


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    services = build_services(make_settings(tmp_path, url, allow_anonymous=False), engine=make_engine(url))
    try:
        repo = write(
            tmp_path / "repo",
            {
                "lightfast.yml": "version: 1\nstore: docs\ninclude:\n  - '**/*.md'\n",
                "docs/keys.md": "# Rotating API keys\n\nRotate an API key with lightfast keys rotate. "
                "The old key stops working at once.\n",
                "docs/deploy.md": "# Deploying\n\nDeploy the kubernetes cluster with helm charts.\n",
                "docs/billing.md": "# Billing\n\nInvoices and refunds are sent monthly.\n",
            },
        )
        other = write(tmp_path / "other", {"notes/zebra.md": "# Zebra migration\n\nZebras migrate north.\n"})
        services.ingest.ingest_path(repo, "w")
        services.ingest.ingest_path(other, "other")
        key = services.api_keys.create(services.workspaces.workspace_id("w"), "mcp").secret
        other_key = services.api_keys.create(services.workspaces.workspace_id("other"), "mcp").secret
        with ServerThread(create_app(services)) as base_url:
            yield Api(base_url, key, other_key)
    finally:
        services.close()


def payload(result: CallToolResult) -> Any:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    text = result.content[0]
    assert isinstance(text, TextContent)
    assert json.loads(text.text) == result.structured_content  # the same JSON for clients without it
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    return " ".join(block.text for block in result.content if isinstance(block, TextContent))


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("LIGHTFAST_API_KEY", "LIGHTFAST_BASE_URL")}


@asynccontextmanager
async def stdio_session(base_url: str, key: str, errlog: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "lightfast.cli", "mcp", "--base-url", base_url, "--api-key", key],
        env=child_env(),
    )
    with errlog.open("a", encoding="utf-8") as log:
        async with stdio_client(params, errlog=log) as (read, write_), ClientSession(read, write_) as session:
            await session.initialize()
            yield session


@asynccontextmanager
async def http_session(url: str, key: str) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=120.0)) as client,
        streamable_http_client(url, http_client=client) as (read, write_),
        ClientSession(read, write_) as session,
    ):
        await session.initialize()
        yield session


async def search_paths(session: ClientSession, query: str, **args: Any) -> list[str]:
    result = payload(await session.call_tool("lightfast_search", {"query": query, **args}))
    return [hit["path"] for hit in result["results"]]


def test_stdio_session_lists_and_calls_the_tools(api: Api, tmp_path: Path) -> None:
    errlog = tmp_path / "mcp-stderr.log"

    async def scenario() -> None:
        with anyio.fail_after(TIMEOUT):
            async with stdio_session(api.url, api.key, errlog) as session:
                tools = {tool.name: tool for tool in (await session.list_tools()).tools}
                assert set(tools) == TOOLS
                search_schema = tools["lightfast_search"].input_schema
                assert search_schema["required"] == ["query"]
                assert search_schema["properties"]["limit"]["maximum"] == 20
                assert search_schema["properties"]["mode"]["enum"] == ["fast", "balanced"]
                assert tools["lightfast_contents"].input_schema["properties"]["ids"]["maxItems"] == 20
                assert set(tools["lightfast_find_similar"].input_schema["properties"]) >= {
                    "id",
                    "limit",
                    "threshold",
                }
                for tool in tools.values():
                    assert len(tool.description or "") > 80
                    assert tool.annotations is not None
                    assert tool.annotations.read_only_hint

                found = payload(
                    await session.call_tool("lightfast_search", {"query": "rotate an API key", "limit": 2})
                )
                assert found["query"] == "rotate an API key"
                assert len(found["results"]) == 2
                top = found["results"][0]
                assert top["path"] == "docs/keys.md"
                assert top["title"] == "Rotating API keys"
                assert set(top) == {"documentId", "title", "path", "url", "snippet", "score"}
                assert "<mark>" in top["snippet"]
                assert await search_paths(session, "kubernetes helm", mode="fast") == ["docs/deploy.md"]

                contents = payload(
                    await session.call_tool(
                        "lightfast_contents", {"ids": [top["documentId"], "doc_does_not_exist"]}
                    )
                )
                assert contents["missing"] == ["doc_does_not_exist"]
                [document] = contents["documents"]
                assert document["documentId"] == top["documentId"]
                assert document["path"] == "docs/keys.md"
                assert "lightfast keys rotate" in document["text"]
                assert document["truncated"] is False
                assert document["length"] == len(document["text"])
                cut = payload(
                    await session.call_tool(
                        "lightfast_contents", {"ids": [top["documentId"]], "max_chars": 100}
                    )
                )
                assert len(cut["documents"][0]["text"]) == 100
                assert cut["documents"][0]["truncated"] is True

                similar = payload(
                    await session.call_tool("lightfast_find_similar", {"id": top["documentId"], "limit": 5})
                )
                assert similar["documentId"] == top["documentId"]
                paths = [hit["path"] for hit in similar["results"]]
                assert paths
                assert "docs/keys.md" not in paths
                assert set(paths) <= {"docs/deploy.md", "docs/billing.md"}

                # API errors and bad arguments are tool errors; the server keeps serving.
                missing = error_text(await session.call_tool("lightfast_find_similar", {"id": "doc_nope"}))
                assert "not_found (HTTP 404)" in missing
                too_many = error_text(
                    await session.call_tool("lightfast_search", {"query": "keys", "limit": 50})
                )
                assert "limit" in too_many
                assert (await search_paths(session, "invoices refunds"))[0] == "docs/billing.md"

    asyncio.run(scenario())
    assert "Traceback" not in errlog.read_text(encoding="utf-8")


def test_stdio_with_a_bad_key_gives_tool_errors(api: Api, tmp_path: Path) -> None:
    async def scenario() -> None:
        with anyio.fail_after(TIMEOUT):
            async with stdio_session(api.url, "sk-lf-not-a-real-key", tmp_path / "err.log") as session:
                assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
                calls: list[tuple[str, dict[str, Any]]] = [
                    ("lightfast_search", {"query": "keys"}),
                    ("lightfast_contents", {"ids": ["doc_1"]}),
                    ("lightfast_find_similar", {"id": "doc_1"}),
                ]
                for name, args in calls:
                    text = error_text(await session.call_tool(name, args))
                    assert "unauthorized (HTTP 401)" in text, text

    asyncio.run(scenario())


def test_stdio_without_a_key_exits_with_a_clear_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lightfast.cli", "mcp"],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "an API key is required: pass --api-key or set LIGHTFAST_API_KEY" in done.stderr
    assert done.stdout == ""


def test_streamable_http_uses_each_clients_own_key(api: Api) -> None:
    with ServerThread(http_app(api.url)) as mcp_base:
        url = f"{mcp_base}/mcp"

        # Refused without a key, with a malformed header, or with a key the API does not accept.
        for headers in [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer sk-lf-wrong"}]:
            response = httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **headers}, timeout=30)
            assert response.status_code == 401, response.text
            assert response.headers["www-authenticate"].startswith("Bearer")

        async def scenario() -> None:
            with anyio.fail_after(TIMEOUT):
                async with http_session(url, api.key) as session:
                    assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
                    found = payload(await session.call_tool("lightfast_search", {"query": "helm kubernetes"}))
                    top = found["results"][0]
                    assert top["path"] == "docs/deploy.md"
                    contents = payload(
                        await session.call_tool("lightfast_contents", {"ids": [top["documentId"]]})
                    )
                    assert "helm charts" in contents["documents"][0]["text"]
                    assert "notes/zebra.md" not in await search_paths(session, "zebra migration")
                # Another agent with a key of another workspace sees that workspace only.
                async with http_session(url, api.other_key) as session:
                    assert await search_paths(session, "zebras", mode="fast") == ["notes/zebra.md"]

        asyncio.run(scenario())

        # An MCP session is bound to the key that opened it.
        opened = httpx.post(
            url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {api.key}"}, timeout=30
        )
        assert opened.status_code == 200, opened.text
        session_id = opened.headers["mcp-session-id"]
        hijack = httpx.post(
            url,
            json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            headers={
                **MCP_HEADERS,
                "Authorization": f"Bearer {api.other_key}",
                "Mcp-Session-Id": session_id,
                "Mcp-Protocol-Version": "2025-06-18",
            },
            timeout=30,
        )
        assert hijack.status_code == 404
