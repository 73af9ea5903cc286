"""The FastAPI application: ``POST /v1/search`` and the search page."""

from __future__ import annotations

from importlib import resources
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from lightfast import __version__
from lightfast.api import errors
from lightfast.search.serialize import api_payload
from lightfast.search.service import SearchRequest
from lightfast.services import Services


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    stores: list[str] = Field(default_factory=list, max_length=50)
    source_types: list[str] = Field(default_factory=list, alias="sourceTypes", max_length=10)
    path_prefix: str | None = Field(default=None, alias="pathPrefix", max_length=1024)


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    query: str = Field(min_length=1, max_length=1000)
    limit: int = Field(default=10, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1000)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    workspace: str | None = Field(default=None, max_length=64)
    filters: Filters = Field(default_factory=Filters)


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="Lightfast", version=__version__, docs_url="/docs", openapi_url="/openapi.json")
    errors.install(app)
    page = resources.files("lightfast.console").joinpath("static/search.html").read_text("utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def search_page() -> str:
        return page

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.post("/v1/search")
    async def search(body: SearchBody, request: Request) -> dict[str, Any]:
        rid = errors.request_id(request)

        def run() -> dict[str, Any]:
            workspace_id = services.workspace_id(body.workspace)
            response = services.search.search(
                SearchRequest(
                    workspace_id=workspace_id,
                    query=body.query,
                    limit=body.limit,
                    offset=body.offset,
                    stores=tuple(body.filters.stores),
                    source_types=tuple(body.filters.source_types),
                    path_prefix=body.filters.path_prefix,
                    mode=body.mode,
                    request_id=rid,
                )
            )
            return api_payload(response)

        # Embedding and SQLite are blocking: keep them off the event loop.
        return await run_in_threadpool(run)

    return app
