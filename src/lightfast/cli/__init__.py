"""The ``lightfast`` command: a thin shell over the services the API uses."""

from __future__ import annotations

import sys

from lightfast.cli import (  # noqa: F401 - registers the commands
    documents,
    index,
    jobs,
    keys,
    mcp,
    orgs,
    related,
    search,
    secrets,
    server,
    sources,
    stores_embedding,
    users,
    vendor_sources,
    workspaces,
)
from lightfast.cli.common import app


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


__all__ = ["app", "main"]
