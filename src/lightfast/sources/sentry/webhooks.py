"""Sentry Integration Platform webhook deliveries (docs.sentry.io/integrations/integration-platform/
webhooks/), pure functions over raw bytes.

* ``Sentry-Hook-Signature``: hex HMAC-SHA256 keyed by the integration's client secret over the raw body;
  compared in constant time, never over re-serialised JSON.
* ``Sentry-Hook-Timestamp``: Unix seconds; a delivery further than ``max_age`` from now is refused (a
  captured delivery cannot be replayed later).
* ``Sentry-Hook-Resource``: ``issue`` | ``error`` | ``comment`` | ``event_alert`` | ``metric_alert`` |
  ``installation`` (the body does not say which); ``Request-ID`` names the delivery.

Everything the body says is hostile: ids must be digits (or 32 hex for events), strings are cut to a
bound, lists to a count, and an exception's stack keeps its innermost frames only."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lightfast.errors import InvalidInput

SOURCE_TYPE = "sentry"
SIGNATURE_HEADER = "sentry-hook-signature"
TIMESTAMP_HEADER = "sentry-hook-timestamp"
RESOURCE_HEADER = "sentry-hook-resource"
REQUEST_ID_HEADER = "request-id"
RESOURCES = frozenset({"issue", "error", "comment", "event_alert", "metric_alert", "installation"})
ISSUE_ACTIONS = frozenset({"created", "resolved", "assigned", "ignored", "archived", "unresolved"})
COMMENT_ACTIONS = frozenset({"created", "updated", "deleted"})
MAX_SHORT = 500  # titles, culprits, names
MAX_TEXT = 20_000  # a comment, an exception's message
MAX_LINE = 300  # one line of a stack frame
MAX_FRAMES = 40  # per exception: the innermost (where it was raised) are kept
MAX_EXCEPTIONS = 5  # chained exceptions of one event
MAX_TAGS = 100
MAX_TAG_VALUES = 20
MAX_TIMESTAMP = 20
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_EVENT_ID = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F-]{36}")
_ACTION = re.compile(r"[a-z_.]{1,40}")


def sign(secret: str, body: bytes) -> str:
    """The ``Sentry-Hook-Signature`` Sentry sends."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the hex HMAC-SHA256 of ``body`` under ``secret`` (constant time); False,
    never an exception, for anything missing or malformed."""
    if not secret or not isinstance(header, str) or not isinstance(body, bytes | bytearray):
        return False
    given = header.strip().lower()
    if not _HEX_SIGNATURE.fullmatch(given):
        return False
    expected = hmac.new(secret.encode("utf-8", "surrogatepass"), bytes(body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


def parse_timestamp(text: str | None) -> datetime | None:
    """``Sentry-Hook-Timestamp`` (Unix seconds, possibly with a fraction) as a UTC time; None when it
    is not one."""
    if not isinstance(text, str) or not text.strip() or len(text.strip()) > MAX_TIMESTAMP:
        return None
    whole, _, fraction = text.strip().partition(".")
    if (
        not whole.isascii()
        or not whole.isdigit()
        or (fraction and not (fraction.isascii() and fraction.isdigit()))
    ):
        return None
    try:
        return datetime.fromtimestamp(float(text.strip()), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def is_fresh(timestamp: str | None, now: datetime, max_age_seconds: int) -> bool:
    """Whether the hook timestamp lies within ``max_age_seconds`` of now either side (clocks drift); 0
    accepts any (replaying recorded deliveries). A missing or unreadable one is not fresh."""
    if max_age_seconds == 0:
        return True
    when = parse_timestamp(timestamp)
    return when is not None and abs((now - when).total_seconds()) <= max_age_seconds


# -- normalising what Sentry sends (webhooks and the REST API give the same shapes) --------------------


def text(value: Any, limit: int = MAX_SHORT) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value[:limit]


def as_id(value: Any) -> str | None:
    """A Sentry numeric id (sent as a string or an int) as a string of digits; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if 0 < value < 10**20 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and 0 < len(value) <= 20:
        return value.lstrip("0") or None
    return None


