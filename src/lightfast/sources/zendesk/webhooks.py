"""Zendesk webhook deliveries (https://developer.zendesk.com/documentation/webhooks/), pure functions
over raw bytes.

* ``X-Zendesk-Webhook-Signature``: base64 HMAC-SHA256, keyed by the webhook's signing secret used as
  the UTF-8 string it is shown as (not base64-decoded), over TIMESTAMP + BODY, TIMESTAMP being the
  ``X-Zendesk-Webhook-Signature-Timestamp`` header (ISO 8601, ``2021-07-25T10:00:00Z``).
  Zendesk's own worked example (secret ``HRkRd4Be...``, body ``{"say": "hello"}``) reproduces only as
  BODY + TIMESTAMP, so both orders are accepted: either proves the sender holds the secret and signed
  these bytes at this time (issue 14; the tests check both against the vectors).
* The timestamp is what makes a captured delivery useless later: refused beyond ``max_age`` seconds.
* ``X-Zendesk-Webhook-Invocation-Id`` names one invocation; ``X-Zendesk-Webhook-Id`` the webhook and
  ``X-Zendesk-Account-Id`` the account (developer.zendesk.com, "Anatomy of a webhook request").

Two body shapes arrive at one URL: event subscriptions (``{"type": "zen:event-type:ticket.created",
"detail": {ticket fields}, "event": {...}, "id", "time", "account_id"}``) and trigger/automation
webhooks, whose JSON is whatever the customer's trigger template says. The second is read leniently:
a ticket id is all it must carry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from lightfast.errors import InvalidInput

SOURCE_TYPE = "zendesk"
SIGNATURE_HEADER = "x-zendesk-webhook-signature"
TIMESTAMP_HEADER = "x-zendesk-webhook-signature-timestamp"
INVOCATION_HEADER = "x-zendesk-webhook-invocation-id"
WEBHOOK_ID_HEADER = "x-zendesk-webhook-id"
ACCOUNT_HEADER = "x-zendesk-account-id"
EVENT_PREFIX = "zen:event-type:"
MAX_TIMESTAMP = 64
MAX_ID = 2**63 - 1  # Zendesk ids are 64-bit integers (sent as strings in event subscriptions)
MAX_TEXT = 200_000  # characters of a description or comment kept
MAX_SHORT = 500  # subjects, names, statuses
MAX_TAGS = 200
_BASE64 = re.compile(r"[A-Za-z0-9+/]{43}=")  # a SHA-256 digest, base64 with padding
# Ticket events that take a ticket out of search, and those that bring it back.
REMOVING = frozenset({"ticket.soft_deleted", "ticket.permanently_deleted", "ticket.marked_as_spam"})
RESTORING = frozenset({"ticket.undeleted"})
ARTICLE_REMOVING = frozenset({"article.unpublished", "article.deleted", "article.archived"})
ARTICLE_CARRYING = frozenset({"article.published"}) | ARTICLE_REMOVING

Order = Literal["timestamp-body", "body-timestamp"]


def sign(secret: str, timestamp: str, body: bytes, order: Order = "timestamp-body") -> str:
    """The ``X-Zendesk-Webhook-Signature`` Zendesk sends (documented order by default)."""
    stamp = timestamp.encode("utf-8")
    message = stamp + body if order == "timestamp-body" else body + stamp
    return base64.b64encode(hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()).decode()


def verify_signature(secret: str, timestamp: str | None, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of ``body`` at ``timestamp`` under ``secret`` in either
    order, compared in constant time (both orders are always computed, so the time taken does not say
    which matched). False, never an exception, for anything missing or malformed."""
    if not secret or not isinstance(header, str) or not isinstance(timestamp, str):
        return False
    if not isinstance(body, bytes | bytearray) or not timestamp or len(timestamp) > MAX_TIMESTAMP:
        return False
    given = header.strip()
    if not _BASE64.fullmatch(given):
        return False
    try:
        raw = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError):
        return False
    stamp = timestamp.encode("utf-8", "surrogatepass")
    key = secret.encode("utf-8", "surrogatepass")
    first = hmac.new(key, stamp + bytes(body), hashlib.sha256).digest()
    second = hmac.new(key, bytes(body) + stamp, hashlib.sha256).digest()
    return hmac.compare_digest(first, raw) | hmac.compare_digest(second, raw)


