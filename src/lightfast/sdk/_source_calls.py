"""SDK calls that connect vendor sources (Linear, Notion, Sentry, Vercel, Zendesk), described as in
``_calls`` (which is at its size limit)."""

from __future__ import annotations

from typing import Any

from lightfast.sdk._calls import Call, _mutation, _text
from lightfast.sdk.models import ConnectedSource

# Python names of the API's camelCase connection fields; any other field goes as it is named.
_WIRE = {"webhook_secret": "webhookSecret", "private_comments": "privateComments", "team_id": "teamId"}


def connect_vendor(
    type: str,
    *,
    name: str | None = None,
    webhook_secret: str | None = None,
    token: str | None = None,
    idempotency_key: str | None = None,
    **fields: Any,
) -> Call[ConnectedSource, ConnectedSource]:
    """Connect a vendor source (``POST /v1/sources``): ``type`` linear, notion, sentry, vercel or zendesk,
    its vendor's own fields as keywords (``organization="acme"`` for Sentry, ``subdomain="acme"`` for
    Zendesk, ``projects=["web"]`` for Vercel). The answer has the ``webhook_url`` to give the vendor, the
    signing secret when Lightfast generated it (shown once), and the backfill's ``job_id`` when a
    ``token`` was given (None for a webhook-only connection). The server checks every field and answers
    a 400 naming the one it refuses."""
    body: dict[str, Any] = {"type": _text("type", type)}
    given = {"name": name, "webhook_secret": webhook_secret, "token": token, **fields}
    for key, value in given.items():
        if value is not None:
            body[_WIRE.get(key, key)] = value
    return _mutation("POST", "/v1/sources", ConnectedSource, idempotency_key, json=body)