def event_id_of(value: Any) -> str | None:
    if isinstance(value, str) and _EVENT_ID.fullmatch(value):
        return value.replace("-", "").lower()
    return None


def count(value: Any) -> int | None:
    """Sentry sends counts as strings (``"count": "1"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(values: Any, limit: int = MAX_TAG_VALUES) -> list[str]:
    if not isinstance(values, list):
        return []
    return [v for v in (text(x, 200) for x in values[: limit * 2]) if v][:limit]


def person(value: Any) -> str | None:
    """An assignee or author: a user or team object, or a name."""
    if isinstance(value, dict):
        return (
            text(value.get("name"), 200) or text(value.get("email"), 200) or text(value.get("username"), 200)
        )
    return text(value, 200)


def issue_fields(data: dict[str, Any]) -> dict[str, Any] | None:
    """An issue from a webhook's ``data.issue`` or the issues API, normalised; None without an id."""
    issue_id = as_id(data.get("id"))
    if issue_id is None:
        return None
    project = _obj(data.get("project"))
    metadata = _obj(data.get("metadata"))
    status_details = _obj(data.get("statusDetails"))
    releases = [
        v
        for v in (
            text(_obj(data.get("firstRelease")).get("version"), 200),
            text(_obj(data.get("lastRelease")).get("version"), 200),
            text(status_details.get("inRelease"), 200),
        )
        if v
    ]
    found: dict[str, Any] = {
        "id": issue_id,
        "short_id": text(data.get("shortId"), 100),
        "title": text(data.get("title")),
        "culprit": text(data.get("culprit")),
        "level": _lower(data.get("level")),
        "status": _lower(data.get("status")),
        "substatus": _lower(data.get("substatus")),
        "platform": _lower(data.get("platform")),
        "type": text(metadata.get("type"), 200),
        "value": text(metadata.get("value"), MAX_TEXT),
        "filename": text(metadata.get("filename"), MAX_LINE),
        "count": count(data.get("count")),
        "user_count": count(data.get("userCount")),
        "comment_count": count(data.get("numComments")),
        "first_seen": text(data.get("firstSeen"), 64),
        "last_seen": text(data.get("lastSeen"), 64),
        "project": text(project.get("slug"), 100),
        "project_id": as_id(project.get("id")),
        # Deliveries carry the issue's ``web_url`` (the right host for self-hosted Sentry and for
        # organizations on their own subdomain); the API its ``permalink``.
        "permalink": _url(data.get("permalink")) or _url(data.get("web_url")),
        "assigned_to": person(data.get("assignedTo")),
        "releases": sorted(set(releases)) or None,
    }
    return {k: v for k, v in found.items() if v is not None}


def _lower(value: Any) -> str | None:
    found = text(value, 64)
    return found.strip().lower() if found else None


def _url(value: Any) -> str | None:
    found = text(value, 2048)
    return found if found and found.startswith(("https://", "http://")) else None


def _tags(value: Any) -> dict[str, list[str]]:
    """Tags as key -> values: webhooks send ``[["key", "value"], ...]``, the API ``[{"key", "value"}]``."""
    found: dict[str, list[str]] = {}
    if not isinstance(value, list):
        return found
    for item in value[: MAX_TAGS * 2]:
        pair = (item.get("key"), item.get("value")) if isinstance(item, dict) else item
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            continue
        key, tag = text(pair[0], 100), text(pair[1], 200)
        if key and tag and (key in found or len(found) < MAX_TAGS) and tag not in found.get(key, []):
            found.setdefault(key, []).append(tag)
    return found


