"""The FastAPI application: /v1 (search, contents, jobs, workspaces, stores, sources, API keys), the
web console (lightfast.console) and /healthz."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from lightfast import __version__, console
from lightfast.api import activity, errors, events, insights, metrics, middleware, notifications
from lightfast.api.relationships import router as relationships_router
from lightfast.api.routes import router
from lightfast.api.store_embedding import router as store_embedding_router
from lightfast.api.vendor_webhooks import router as vendor_webhooks_router
from lightfast.api.webhooks import router as webhooks_router
from lightfast.app import schemas
from lightfast.app.container import Services


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="Lightfast",
        version=__version__,
        docs_url="/docs",
        openapi_url="/openapi.json",
        description="Search a workspace's documents and control its background jobs. Authenticate with "
        "`Authorization: Bearer sk-lf-...` (an API key bound to one workspace).",
    )
    app.state.services = services
    errors.install(app)
    middleware.install(app, services)
    metrics.install(app, services)
    app.include_router(router)
    app.include_router(relationships_router)
    app.include_router(store_embedding_router)
    app.include_router(insights.router)
    app.include_router(notifications.router)
    app.include_router(events.router)
    app.include_router(activity.router)
    app.include_router(webhooks_router)
    app.include_router(vendor_webhooks_router)
    console.install(app)

    @app.get("/healthz", tags=["meta"])
    def health() -> schemas.HealthOut:
        return schemas.HealthOut(status="ok", version=__version__)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def describe(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI document, corrected: invalid requests are answered 400 (an ErrorOut), never
    422, so the 422 answers and their schemas go; and every /v1 operation needs the Bearer key."""
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path, item in spec.get("paths", {}).items():
        for operation in item.values():
            operation.get("responses", {}).pop("422", None)
            if path.startswith("/v1/"):
                operation["security"] = [{"apiKey": []}]
    components = spec.setdefault("components", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(unused, None)
    components["securitySchemes"] = {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key of one workspace: `Authorization: Bearer sk-lf-...`.",
        }
    }
    return spec
