"""POST /webhooks/{type}/{sourceId}: Linear and Notion deliveries, one URL per connection. Not under /v1
and not behind API keys: a delivery is authenticated by its signature under the connection's own secret
(lightfast.app.vendor_webhooks checks it over the raw body before anything is parsed or stored)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from lightfast.api.webhooks import _read_limited
from lightfast.app.container import Services

router = APIRouter()


@router.post("/webhooks/{source_type}/{source_id}", include_in_schema=False)
async def vendor_webhook(source_type: str, source_id: str, request: Request) -> Response:
    services: Services = request.app.state.services
    body = await _read_limited(request, services.settings.vendor_max_webhook_bytes)
    address = request.client.host if request.client else None
    headers = {name.lower(): value for name, value in request.headers.items()}
    outcome = await run_in_threadpool(
        services.vendors.webhooks.receive, source_type, source_id, headers, body, address
    )
    return JSONResponse(outcome.to_dict(), status_code=outcome.status_code)