def parse_timestamp(text: str | None) -> datetime | None:
    """The signature timestamp as a UTC time: ISO 8601 with a zone (what Zendesk sends), or Unix
    seconds (what some relays rewrite it to). None when it is neither."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TIMESTAMP:
        return None
    text = text.strip()
    if text.isdigit() and len(text) <= 12:
        return datetime.fromtimestamp(int(text), UTC)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo is not None else None


def is_fresh(timestamp: str | None, now: datetime, max_age_seconds: int) -> bool:
    """Whether the signature timestamp lies within ``max_age_seconds`` of now either side (clocks
    drift); 0 accepts any (replaying recorded deliveries). A missing or unreadable one is not fresh."""
    if max_age_seconds == 0:
        return True
    when = parse_timestamp(timestamp)
    return when is not None and abs((now - when).total_seconds()) <= max_age_seconds


# -- the delivery -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZendeskDelivery:
    """What one verified delivery says, normalised (ids as ints, enums lower-case, text bounded)."""

    shape: Literal["event", "trigger"]
    action: str  # ticket.created | ticket.comment_added | article.published | ... | trigger
    event_id: str | None
    account_id: str | None
    occurred_at: str | None  # the event's ``time`` (ISO 8601), when it says
    ticket: dict[str, Any] | None = None  # normalised ticket fields (see ``ticket_fields``)
    comment: dict[str, Any] | None = None  # normalised comment (see ``comment_fields``)
    article: dict[str, Any] | None = None
    removed: bool = False
    restored: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ticket_id(self) -> int | None:
        return self.ticket["id"] if self.ticket else None

    @property
    def article_id(self) -> int | None:
        return self.article["id"] if self.article else None


def as_id(value: Any) -> int | None:
    """A Zendesk id from an int or a string of digits (event subscriptions send strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 19:
        number = int(value.strip())
        return number if 0 < number <= MAX_ID else None
    return None


def text(value: Any, limit: int = MAX_SHORT) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value[:limit]


def lower(value: Any) -> str | None:
    found = text(value, 64)
    return found.strip().lower() if found else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def tags(value: Any) -> list[str] | None:
    if isinstance(value, str):  # trigger placeholders render tags space-separated
        value = value.split()
    if not isinstance(value, list):
        return None
    return [t[:100] for t in value if isinstance(t, str) and t.strip()][:MAX_TAGS]


def ticket_fields(data: dict[str, Any], ticket_id: int) -> dict[str, Any]:
    """A ticket's fields from an event's ``detail``, an API record or a trigger's body, normalised; only
    the fields the source gave (a partial delivery merges over what is stored)."""
    satisfaction = data.get("satisfaction_rating")
    via = _obj(data.get("via"))
    found: dict[str, Any] = {
        "id": ticket_id,
        "subject": text(data.get("subject")) or text(data.get("title")) or text(data.get("raw_subject")),
        "description": text(data.get("description"), MAX_TEXT),
        "status": lower(data.get("status")),
        "priority": lower(data.get("priority")),
        "type": lower(data.get("type")),
        "requester_id": as_id(data.get("requester_id")),
        "submitter_id": as_id(data.get("submitter_id")),
        "assignee_id": as_id(data.get("assignee_id")),
        "group_id": as_id(data.get("group_id")),
        "organization_id": as_id(data.get("organization_id")),
        "brand_id": as_id(data.get("brand_id")),
        "problem_id": as_id(data.get("problem_id")),  # an incident's problem ticket
        "external_id": text(data.get("external_id"), 255),
        "tags": tags(data.get("tags")),
        "satisfaction": lower(_obj(satisfaction).get("score"))
        if isinstance(satisfaction, dict)
        else lower(satisfaction),
        "via_channel": lower(via.get("channel")) or lower(data.get("via_channel")),
        "created_at": text(data.get("created_at"), 64),
        "updated_at": text(data.get("updated_at"), 64),
        "url": text(data.get("url"), 2048),
        "requester_name": text(_obj(data.get("requester")).get("name")) or text(data.get("requester_name")),
        "assignee_name": text(_obj(data.get("assignee")).get("name")) or text(data.get("assignee_name")),
        "organization_name": text(_obj(data.get("organization")).get("name"))
        or text(data.get("organization_name")),
        "latest_comment": text(data.get("latest_comment"), MAX_TEXT),
    }
    return {k: v for k, v in found.items() if v is not None}


def comment_fields(data: dict[str, Any], ticket_id: int) -> dict[str, Any] | None:
    """A comment from an event's ``event.comment`` or the comments API; None without an id."""
    comment_id = as_id(data.get("id"))
    if comment_id is None:
        return None
    author = _obj(data.get("author"))
    public = data.get("public", data.get("is_public"))
    found: dict[str, Any] = {
        "id": comment_id,
        "ticket_id": ticket_id,
        "body": text(data.get("plain_body"), MAX_TEXT) or text(data.get("body"), MAX_TEXT),
        "html_body": text(data.get("html_body"), MAX_TEXT),
        "public": public if isinstance(public, bool) else True,
        "author_id": as_id(data.get("author_id")) or as_id(author.get("id")),
        "author_name": text(author.get("name")),
        "created_at": text(data.get("created_at"), 64),
        "via_channel": lower(_obj(data.get("via")).get("channel")),
    }
    return {k: v for k, v in found.items() if v is not None}


def _ticket_id_of_subject(subject: Any) -> int | None:
    # "zen:ticket:5158"
    if isinstance(subject, str) and subject.startswith("zen:ticket:"):
        return as_id(subject.rsplit(":", 1)[1])
    return None


def parse_delivery(payload: dict[str, Any]) -> ZendeskDelivery:
    """The delivery in a verified body; InvalidInput naming the field when it says nothing we can use."""
    kind = payload.get("type")
    if isinstance(kind, str) and kind.startswith(EVENT_PREFIX):
        return _event(payload, kind[len(EVENT_PREFIX) :])
    return _trigger(payload)


def _event(payload: dict[str, Any], action: str) -> ZendeskDelivery:
    if not action or len(action) > 100 or not action.replace("_", "").replace(".", "").isalnum():
        raise InvalidInput("type must be zen:event-type:<domain>.<event>", field="type")
    detail = payload.get("detail")
    if not isinstance(detail, dict):
        raise InvalidInput("detail must be an object", field="detail")
    event = _obj(payload.get("event"))
    event_id = text(payload.get("id"), 100)
    account_id = text(payload.get("account_id"), 40)
    occurred_at = text(payload.get("time"), 64)
    domain = action.partition(".")[0]
    if domain == "ticket":
        ticket_id = as_id(detail.get("id")) or _ticket_id_of_subject(payload.get("subject"))
        if ticket_id is None:
            raise InvalidInput("detail.id must be the ticket's id", field="detail.id")
        comment = comment_fields(_obj(event.get("comment")), ticket_id) if event.get("comment") else None
        return ZendeskDelivery(
            "event",
            action,
            ticket=ticket_fields(detail, ticket_id),
            comment=comment,
            removed=action in REMOVING,
            restored=action in RESTORING,
            extra={"event": {k: v for k, v in event.items() if k != "comment"}},
            event_id=event_id,
            account_id=account_id,
            occurred_at=occurred_at,
        )
    if domain == "article":
        article_id = as_id(detail.get("id"))
        if article_id is None:
            raise InvalidInput("detail.id must be the article's id", field="detail.id")
        # article.published carries the title, locale, section and category (ids as strings); the
        # other article events (votes, subscriptions, author) say only that the article changed.
        found = {
            "id": article_id,
            "title": text(event.get("title")),
            "locale": lower(event.get("locale")),
            "section_id": as_id(event.get("section_id")),
            "category_id": as_id(event.get("category_id")),
            "author_id": as_id(event.get("author_id")),
            "brand_id": as_id(detail.get("brand_id")),
        }
        article = {k: v for k, v in found.items() if v is not None}
        return ZendeskDelivery(
            "event",
            action,
            event_id,
            account_id,
            occurred_at,
            article=article,
            removed=action in ARTICLE_REMOVING,
            extra={"carries_article": action in ARTICLE_CARRYING},
        )
    # user, organization, ... events: verified and recorded, not indexed.
    return ZendeskDelivery("event", action, event_id, account_id, occurred_at)


def _trigger(payload: dict[str, Any]) -> ZendeskDelivery:
    nested = payload.get("ticket")
    ticket = nested if isinstance(nested, dict) else payload
    ticket_id = as_id(ticket.get("id")) or as_id(payload.get("ticket_id")) or as_id(ticket.get("ticket_id"))
    if ticket_id is None:
        raise InvalidInput(
            "a trigger's body must carry the ticket's id (ticket_id, id or ticket.id)", field="ticket_id"
        )
    fields = ticket_fields(ticket, ticket_id)
    return ZendeskDelivery(
        "trigger",
        "trigger",
        event_id=None,
        account_id=None,
        occurred_at=fields.get("updated_at"),
        ticket=fields,
        removed=fields.get("status") == "deleted",
    )
