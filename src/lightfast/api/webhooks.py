"""POST /webhooks/github: GitHub App deliveries. Not under /v1 and not behind API keys: a delivery is
authenticated by its X-Hub-Signature-256 over the raw body, checked before anything is parsed or stored."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from lightfast.api.input import clean_text
from lightfast.app.container import Services
from lightfast.errors import InvalidInput, InvalidSignature, NotConfigured, PayloadTooLarge
from lightfast.sources.github.webhooks import verify_signature

router = APIRouter()
BOM = "\ufeff"
MAX_DELIVERY_ID = 100
MAX_EVENT_NAME = 40


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it grows past ``limit`` (a lying or missing Content-Length too)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


@router.post("/webhooks/github", include_in_schema=False)
async def github_webhook(request: Request) -> Response:
    services: Services = request.app.state.services
    settings = services.settings
    secret = settings.github_webhook_secret
    if secret is None:
        raise NotConfigured("set LIGHTFAST_GITHUB_WEBHOOK_SECRET to receive GitHub webhooks")
    body = await _read_limited(request, settings.github_max_webhook_bytes)
    if body is None:
        raise PayloadTooLarge(f"the delivery is larger than {settings.github_max_webhook_bytes} bytes")
    if not verify_signature(secret.get_secret_value(), body, request.headers.get("x-hub-signature-256")):
        raise InvalidSignature("X-Hub-Signature-256 is missing or does not match")
    event = request.headers.get("x-github-event")
    delivery = request.headers.get("x-github-delivery")
    if not event or not delivery:
        raise InvalidInput("X-GitHub-Event and X-GitHub-Delivery headers are required")
    if len(delivery) > MAX_DELIVERY_ID or len(event) > MAX_EVENT_NAME:
        # GitHub sends a UUID and a short event name; anything longer is not a GitHub delivery.
        raise InvalidInput("X-GitHub-Event or X-GitHub-Delivery is too long")
    payload: Any = parse_json_utf8(body)
    if not isinstance(payload, dict):
        raise InvalidInput("the body must be a JSON object")
    # A payload missing a field raises InvalidInput: the app's error handler answers 400 naming it.
    outcome = await run_in_threadpool(services.github_webhooks.receive, event, delivery, payload)
    return JSONResponse(outcome.to_dict(), status_code=outcome.status_code)


def parse_json_utf8(body: bytes) -> Any:
    """The body as JSON, read the way GitHub writes it: UTF-8 without a byte order mark (``json.loads``
    would also take UTF-16 and UTF-32). Strings are cleaned of what no database can store."""
    if b"\x00" in body:  # JSON never holds a raw NUL; UTF-16 and UTF-32 bodies do
        raise InvalidInput("the body is not UTF-8 JSON (it holds NUL bytes, as UTF-16 does)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the body is not UTF-8 (byte {exc.start}: {exc.reason})") from exc
    if text.startswith(BOM):
        raise InvalidInput("the body starts with a byte order mark; deliveries are UTF-8 without one")
    try:
        return clean_text(json.loads(text))
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"the body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise InvalidInput("the body nests too deeply") from exc
