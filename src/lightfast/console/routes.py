"""Mounts the console on the FastAPI application: its pages, its static assets (served by the package
itself: the console works offline) and the redirect to /login when a page needs a signed-in user."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from lightfast.console import jobs_page, search
from lightfast.console.activity_page import router as activity_router
from lightfast.console.auth import router as auth_router
from lightfast.console.dashboard import router as dashboard_router
from lightfast.console.document_page import router as document_router
from lightfast.console.notifications_page import router as notifications_router
from lightfast.console.settings_page import router as settings_router
from lightfast.console.sources_page import router as sources_router
from lightfast.console.store_embedding_page import router as store_embedding_router
from lightfast.console.vendor_connect import router as vendor_connect_router
from lightfast.console.viewer import CsrfRejected, LoginRequired


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(packages=[("lightfast.console", "static")]), name="static")

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(CsrfRejected)
    async def forged(request: Request, exc: CsrfRejected) -> PlainTextResponse:
        return PlainTextResponse("this form has expired or was not sent by the console; reload the page", 403)

    app.include_router(search.router)
    app.include_router(dashboard_router)
    app.include_router(document_router)
    app.include_router(vendor_connect_router)
    app.include_router(sources_router)
    app.include_router(activity_router)
    app.include_router(jobs_page.router)
    app.include_router(auth_router)
    app.include_router(notifications_router)
    app.include_router(settings_router)
    app.include_router(store_embedding_router)
