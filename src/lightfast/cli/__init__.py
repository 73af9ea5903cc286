"""The ``lightfast`` command: a thin shell over the services the API uses."""

from __future__ import annotations

import os
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
    # Read once, when torch loads OpenMP (lazily, on the first embedding): a thread that finished its
    # share of a document batch sleeps instead of spinning on the core a query's embedding needs.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


__all__ = ["app", "main"]
