"""What every /v1 request goes through, in order: a request id, the body size limit, authentication, the
per-key rate limit, Idempotency-Key replay for mutating calls, then usage metrics and activity."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from lightfast.api.errors import error_response
from lightfast.api.input import refuse_unstorable
from lightfast.api.ratelimit import RateLimiter
from lightfast.app import logs
from lightfast.app.container import Services
from lightfast.app.keys import Principal
from lightfast.app.usage import ApiCall
from lightfast.errors import (
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidInput,
    LightfastError,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
)

log = logging.getLogger("lightfast.api")

Handler = Callable[[Request], Awaitable[Response]]
MUTATING = ("POST", "PATCH", "PUT", "DELETE")
# POSTs that only read: no idempotency record, no activity entry.
READ_ONLY_POSTS = ("/v1/search", "/v1/contents", "/v1/findsimilar")


def install(app: FastAPI, services: Services) -> None:
    settings = services.settings
    limiter = RateLimiter(settings.rate_limit_per_minute)

    @app.middleware("http")
    async def pipeline(request: Request, call_next: Handler) -> Response:
        request_id = request.headers.get("x-request-id") or f"req_{uuid.uuid4().hex[:20]}"
        if len(request_id) > 100 or not request_id.isprintable():
            request_id = f"req_{uuid.uuid4().hex[:20]}"
        request.state.request_id = request_id
        logs.bind_request(request_id)  # every line logged while handling it names it (JSON logs)
        started = time.perf_counter()
        if not request.url.path.startswith("/v1/"):
            response = await call_next(request)
            response.headers["X-Request-Id"] = request_id
            return response

        try:
            return await _v1(request, call_next, request_id, started)
        except LightfastError as exc:  # raised before the route: its answer comes from the one mapping
            return error_response(exc, request_id)

    async def _v1(request: Request, call_next: Handler, request_id: str, started: float) -> Response:
        too_large = PayloadTooLarge(f"the request body is larger than {settings.max_request_bytes} bytes")
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_request_bytes):
            raise too_large
        body = await request.body()
        if len(body) > settings.max_request_bytes:
            raise too_large
        refuse_unstorable(request, body)

        principal = await run_in_threadpool(authenticate, services, request)
        request.state.principal = principal

        decision = limiter.check(principal.key_id or f"anonymous:{client_address(request)}")
        limit_headers = {
            "X-RateLimit-Limit": str(decision.limit),
            "X-RateLimit-Remaining": str(decision.remaining),
            "X-RateLimit-Reset": str(decision.reset_seconds),
        }
        if not decision.allowed:
            return error_response(
                RateLimited(
                    f"too many requests; retry in {decision.retry_after} s", retry_after=decision.retry_after
                ),
                request_id,
                limit_headers,
            )

        idempotency_key = request.headers.get("idempotency-key")
        replayable = (
            request.method in MUTATING
            and request.url.path not in READ_ONLY_POSTS
            and idempotency_key
            and principal.key_id
        )
        if replayable:
            response = await idempotent(
                services, request, principal, str(idempotency_key), body, guarded(call_next)
            )
        else:
            response = await guarded(call_next)(request)
        response.headers.update(limit_headers)
        response.headers["X-Request-Id"] = request_id
        elapsed_ms = (time.perf_counter() - started) * 1000
        await run_in_threadpool(record_usage, services, request, principal, response.status_code, elapsed_ms)
        return response


def guarded(call_next: Handler) -> Handler:
    """``call_next`` with an unexpected exception turned into the generic 500 answer here, inside the
    pipeline: otherwise it escapes past this middleware, so the Idempotency-Key reservation stays "in
    progress" for ever, and the answer has no rate-limit headers and no usage record."""

    async def call(request: Request) -> Response:
        try:
            return await call_next(request)
        except Exception:
            log.exception("request %s failed", request.state.request_id)
            return error_response(LightfastError(), request.state.request_id)

    return call


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authenticate(services: Services, request: Request) -> Principal:
    header = request.headers.get("authorization")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer":
            raise Unauthenticated("use Authorization: Bearer sk-lf-...")
        return services.api_keys.authenticate(secret.strip(), client_address(request))
    if services.settings.anonymous_allowed:
        return Principal(services.workspaces.workspace_id(), None, "anonymous")  # the default workspace
    raise Unauthenticated()


async def idempotent(
    services: Services, request: Request, principal: Principal, key: str, body: bytes, call_next: Handler
) -> Response:
    """Run a mutating request once per (API key, Idempotency-Key); repeats replay the first answer."""
    request_id: str = request.state.request_id
    if len(key) > 255:
        return error_response(
            InvalidInput("must be at most 255 characters", field="Idempotency-Key"), request_id
        )
    body_hash = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
    ).hexdigest()
    assert principal.key_id is not None
    key_id = principal.key_id

    existing = await run_in_threadpool(
        partial(
            services.idempotency.reserve,
            key_id,
            key,
            method=request.method,
            path=request.url.path,
            body_hash=body_hash,
        )
    )
    if existing is not None:
        if existing.body_hash != body_hash:
            return error_response(IdempotencyKeyReused(), request_id)
        if existing.in_progress:
            return error_response(IdempotencyInProgress(), request_id)
        status, payload = existing.status_code, existing.response
        replay = (
            JSONResponse(payload, status_code=status) if payload is not None else Response(status_code=status)
        )
        replay.headers["Idempotent-Replayed"] = "true"
        return replay

    response = await call_next(request)
    if hasattr(response, "body_iterator"):  # a streamed answer from the app
        chunks = [chunk async for chunk in response.body_iterator]
        raw = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
    else:  # an answer made here (the generic 500)
        raw = bytes(response.body)

    await run_in_threadpool(services.idempotency.complete, key_id, key, response.status_code, raw)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return Response(raw, status_code=response.status_code, headers=headers, media_type=response.media_type)


def record_usage(
    services: Services, request: Request, principal: Principal, status: int, elapsed_ms: float
) -> None:
    route = request.scope.get("route")
    endpoint = getattr(route, "path", request.url.path)
    try:
        call = ApiCall(
            workspace_id=principal.workspace_id,
            key_id=principal.key_id,
            method=request.method,
            endpoint=endpoint,
            status=status,
            elapsed_ms=elapsed_ms,
            request_id=request.state.request_id,
            address=client_address(request),
            entity_id=request.path_params.get("id") if hasattr(request, "path_params") else None,
            search=getattr(request.state, "search_usage", None),
        )
        services.usage.record_api_call(call)
    except Exception:  # usage records must never fail a request
        log.exception("could not record usage of request %s", request.state.request_id)
