"""What the timeline shows of an activity: how it ended (its status) and one line that says what happened.

Pure: derived from the action and its details when the activity is recorded, so every writer gets the same
wording without repeating it, and the text filter can search the words a person actually reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STATUSES = ("ok", "failed", "refused", "ignored", "cancelled", "queued", "running")
MAX_SUMMARY = 300
_SUFFIX_STATUS = {
    "failed": "failed",
    "error": "failed",
    "refused": "refused",
    "cancelled": "cancelled",
    "superseded": "cancelled",
    "queued": "queued",
    "retried": "queued",
    "started": "running",
    "ignored": "ignored",
    "duplicate": "ignored",
}
# A webhook delivery's outcome (lightfast.app.github_webhooks / vendor_webhooks) as a status.
_DELIVERY_STATUS = {
    "refused": "refused",
    "duplicate": "ignored",
    "ignored": "ignored",
    "unhandled": "ignored",
    "stale": "ignored",
    "no_token": "ignored",
}


@dataclass(frozen=True)
class Described:
    status: str
    summary: str


def _text(value: Any, limit: int = 120) -> str:
    """A detail as one short printable line (details come from webhooks and users: anything at all)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = "".join(c if c.isprintable() else " " for c in text[: limit * 2])
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_of(action: str, details: Mapping[str, Any]) -> str:
    if action == "webhook.delivery":
        return _DELIVERY_STATUS.get(str(details.get("result")), "ok")
    if action == "health.changed":
        return "failed" if details.get("to") == "down" else "ok"
    explicit = details.get("status")
    if isinstance(explicit, str) and explicit in STATUSES:
        return explicit
    if isinstance(explicit, int) and not isinstance(explicit, bool):  # an HTTP status
        return "failed" if explicit >= 400 else "ok"
    suffix = action.rsplit(".", 1)[-1]
    return _SUFFIX_STATUS.get(suffix, "ok")


def _seconds(milliseconds: Any) -> str:
    if not isinstance(milliseconds, int | float) or isinstance(milliseconds, bool) or milliseconds < 0:
        return ""
    seconds = milliseconds / 1000
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _impact(details: Mapping[str, Any]) -> str:
    """ "12 documents indexed, 3.2 s": a finished job's counts (non-zero ones) and duration."""
    parts: list[str] = []
    counts = details.get("impact")
    if isinstance(counts, Mapping):
        for key, value in list(counts.items())[:4]:
            if isinstance(value, int) and not isinstance(value, bool) and value:
                parts.append(f"{value} {_text(key, 30).replace('_', ' ')}")
    if duration := _seconds(details.get("duration_ms")):
        parts.append(duration)
    return ", ".join(parts)


def summary_of(action: str, details: Mapping[str, Any], entity_type: str, entity_id: str | None) -> str:
    name = _text(details.get("name") or details.get("email") or details.get("type"))
    kind = action.split(".", 1)[0]
    verb = action.rsplit(".", 1)[-1].replace("_", " ")
    if kind == "job" and "." in action:
        line = f"{name or 'Job'}: {verb}"
        if impact := _impact(details):
            line += f" ({impact})"
        if error := _text(details.get("error"), 160):
            line += f": {error}"
        return line
    if action == "webhook.delivery":
        event = _text(details.get("event"), 60)
        line = f"{name or 'Webhook'} {event} delivery {_text(details.get('result'), 30)}".replace("  ", " ")
        if jobs := details.get("jobs"):
            line += f", {len(jobs) if isinstance(jobs, list) else 1} job(s) queued"
        return line
    if action == "webhook.refused":
        reason = _text(details.get("reason"), 40).replace("_", " ")
        return f"{name or 'Webhook'} delivery refused: {reason or 'refused'}"
    if action == "source.renamed":
        return f"Source renamed from {_text(details.get('from'))} to {_text(details.get('to'))}"
    if action.endswith(".renamed") or action.endswith(".role_changed"):
        subject = kind.replace("_", " ").capitalize()
        return f"{subject} {verb}: {_text(details.get('from'))} → {_text(details.get('to'))}"
    if kind == "config":
        message = _text(details.get("message"), 160)
        return f"lightfast.yml {verb}" + (f": {message}" if message else "")
    if action == "search":
        took = details.get("ms")
        return "Search by API key" + (f" in {took} ms" if isinstance(took, int | float) else "")
    if " " in action:  # a generic API change: "POST /v1/..."
        return _text(action, 100)
    subject = kind.replace("_", " ")
    subject = "API key" if subject == "api key" else subject.capitalize()
    line = f"{subject} {name} {verb}" if name else f"{subject} {verb}"
    if reason := _text(details.get("reason") or details.get("message"), 120):
        line += f": {reason}"
    return line


def describe(
    action: str, details: Mapping[str, Any] | None, entity_type: str = "", entity_id: str | None = None
) -> Described:
    details = details if isinstance(details, Mapping) else {}
    line = summary_of(action, details, entity_type, entity_id)
    summary = " ".join("".join(c if c.isprintable() else " " for c in line).split())
    if len(summary) > MAX_SUMMARY:
        summary = summary[: MAX_SUMMARY - 1] + "…"
    return Described(status_of(action, details), summary)
