"""Notion webhook deliveries (https://developers.notion.com/reference/webhooks), pure functions.

* The first POST of a subscription is the handshake: ``{"verification_token": "secret_..."}`` and no
  signature. The token is what every later delivery is signed with.
* ``X-Notion-Signature: sha256=<hex>``: HMAC-SHA256 of the raw body under the verification token.
* Events carry ids, not content (``entity``: the page, database or comment; ``data.parent``), and may
  arrive out of order and up to 8 times: ``id`` is the delivery's id, ``timestamp`` orders them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from lightfast.errors import InvalidInput

SOURCE_TYPE = "notion"
PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,256}$")
MAX_ID = 191


def sign(token: str, body: bytes) -> str:
    """The ``X-Notion-Signature`` value of ``body`` under the verification token."""
    return PREFIX + hmac.new(token.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(token: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is ``sha256=`` + the hex HMAC-SHA256 of ``body`` under ``token``, compared
    in constant time; False (never an exception) for a missing or malformed header or an empty token."""
    if not isinstance(header, str) or not token or not isinstance(body, bytes | bytearray):
        return False
    value = header.strip()
    if not value.startswith(PREFIX) or not _HEX_DIGEST.fullmatch(value[len(PREFIX) :]):
        return False
    expected = sign(token, bytes(body))
    return hmac.compare_digest(
        expected.encode("ascii"), (PREFIX + value[len(PREFIX) :].lower()).encode("ascii")
    )


def handshake_token(payload: dict[str, Any]) -> str | None:
    """The verification token when ``payload`` is the subscription handshake (that key alone), else
    None. InvalidInput when it is a handshake whose token is not one Notion would send."""
    if set(payload) != {"verification_token"}:
        return None
    token = payload["verification_token"]
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise InvalidInput(
            "verification_token is not a Notion verification token", field="verification_token"
        )
    return token


@dataclass(frozen=True)
class NotionEvent:
    delivery_id: str
    type: str  # page.created, page.content_updated, page.deleted, comment.created, database.*, ...
    timestamp: str
    entity_id: str
    entity_type: str  # page | database | comment | data_source | block
    page_id: str | None  # the page the event is about (a comment's page)
    subscription_id: str | None
    workspace_id: str | None

    @property
    def removes(self) -> bool:
        return self.type in ("page.deleted", "comment.deleted", "database.deleted", "data_source.deleted")


def _id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        raise InvalidInput(f"{field} must be a non-empty string of at most {MAX_ID} characters", field=field)
    return value


def parse_event(payload: dict[str, Any]) -> NotionEvent:
    """The event in a verified delivery; InvalidInput naming the field when it is not one."""
    entity = payload.get("entity")
    if not isinstance(entity, dict):
        raise InvalidInput("entity must be an object", field="entity")
    given = payload.get("data")
    data: dict[str, Any] = given if isinstance(given, dict) else {}
    entity_type = _id(entity.get("type"), "entity.type")
    entity_id = _id(entity.get("id"), "entity.id")
    page_id = entity_id if entity_type == "page" else data.get("page_id")
    return NotionEvent(
        delivery_id=_id(payload.get("id"), "id"),
        type=_id(payload.get("type"), "type")[:64],
        timestamp=_id(payload.get("timestamp"), "timestamp")[:40],
        entity_id=entity_id,
        entity_type=entity_type,
        page_id=page_id if isinstance(page_id, str) and page_id else None,
        subscription_id=payload.get("subscription_id")
        if isinstance(payload.get("subscription_id"), str)
        else None,
        workspace_id=payload.get("workspace_id") if isinstance(payload.get("workspace_id"), str) else None,
    )
