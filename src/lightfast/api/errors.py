"""The only place that knows HTTP status codes for Lightfast errors."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from lightfast.app.schemas import ErrorOut
from lightfast.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    LightfastError,
    NotConfigured,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    SearchUnavailable,
    SettingsError,
    Unauthenticated,
    UpstreamError,
)

log = logging.getLogger("lightfast.api")

LOCATIONS = ("body", "query", "path", "header", "cookie")
# Errors raised by the framework itself (an unparsable body, an unknown path, a wrong method).
HTTP_CODES = {400: "invalid_input", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
# The most specific class first: the first match wins.
STATUS: dict[type[LightfastError], int] = {
    PayloadTooLarge: 413,
    InvalidInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
    UpstreamError: 502,
    NotConfigured: 503,
    SettingsError: 503,
    SearchUnavailable: 503,
}
# Server-side errors whose message is ours and safe to show (never a secret, never a stack trace).
TELLING = (UpstreamError, SettingsError, NotConfigured, SearchUnavailable)


def request_id(request: Request) -> str:
    existing = getattr(request.state, "request_id", None)
    if existing is None:
        existing = f"req_{uuid.uuid4().hex[:20]}"
        request.state.request_id = existing
    return str(existing)


def status_for(exc: LightfastError) -> int:
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            return status
    return 500


def answer(
    status: int, code: str, message: str, rid: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Every error answer of the API, in the one wire shape :class:`ErrorOut`."""
    body = ErrorOut(error=code, message=message, request_id=rid).wire()
    return JSONResponse(body, status_code=status, headers={**(headers or {}), "X-Request-Id": rid})


def headers_for(exc: LightfastError) -> dict[str, str]:
    if isinstance(exc, RateLimited):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, Unauthenticated) and exc.code == Unauthenticated.code:
        return {"WWW-Authenticate": "Bearer"}
    return {}


def error_response(exc: LightfastError, rid: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The one answer for a Lightfast error, wherever in a request it was raised (route, middleware,
    webhook receiver): its status from :data:`STATUS`, its stable code, a message safe to show."""
    status = status_for(exc)
    telling = isinstance(exc, TELLING)
    if status >= 500 and not telling:
        log.error("request %s failed", rid, exc_info=exc)
    message = exc.message if status < 500 or telling else "internal error"
    field = exc.field if isinstance(exc, InvalidInput) else None
    if field and not message.startswith((f"{field} ", f"{field}:")):
        message = f"{field}: {message}"  # name the field, like the request-validation errors do
    code = exc.code if status < 500 or telling else "internal_error"
    return answer(status, code, message, rid, {**headers_for(exc), **(headers or {})})


def install(app: FastAPI) -> None:
    @app.exception_handler(LightfastError)
    async def lightfast_error(request: Request, exc: LightfastError) -> JSONResponse:
        return error_response(exc, request_id(request))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        tag = exc.body.get("type") if isinstance(exc.body, dict) else None
        for error in exc.errors():
            loc = list(error.get("loc", ()))
            if loc and loc[0] in LOCATIONS:  # name the field itself: "limit", not "query.limit"
                loc = loc[1:]
            if tag is not None and loc and loc[0] == tag:  # a tagged union names its member first
                loc = loc[1:]
            message = str(error.get("msg", "invalid"))
            context = error.get("ctx") or {}
            if error.get("type") in ("union_tag_not_found", "union_tag_invalid"):
                loc = [str(context.get("discriminator", "type")).strip("'")]
                expected = context.get("expected_tags")
                message = f"must be one of {expected}" if expected else "is required"
            if error.get("type") == "json_invalid":  # loc is ("body", offset): an offset is no field
                offset = loc[0] if loc else None
                loc = []
                reason = context.get("error", "invalid JSON")
                message = f"is not valid JSON ({reason} at character {offset})"
            field = ".".join(str(part) for part in loc)
            problems.append(f"{field or 'body'}: {message}")
        return answer(400, "invalid_input", "; ".join(problems), request_id(request))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        """The framework's own errors in the same shape as ours (not FastAPI's ``{"detail": ...}``)."""
        if exc.status_code >= 500:
            log.error("request %s failed: %s", request_id(request), exc.detail)
        code = HTTP_CODES.get(exc.status_code, "internal_error" if exc.status_code >= 500 else "http_error")
        message = str(exc.detail) if exc.status_code < 500 else "internal error"
        return answer(exc.status_code, code, message, request_id(request), exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id(request)
        log.exception("request %s failed", rid, exc_info=exc)
        return answer(500, "internal_error", "internal error", rid)