def _frame(data: dict[str, Any]) -> dict[str, Any]:
    found = {
        "filename": text(data.get("filename"), MAX_LINE)
        or text(data.get("abs_path") or data.get("absPath"), MAX_LINE),
        "function": text(data.get("function"), MAX_LINE),
        "module": text(data.get("module"), MAX_LINE),
        "lineno": count(data.get("lineno") if "lineno" in data else data.get("lineNo")),
        "colno": count(data.get("colno") if "colno" in data else data.get("colNo")),
        "in_app": data.get("in_app", data.get("inApp")) is True,
        "context_line": _context_line(data),
    }
    return {k: v for k, v in found.items() if v is not None}


def _context_line(data: dict[str, Any]) -> str | None:
    line = data.get("context_line")
    if line is None and isinstance(data.get("context"), list):  # the API: [[lineno, "line"], ...]
        number = data.get("lineNo")
        for item in data["context"][:50]:
            if isinstance(item, list) and len(item) == 2 and item[0] == number:
                line = item[1]
    found = text(line, MAX_LINE)
    return found.strip() if found else None


def _exception(data: dict[str, Any]) -> dict[str, Any]:
    stack = _obj(data.get("stacktrace"))
    given = stack.get("frames")
    frames: list[Any] = given if isinstance(given, list) else []
    kept = [_frame(f) for f in frames[-MAX_FRAMES:] if isinstance(f, dict)]
    mechanism = _obj(data.get("mechanism"))
    found = {
        "type": text(data.get("type"), 200),
        "value": text(data.get("value"), MAX_TEXT),
        "module": text(data.get("module"), 200),
        "mechanism": text(mechanism.get("type"), 100),
        "handled": mechanism.get("handled") if isinstance(mechanism.get("handled"), bool) else None,
        "frames": kept,
        "frames_omitted": max(len(frames) - MAX_FRAMES, 0) or None,
    }
    return {k: v for k, v in found.items() if v is not None}


def _first(tags: dict[str, list[str]], key: str) -> str | None:
    values = tags.get(key)
    return values[0] if values else None


def event_fields(data: dict[str, Any]) -> dict[str, Any] | None:
    """An event from a webhook's ``data.error`` / ``data.event`` or the latest-event API, normalised;
    None without an event id. The exception and frames are bounded (``MAX_*``)."""
    event_id = (
        event_id_of(data.get("event_id")) or event_id_of(data.get("eventID")) or event_id_of(data.get("id"))
    )
    if event_id is None:
        return None
    exception = data.get("exception")
    if not isinstance(exception, dict):  # the API's shape: entries of types exception, message, ...
        listed = data.get("entries")
        entries: list[Any] = listed if isinstance(listed, list) else []
        exception = next(
            (
                _obj(e.get("data"))
                for e in entries[:50]
                if isinstance(e, dict) and e.get("type") == "exception"
            ),
            {},
        )
    given = exception.get("values")
    values: list[Any] = given if isinstance(given, list) else []
    release = data.get("release")
    release = _obj(release).get("version") if isinstance(release, dict) else release
    tags = _tags(data.get("tags"))
    found: dict[str, Any] = {
        "id": event_id,
        "issue_id": as_id(data.get("issue_id")) or as_id(data.get("groupID")),
        "title": text(data.get("title")),
        "message": text(data.get("message"), MAX_TEXT),
        "culprit": text(data.get("culprit")),
        "level": _lower(data.get("level")) or _first(tags, "level"),
        "platform": _lower(data.get("platform")),
        "datetime": text(data.get("datetime"), 64) or text(data.get("dateCreated"), 64),
        "release": text(release, 200) or _first(tags, "release"),
        "environment": text(data.get("environment"), 100) or _first(tags, "environment"),
        "tags": tags or None,
        "exceptions": [_exception(v) for v in values[-MAX_EXCEPTIONS:] if isinstance(v, dict)] or None,
        "web_url": _url(data.get("web_url")),
    }
    return {k: v for k, v in found.items() if v is not None}


