"""Request-scoped dependencies: the services, and who is calling.

Both are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, and these only read the
request, so each would cost a thread hop on every call for nothing."""

from __future__ import annotations

from fastapi import Request

from lightfast.app.container import Services
from lightfast.app.keys import Principal
from lightfast.errors import Unauthenticated


async def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def principal(request: Request) -> Principal:
    """The caller, set by the auth middleware; every route scopes its queries to its workspace."""
    found: Principal | None = getattr(request.state, "principal", None)
    if found is None:
        raise Unauthenticated()
    return found
