"""Request-scoped dependencies: the services, and who is calling."""

from __future__ import annotations

from fastapi import Request

from lightfast.app.container import Services
from lightfast.app.keys import Principal
from lightfast.errors import Unauthenticated


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def principal(request: Request) -> Principal:
    """The caller, set by the auth middleware; every route scopes its queries to its workspace."""
    found: Principal | None = getattr(request.state, "principal", None)
    if found is None:
        raise Unauthenticated()
    return found