def comment_fields(data: dict[str, Any]) -> dict[str, Any] | None:
    """A comment from a webhook's ``data`` (``comment_id``, ``issue_id``, ``comment``, ``timestamp``) or
    the notes API (``id``, ``data.text``, ``user``, ``dateCreated``); None without both ids."""
    if "comment_id" in data:
        comment_id, issue_id = as_id(data.get("comment_id")), as_id(data.get("issue_id"))
        body, at, author = data.get("comment"), data.get("timestamp"), None
    else:
        comment_id, issue_id = as_id(data.get("id")), as_id(data.get("issue_id"))
        body, at, author = (
            _obj(data.get("data")).get("text"),
            data.get("dateCreated"),
            person(data.get("user")),
        )
    if comment_id is None or issue_id is None:
        return None
    found = {
        "id": comment_id,
        "issue_id": issue_id,
        "body": text(body, MAX_TEXT),
        "created_at": text(at, 64),
        "author": author,
        "project": text(data.get("project_slug"), 100),
    }
    return {k: v for k, v in found.items() if v is not None}


# -- the delivery ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentryDelivery:
    """What one verified delivery says, normalised."""

    resource: str
    action: str
    installation: str | None
    actor: str | None
    issue: dict[str, Any] | None = None
    event: dict[str, Any] | None = None
    comment: dict[str, Any] | None = None
    alert: dict[str, Any] = field(default_factory=dict)

    @property
    def issue_id(self) -> str | None:
        if self.issue is not None:
            return str(self.issue["id"])
        for found in (self.event, self.comment):
            if found is not None and found.get("issue_id"):
                return str(found["issue_id"])
        return None


def parse_delivery(resource: str | None, payload: dict[str, Any]) -> SentryDelivery:
    """The delivery in a verified body; InvalidInput naming the field when it says nothing we can use."""
    resource = (resource or "").strip().lower()
    if resource not in RESOURCES:
        raise InvalidInput(
            f"Sentry-Hook-Resource must be one of {', '.join(sorted(RESOURCES))}",
            field="Sentry-Hook-Resource",
        )
    action = payload.get("action")
    if not isinstance(action, str) or not _ACTION.fullmatch(action):
        raise InvalidInput("action must be a Sentry action name", field="action")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise InvalidInput("data must be an object", field="data")
    installation = text(_obj(payload.get("installation")).get("uuid"), 64)
    actor = person(payload.get("actor"))
    if resource == "issue":
        issue = issue_fields(_obj(data.get("issue")))
        if issue is None:
            raise InvalidInput("data.issue.id must be the issue's id", field="data.issue.id")
        return SentryDelivery(resource, action, installation, actor, issue=issue)
    if resource == "error":
        event = event_fields(_obj(data.get("error")))
        if event is None or "issue_id" not in event:
            raise InvalidInput("data.error must carry event_id and issue_id", field="data.error")
        return SentryDelivery(resource, action, installation, actor, event=event)
    if resource == "comment":
        comment = comment_fields(data)
        if comment is None:
            raise InvalidInput("data must carry comment_id and issue_id", field="data.comment_id")
        if actor and "author" not in comment:  # the delivery's actor is who wrote (or changed) it
            comment = {**comment, "author": actor}
        return SentryDelivery(resource, action, installation, actor, comment=comment)
    if resource == "event_alert":
        event = event_fields(_obj(data.get("event")))
        alert = {"rule": text(data.get("triggered_rule"), 200)}
        return SentryDelivery(resource, action, installation, actor, event=event, alert=alert)
    if resource == "metric_alert":
        given = _obj(data.get("metric_alert"))
        rule = _obj(given.get("alert_rule"))
        alert = {
            "rule": text(rule.get("name"), 200) or text(data.get("description_title"), 200),
            "description": text(data.get("description_text"), 1000),
            "id": as_id(given.get("id")),
        }
        return SentryDelivery(resource, action, installation, actor, alert=alert)
    return SentryDelivery(resource, action, installation, actor)
