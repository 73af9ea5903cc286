"""What every /v1 request goes through, in order: a request id, the body size limit, authentication, the
per-key rate limit, Idempotency-Key replay for mutating calls, then usage metrics and activity."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from lightfast.api.ratelimit import RateLimiter
from lightfast.app.keys import Principal, Unauthenticated
from lightfast.db import api_keys as keys_repo
from lightfast.db import jobs as jobs_repo
from lightfast.app.container import Services

log = logging.getLogger("lightfast.api")

Handler = Callable[[Request], Awaitable[Response]]
MUTATING = ("POST", "PATCH", "PUT", "DELETE")
# POSTs that only read: no idempotency record, no activity entry.
READ_ONLY_POSTS = ("/v1/search", "/v1/contents", "/v1/findsimilar")


def error(
    status: int, code: str, message: str, request_id: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(
        {"error": code, "message": message, "requestId": request_id},
        status_code=status,
        headers={**(headers or {}), "X-Request-Id": request_id},
    )


def install(app: FastAPI, services: Services) -> None:
    settings = services.settings
    limiter = RateLimiter(settings.rate_limit_per_minute)

    @app.middleware("http")
    async def pipeline(request: Request, call_next: Handler) -> Response:
        request_id = request.headers.get("x-request-id") or f"req_{uuid.uuid4().hex[:20]}"
        if len(request_id) > 100 or not request_id.isprintable():
            request_id = f"req_{uuid.uuid4().hex[:20]}"
        request.state.request_id = request_id
        started = time.perf_counter()
        if not request.url.path.startswith("/v1/"):
            response = await call_next(request)
            response.headers["X-Request-Id"] = request_id
            return response

        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_request_bytes):
            return error(
                413,
                "payload_too_large",
                f"the request body is larger than {settings.max_request_bytes} bytes",
                request_id,
            )
        body = await request.body()
        if len(body) > settings.max_request_bytes:
            return error(
                413,
                "payload_too_large",
                f"the request body is larger than {settings.max_request_bytes} bytes",
                request_id,
            )

        try:
            principal = await run_in_threadpool(authenticate, services, request)
        except Unauthenticated as exc:
            return error(401, exc.code, exc.message, request_id, {"WWW-Authenticate": "Bearer"})
        request.state.principal = principal

        decision = limiter.check(principal.key_id or f"anonymous:{client_address(request)}")
        limit_headers = {
            "X-RateLimit-Limit": str(decision.limit),
            "X-RateLimit-Remaining": str(decision.remaining),
            "X-RateLimit-Reset": str(decision.reset_seconds),
        }
        if not decision.allowed:
            return error(
                429,
                "rate_limited",
                f"too many requests; retry in {decision.retry_after} s",
                request_id,
                {**limit_headers, "Retry-After": str(decision.retry_after)},
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
            return error(500, "internal_error", "internal error", request.state.request_id)

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
        return Principal(services.workspace_id(), None, "anonymous")
    raise Unauthenticated()


async def idempotent(
    services: Services, request: Request, principal: Principal, key: str, body: bytes, call_next: Handler
) -> Response:
    """Run a mutating request once per (API key, Idempotency-Key); repeats replay the first answer."""
    request_id: str = request.state.request_id
    if len(key) > 255:
        return error(400, "invalid_input", "Idempotency-Key must be at most 255 characters", request_id)
    body_hash = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
    ).hexdigest()
    assert principal.key_id is not None
    key_id = principal.key_id

    def reserve() -> Any:
        try:
            with services.sessions.begin() as session:
                keys_repo.add_record(
                    session,
                    api_key_id=key_id,
                    idempotency_key=key,
                    method=request.method,
                    path=request.url.path,
                    body_hash=body_hash,
                    status_code=0,
                    response=None,
                )
            return None
        except IntegrityError:
            with services.sessions() as session:
                record = keys_repo.find_record(session, key_id, key)
                return (record.body_hash, record.status_code, record.response) if record else None

    existing = await run_in_threadpool(reserve)
    if existing is not None:
        stored_hash, status, payload = existing
        if stored_hash != body_hash:
            return error(
                409,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
                request_id,
            )
        if status == 0:
            return error(
                409,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still in progress",
                request_id,
            )
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

    def store() -> None:
        with services.sessions.begin() as session:
            record = keys_repo.find_record(session, key_id, key)
            if record is None:
                return
            if response.status_code >= 500:
                session.delete(record)  # a failure is not an answer: let the client retry
                return
            record.status_code = response.status_code
            record.response = json.loads(raw) if raw else None

    await run_in_threadpool(store)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return Response(raw, status_code=response.status_code, headers=headers, media_type=response.media_type)


def record_usage(
    services: Services, request: Request, principal: Principal, status: int, elapsed_ms: float
) -> None:
    route = request.scope.get("route")
    endpoint = getattr(route, "path", request.url.path)
    try:
        with services.sessions.begin() as session:
            jobs_repo.record_metric(
                session,
                workspace_id=principal.workspace_id,
                type="api_calls",
                value=1,
                tags={
                    "endpoint": endpoint,
                    "method": request.method,
                    "status": status,
                    "key": principal.key_id,
                    "ms": round(elapsed_ms, 2),
                },
            )
            if request.method in MUTATING and request.url.path not in READ_ONLY_POSTS and status < 400:
                jobs_repo.record_activity(
                    session,
                    workspace_id=principal.workspace_id,
                    actor_type="api_key" if principal.key_id else "anonymous",
                    actor_id=principal.key_id,
                    category=endpoint.split("/")[2] if endpoint.count("/") >= 2 else "api",
                    action=f"{request.method} {endpoint}",
                    entity_type=endpoint.split("/")[2],
                    entity_id=request.path_params.get("id") if hasattr(request, "path_params") else None,
                    details={"status": status, "requestId": request.state.request_id},
                    address=client_address(request),
                )
    except Exception:  # usage records must never fail a request
        log.exception("could not record usage of request %s", request.state.request_id)
