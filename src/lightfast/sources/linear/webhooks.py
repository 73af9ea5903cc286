"""Linear webhook deliveries (https://linear.app/developers/webhooks), pure functions over raw bytes.

* ``Linear-Signature``: hex HMAC-SHA256 of the raw body under the webhook's signing secret, no prefix.
* ``webhookTimestamp`` (Unix milliseconds, in the body): a delivery further than the allowed age from
  now is refused, so a captured delivery cannot be replayed later.
* ``Linear-Delivery`` is the delivery's id, ``Linear-Event`` the entity type.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any

from lightfast.errors import InvalidInput

SOURCE_TYPE = "linear"
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
# Entities indexed as documents; other deliveries (reactions, cycles, labels...) are recorded, no more.
INDEXED_TYPES = frozenset({"Issue", "Comment", "Project"})
ACTIONS = frozenset({"create", "update", "remove"})
MAX_ID = 191


def sign(secret: str, body: bytes) -> str:
    """The ``Linear-Signature`` of ``body`` (what Linear sends; the tests and the stand-in sign with it)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the hex HMAC-SHA256 of ``body`` under ``secret``, compared in constant
    time. False, never an exception, for a missing or malformed header or an empty secret."""
    if not isinstance(header, str) or not secret or not isinstance(body, bytes | bytearray):
        return False
    given = header.strip()
    if not _HEX_DIGEST.fullmatch(given):
        return False
    return hmac.compare_digest(sign(secret, bytes(body)), given.lower())


def is_fresh(webhook_timestamp: Any, now_ms: int, max_age_seconds: int) -> bool:
    """Whether a delivery's ``webhookTimestamp`` (Unix ms) lies within ``max_age_seconds`` of now, either
    side (clocks drift). ``max_age_seconds`` 0 accepts any delivery, with or without a timestamp (to
    replay recorded deliveries); otherwise a missing or non-integer timestamp is not fresh."""
    if max_age_seconds == 0:
        return True
    if isinstance(webhook_timestamp, bool) or not isinstance(webhook_timestamp, int):
        return False
    return abs(now_ms - webhook_timestamp) <= max_age_seconds * 1000


@dataclass(frozen=True)
class LinearDelivery:
    """What one verified delivery says: ``action`` on an entity of ``entity_type``."""

    action: str  # create | update | remove
    entity_type: str  # Issue | Comment | Project | ...
    entity_id: str
    data: dict[str, Any]
    url: str | None
    updated_at: str  # the entity's updatedAt (or the delivery's createdAt), the version it carries
    webhook_id: str | None
    webhook_timestamp: int | None

    @property
    def indexed(self) -> bool:
        return self.entity_type in INDEXED_TYPES

    @property
    def removed(self) -> bool:
        """Removed, or archived (an archived issue leaves search until it is restored)."""
        return self.action == "remove" or bool(self.data.get("archivedAt")) or bool(self.data.get("trashed"))


def _text(value: Any, field: str, limit: int = MAX_ID) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidInput(f"{field} must be a non-empty string of at most {limit} characters", field=field)
    return value


def parse_delivery(payload: dict[str, Any]) -> LinearDelivery:
    """The delivery in a verified body; InvalidInput naming the field when it is not one."""
    action = _text(payload.get("action"), "action", 32)
    if action not in ACTIONS:
        raise InvalidInput("action must be create, update or remove", field="action")
    entity_type = _text(payload.get("type"), "type", 64)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise InvalidInput("data must be an object", field="data")
    entity_id = _text(data.get("id"), "data.id")
    updated = data.get("updatedAt") or payload.get("createdAt")
    updated_at = _text(updated, "data.updatedAt", 40)
    url = payload.get("url") if isinstance(payload.get("url"), str) else None
    stamp = payload.get("webhookTimestamp")
    return LinearDelivery(
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        data=data,
        url=url,
        updated_at=updated_at,
        webhook_id=payload.get("webhookId") if isinstance(payload.get("webhookId"), str) else None,
        webhook_timestamp=stamp if isinstance(stamp, int) and not isinstance(stamp, bool) else None,
    )
