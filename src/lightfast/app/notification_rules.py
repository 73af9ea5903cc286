"""Outgoing webhooks' wire formats and policies (pure): the generic POST's signature, Slack's message,
the retry delay, the health rule, and which URLs a target may have. ``app.notifications`` sends them."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from lightfast.errors import InvalidInput

MAX_URL_CHARS = 2048
RETRY_BASE_SECONDS = 5.0
RETRY_CAP_SECONDS = 1800.0
HEALTHY_AT, DEGRADED_AT = 0.95, 0.80  # seed 003's thresholds

# (status, reason) of a workspace's health: healthy | degraded | down | unknown.
HealthReading = tuple[str, str | None]
Resolver = Callable[[str], list[str]]


def retry_delay(
    attempt: int, *, base: float = RETRY_BASE_SECONDS, cap: float = RETRY_CAP_SECONDS, jitter: float = 0.5
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): exponential, capped, with
    "equal jitter" (half fixed, half random; ``jitter`` in [0, 1) picks where in the random half), so
    many targets failing together do not retry in lockstep, yet no retry comes at once."""
    ceiling: float = min(cap, base * float(2 ** min(max(attempt, 1) - 1, 62)))
    return ceiling / 2 + ceiling / 2 * min(max(jitter, 0.0), 1.0)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Lightfast-Signature`` header value of ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    """What a receiver does (documented for them, used by the tests)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def summary(payload: dict[str, Any]) -> str:
    """One line saying what happened, for Slack's ``text`` and the activity log."""
    if payload.get("event") == "job.failed":
        job = payload.get("job") or {}
        return f"Job failed: {job.get('name') or job.get('id')}: {job.get('error') or 'no message'}"
    if payload.get("event") == "health.changed":
        health = payload.get("health") or {}
        reason = f" ({health['reason']})" if health.get("reason") else ""
        return f"Workspace health is {health.get('status')} (was {health.get('previous')}){reason}"
    return str(payload.get("event"))


def _mrkdwn_escape(text: str) -> str:
    # Slack's mrkdwn reads &, < and > as markup: escaped, a job's error cannot inject a link or mention.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(payload: dict[str, Any]) -> dict[str, Any]:
    """Slack's incoming-webhook body: ``text`` (the notification's fallback) and Block Kit ``blocks``."""
    text = _mrkdwn_escape(summary(payload))[:2900]  # a section's text is at most 3000 characters
    context = [f"workspace `{_mrkdwn_escape(str(payload.get('workspaceId')))}`"]
    job = payload.get("job")
    if isinstance(job, dict):
        context.append(f"job `{_mrkdwn_escape(str(job.get('id')))}`")
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Lightfast* {text}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]},
        ],
    }


def health_of_outcomes(counts: dict[str, int]) -> HealthReading:
    """Seed 003's rule over a window's finished jobs (cancelled ones say nothing about health)."""
    succeeded = counts.get("completed", 0) + counts.get("completed_with_errors", 0)
    failed = counts.get("failed", 0)
    finished = succeeded + failed
    if finished == 0:
        return "unknown", None
    rate = succeeded / finished
    if rate >= HEALTHY_AT:
        return "healthy", None
    status = "degraded" if rate >= DEGRADED_AT else "down"
    return status, f"{failed} of {finished} jobs failed in the last 24 h ({rate:.0%} succeeded)"


def system_resolver(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]


def check_target_url(url: str, *, production: bool, resolve: Resolver = system_resolver) -> str:
    """``url`` if a target may point there; InvalidInput naming ``url`` otherwise."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"the URL is longer than {MAX_URL_CHARS} characters", field="url")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as exc:
        raise InvalidInput(f"not a valid URL ({exc})", field="url") from exc
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("the URL must start with http:// or https://", field="url")
    if not host:
        raise InvalidInput("the URL has no host", field="url")
    if production:
        try:
            addresses = resolve(host)
        except OSError as exc:
            raise InvalidInput(f"the host {host!r} does not resolve", field="url") from exc
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not ip.is_global or ip.is_multicast:
                raise InvalidInput(
                    f"the host {host!r} resolves to a private, loopback or reserved address ({ip}); "
                    "notifications go to public addresses only",
                    field="url",
                )
    return url


def redacted_url(kind: str, url: str) -> str:
    """What people see of a target's URL: a Slack webhook URL is itself a credential, so only its host
    and last characters are shown."""
    if kind != "slack":
        return url
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}/…{url[-4:]}"
