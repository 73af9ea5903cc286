"""The services the workflow steps run with.

DBOS calls workflow and step functions by name, so they cannot take the services as an argument; the
worker binds them here once at start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lightfast.app.container import Services

_bound: Services | None = None


def bind(services: Services | None) -> None:
    global _bound
    _bound = services


def current() -> Services:
    if _bound is None:
        raise RuntimeError("no worker is running in this process")
    return _bound
