"""``lightfast mcp``: the MCP server for coding agents (stdio or streamable HTTP)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

import typer

from lightfast.cli.common import app, errors

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_PORT = 8765  # lightfast.mcp.server.DEFAULT_HTTP_PORT (not imported: it loads the MCP SDK)


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


LEVELS: dict[LogLevel, Literal["DEBUG", "INFO", "WARNING", "ERROR"]] = {
    LogLevel.debug: "DEBUG",
    LogLevel.info: "INFO",
    LogLevel.warning: "WARNING",
    LogLevel.error: "ERROR",
}


@app.command()
def mcp(
    transport: Annotated[
        Transport,
        typer.Option(help="stdio (an agent starts the server) or http (streamable HTTP at /mcp)."),
    ] = Transport.stdio,
    base_url: Annotated[
        str,
        typer.Option(envvar="LIGHTFAST_BASE_URL", help="The Lightfast HTTP API to query."),
    ] = DEFAULT_BASE_URL,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="LIGHTFAST_API_KEY",
            show_default=False,
            help="API key of the workspace to query (stdio). Over HTTP each client sends its own "
            "'Authorization: Bearer <key>' instead.",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind (http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port (http).")] = DEFAULT_PORT,
    log_level: Annotated[LogLevel, typer.Option(help="Log level (logs go to stderr).")] = LogLevel.warning,
) -> None:
    """Serve the tools lightfast_search, lightfast_contents and lightfast_find_similar to MCP clients.

    Example: LIGHTFAST_API_KEY=sk-lf-... lightfast mcp --base-url http://127.0.0.1:8000

    Example: lightfast mcp --transport http --host 127.0.0.1 --port 8765
    """
    if not base_url.startswith(("http://", "https://")):
        errors.print(f"[red]error:[/red] --base-url must start with http:// or https://, got {base_url!r}")
        raise typer.Exit(2)
    level = LEVELS[log_level]

    if transport is Transport.http:
        import uvicorn

        from lightfast.mcp.server import DEFAULT_MCP_PATH, http_app

        if api_key:
            errors.print(
                "[dim]note: over HTTP the API key is taken from each client's Authorization header; "
                "the configured key is not used[/dim]"
            )
        errors.print(f"Lightfast MCP server on http://{host}:{port}{DEFAULT_MCP_PATH} (API {base_url})")
        asgi = http_app(base_url, host=host, log_level=level)
        uvicorn.run(asgi, host=host, port=port, log_level=log_level.value)
        return

    if not api_key or not api_key.strip():
        errors.print(
            "[red]error:[/red] an API key is required: pass --api-key or set LIGHTFAST_API_KEY "
            "(create one with: lightfast keys create --name mcp)"
        )
        raise typer.Exit(2)
    from lightfast.mcp.server import build_server

    build_server(base_url, api_key.strip(), log_level=level).run("stdio")
