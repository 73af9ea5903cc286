"""Notifications (seed 003 §8): a workspace sends job failures and changes of its health to outgoing
webhooks, a generic signed JSON POST or Slack's incoming-webhook format.

* Nothing is lost on a restart: a failing job writes its deliveries in its own transaction
  (``db.jobs.finish_job``), and a health change in the transaction that records it; both land in the
  ``notification_deliveries`` queue. The job engine's dispatcher calls :meth:`NotificationService.tick`,
  which checks health now and then and hands due deliveries to a background thread: a slow receiver
  never holds up the dispatch of jobs, and none of this goes through DBOS.
* Each attempt has a timeout; a network error, a timeout, 408, 429 or a 5xx is retried after an
  exponential backoff with jitter (:func:`retry_delay`), up to :data:`MAX_ATTEMPTS`; any other answer is
  final. Redirects are not followed (a redirect to an internal address would walk around the SSRF check).
* Every delivery that ends, delivered or given up, is an activity (category ``notification``).
* Target URLs must be http(s); in production, every address the host resolves to must be public, checked
  when the target is added and again before each attempt (the name may resolve elsewhere by then).

A generic POST carries ``X-Lightfast-Timestamp`` (Unix seconds) and ``X-Lightfast-Signature:
sha256=<hex>``, the HMAC-SHA256 under the target's secret of ``"{timestamp}.{body}"``. Signing the
timestamp with the body (as Stripe and Slack do) lets a receiver refuse a captured request replayed later,
which a signature of the body alone cannot.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.clock import Clock
from lightfast.app.insights import InsightService
from lightfast.app.notification_rules import (
    HealthReading,
    Resolver,
    check_target_url,
    health_of_outcomes,
    redacted_url,
    retry_delay,
    sign,
    slack_message,
    summary,
    system_resolver,
)
from lightfast.app.schemas.events import JobFailedEventOut
from lightfast.app.secrets import FORMAT as SEALED_FORMAT
from lightfast.app.secrets import SecretBox, secret_box
from lightfast.db import activities
from lightfast.db import jobs as jobs_repo
from lightfast.db import notifications as repo
from lightfast.db.models import new_id
from lightfast.db.notification_models import NotificationTarget
from lightfast.errors import InvalidInput, NotFound, SecretUnreadable
from lightfast.settings import Settings

log = logging.getLogger("lightfast.notifications")

EVENTS = ("job.failed", "health.changed")
KINDS = ("generic", "slack")
MAX_TARGETS_PER_WORKSPACE = 20
MAX_ATTEMPTS = 8
ATTEMPT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
CLAIM_SECONDS = 60.0  # an attempt's claim: past it, a delivery whose worker died comes due again
HEALTH_EVERY_SECONDS = 60.0
HEALTH_WINDOW = timedelta(hours=24)
RETRYABLE_STATUS = frozenset({408, 425, 429})
BATCH = 20


def insight_health(insights: InsightService) -> Callable[[str], HealthReading]:
    """The dashboard's health tree (``app.insights``) as the reading notifications compare: one rule
    for what the console shows and what is told."""

    def read(workspace_id: str) -> HealthReading:
        node = insights.health(workspace_id)
        return str(node.status), node.reason

    return read


# -- the service -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetView:
    id: str
    kind: str
    name: str
    url: str  # redacted for Slack
    events: list[str]
    has_secret: bool
    created_at: datetime
    created_by: str | None

    @classmethod
    def of(cls, target: NotificationTarget) -> TargetView:
        return cls(
            id=target.id,
            kind=target.kind,
            name=target.name,
            url=redacted_url(target.kind, target.url),
            events=list(target.events or []),
            has_secret=bool(target.secret),
            created_at=target.created_at,
            created_by=target.created_by,
        )


@dataclass(frozen=True)
class CreatedTarget:
    target: TargetView
    secret: str | None  # a generic target's signing secret, shown once


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    retry: bool
    detail: str  # "HTTP 200", "timeout", ...


class NotificationService:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        health: Callable[[str], HealthReading] | None = None,
        transport: httpx.BaseTransport | None = None,
        resolve: Resolver = system_resolver,
        jitter: Callable[[], float] = random.random,
        box: SecretBox | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self.health_reader = health
        self.transport = transport
        self.resolve = resolve
        self.jitter = jitter
        self._box = box  # made on first use: a process that never signs never needs the key
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._last_health: float | None = None

    @property
    def production(self) -> bool:
        return self.settings.environment == "production"

    # -- targets ---------------------------------------------------------------------------------

    def list_targets(self, workspace_id: str) -> list[TargetView]:
        with self.sessions() as session:
            return [TargetView.of(t) for t in repo.list_targets(session, workspace_id)]

    def create_target(
        self,
        workspace_id: str,
        *,
        kind: str,
        url: str,
        events: list[str] | None = None,
        name: str | None = None,
        secret: str | None = None,
        created_by: str | None = None,
    ) -> CreatedTarget:
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
        chosen = list(dict.fromkeys(events or EVENTS))
        unknown = [e for e in chosen if e not in EVENTS]
        if unknown or not chosen:
            raise InvalidInput(f"events must be among {', '.join(EVENTS)}", field="events")
        check_target_url(url, production=self.production, resolve=self.resolve)
        if kind == "slack" and secret:
            raise InvalidInput("a Slack target is not signed; its URL is its secret", field="secret")
        if kind == "generic" and not secret:
            secret = f"lfsig_{secrets.token_urlsafe(32)}"
        with self.sessions.begin() as session:
            if repo.count_targets(session, workspace_id) >= MAX_TARGETS_PER_WORKSPACE:
                raise InvalidInput(
                    f"a workspace has at most {MAX_TARGETS_PER_WORKSPACE} targets", field="url"
                )
            target_id = new_id("ntg")
            sealed = self._sealer().seal(secret, context=_secret_context(target_id)) if secret else None
            target = repo.create_target(
                session,
                target_id=target_id,
                workspace_id=workspace_id,
                kind=kind,
                name=(name or urlsplit(url).hostname or kind)[:255],
                url=url,
                secret=sealed,
                events=chosen,
                created_by=created_by,
            )
            activities.record_activity(
                session,
                workspace_id=workspace_id,
                actor_type=_actor_type(created_by),
                actor_id=created_by,
                category="notification",
                action="notification_target.created",
                entity_type="notification_target",
                entity_id=target.id,
                details={"kind": kind, "url": redacted_url(kind, url), "events": chosen},
            )
            return CreatedTarget(TargetView.of(target), secret if kind == "generic" else None)

    def delete_target(
        self, workspace_id: str, target_id: str, *, deleted_by: str | None = None
    ) -> TargetView:
        with self.sessions.begin() as session:
            target = repo.find_target(session, target_id)
            if target is None or target.workspace_id != workspace_id:
                raise NotFound(f"notification target {target_id!r} does not exist")
            view = TargetView.of(target)
            repo.delete_target(session, target)
            activities.record_activity(
                session,
                workspace_id=workspace_id,
                actor_type=_actor_type(deleted_by),
                actor_id=deleted_by,
                category="notification",
                action="notification_target.deleted",
                entity_type="notification_target",
                entity_id=target_id,
                details={"kind": view.kind, "url": view.url},
            )
            return view

    def _sealer(self) -> SecretBox:
        if self._box is None:
            self._box = secret_box(self.settings)
        return self._box

    def _unseal(self, target_id: str, stored: str | None) -> str | None:
        """A target's signing secret: sealed with AES-256-GCM (``app.secrets``); a value stored before
        sealing (plain text, never in the sealed format) is used as it is."""
        if not stored:
            return None
        if not stored.startswith(f"{SEALED_FORMAT}."):
            return stored
        return self._sealer().open(stored, context=_secret_context(target_id))

    # -- health ----------------------------------------------------------------------------------

    def health(self, workspace_id: str) -> HealthReading:
        if self.health_reader is not None:
            return self.health_reader(workspace_id)
        with self.sessions() as session:
            counts = repo.job_outcomes(session, workspace_id, self.clock.now() - HEALTH_WINDOW)
        return health_of_outcomes(counts)

    def check_health(self) -> int:
        """Compare each workspace's health with the last seen; record and notify each change. A first
        reading is a baseline, and ``unknown`` (no finished job lately) is no news. How many changed."""
        now = self.clock.now()
        with self.sessions() as session:
            workspaces = repo.workspaces_to_watch(session, now - HEALTH_WINDOW)
        changed = 0
        for workspace_id in workspaces:
            status, reason = self.health(workspace_id)
            if status == "unknown":
                continue
            with self.sessions.begin() as session:
                state = repo.health_state(session, workspace_id)
                previous = state.status if state is not None else None
                if previous == status:
                    continue
                repo.set_health_state(session, workspace_id, status, reason, at=now)
                if previous is None:
                    continue
                payload = {
                    "event": "health.changed",
                    "occurredAt": now.isoformat(),
                    "workspaceId": workspace_id,
                    "health": {"status": status, "previous": previous, "reason": reason},
                }
                activities.record_activity(
                    session,
                    workspace_id=workspace_id,
                    actor_type="system",
                    actor_id="health",
                    category="health",
                    action="health.changed",
                    entity_type="workspace",
                    entity_id=workspace_id,
                    details={"status": status, "previous": previous, "reason": reason},
                )
                repo.enqueue_event(session, workspace_id, "health.changed", payload, at=now)
                changed += 1
        return changed

    # -- delivery --------------------------------------------------------------------------------

    def tick(self) -> None:
        """Called by the job engine's dispatcher on every pass: health now and then, and a delivery
        thread when something is due and none runs. Never raises: notifications must not stop jobs."""
        try:
            self._tick()
        except Exception:
            log.exception("notification tick failed")

    def _tick(self) -> None:
        now = self.clock.monotonic()
        if self._last_health is None or now - self._last_health >= HEALTH_EVERY_SECONDS:
            self._last_health = now
            self.check_health()
        if self._worker is not None and self._worker.is_alive():
            return
        with self.sessions() as session:
            if not repo.due_deliveries(session, self.clock.now(), 1):
                return
        self._worker = threading.Thread(target=self._drain, name="lightfast-notifications", daemon=True)
        self._worker.start()

    def _drain(self) -> None:
        try:
            while not self._stop.is_set() and self.deliver_due():
                pass
        except Exception:  # the next tick starts another thread; the rows wait in the queue
            log.exception("notification delivery failed")

    def close(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=15)

    def deliver_due(self, limit: int = BATCH) -> int:
        """Attempt up to ``limit`` due deliveries once each; how many were attempted."""
        now = self.clock.now()
        with self.sessions() as session:
            due = repo.due_deliveries(session, now, limit)
        attempted = 0
        for delivery_id, due_at in due:
            if self._stop.is_set():
                break
            with self.sessions.begin() as session:
                claimed = repo.claim(session, delivery_id, due_at, now + timedelta(seconds=CLAIM_SECONDS))
            if claimed:
                self._attempt(delivery_id)
                attempted += 1
        return attempted

    def _attempt(self, delivery_id: str) -> None:
        with self.sessions() as session:
            delivery = repo.get_delivery(session, delivery_id)
            target = repo.find_target(session, delivery.target_id) if delivery else None
            if delivery is None or target is None:
                return
            kind, url, stored, payload = target.kind, target.url, target.secret, dict(delivery.payload)
            target_id = target.id
            if delivery.event == "job.failed" and "job_id" in payload:
                job = jobs_repo.find_job(session, str(payload["job_id"]))
                if job is None:  # the workspace was deleted since: nothing left to tell about
                    return
                payload = JobFailedEventOut.of(job).wire()
        try:
            secret = self._unseal(target_id, stored)
        except SecretUnreadable as exc:  # no attempt can succeed until the key is configured again
            attempt = Attempt(False, False, f"the signing secret cannot be read: {exc}")
        else:
            attempt = self.send(kind, url, secret, payload, delivery_id=delivery_id)
        at = self.clock.now()
        with self.sessions.begin() as session:
            delivery = repo.get_delivery(session, delivery_id)
            if delivery is None:
                return
            final = attempt.delivered or not attempt.retry or delivery.attempts + 1 >= MAX_ATTEMPTS
            if not final:
                wait = timedelta(seconds=retry_delay(delivery.attempts + 1, jitter=self.jitter()))
                repo.record_attempt(
                    session, delivery, status=repo.PENDING, error=attempt.detail, at=at, retry_in=wait
                )
                return
            status = repo.DELIVERED if attempt.delivered else repo.FAILED
            repo.record_attempt(
                session, delivery, status=status, error=None if attempt.delivered else attempt.detail, at=at
            )
            activities.record_activity(
                session,
                workspace_id=delivery.workspace_id,
                actor_type="system",
                actor_id="notifications",
                category="notification",
                action=f"notification.{status}",
                entity_type="notification_target",
                entity_id=delivery.target_id,
                details={
                    "deliveryId": delivery.id,
                    "event": delivery.event,
                    "kind": kind,
                    "url": redacted_url(kind, url),
                    "attempts": delivery.attempts,
                    "outcome": attempt.detail,
                    "summary": summary(payload)[:500],
                },
            )

    def send(
        self, kind: str, url: str, secret: str | None, payload: dict[str, Any], *, delivery_id: str
    ) -> Attempt:
        """One HTTP attempt, never raising: what happened and whether to try again."""
        try:
            check_target_url(url, production=self.production, resolve=self.resolve)
        except InvalidInput as exc:
            return Attempt(False, False, f"refused: {exc}")
        body_object = slack_message(payload) if kind == "slack" else payload
        body = json.dumps(body_object, separators=(",", ":"), sort_keys=True).encode()
        headers = {"content-type": "application/json", "user-agent": "Lightfast-Notifications/1"}
        if kind == "generic":
            timestamp = int(self.clock.now().timestamp())
            headers["x-lightfast-event"] = str(payload.get("event"))
            headers["x-lightfast-delivery"] = delivery_id
            headers["x-lightfast-timestamp"] = str(timestamp)
            if secret:
                headers["x-lightfast-signature"] = sign(secret, timestamp, body)
        try:
            with httpx.Client(
                timeout=ATTEMPT_TIMEOUT, follow_redirects=False, transport=self.transport
            ) as http:
                response = http.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Attempt(False, True, "timeout")
        except httpx.HTTPError as exc:
            return Attempt(False, True, f"network error: {type(exc).__name__}")
        code = response.status_code
        if 200 <= code < 300:
            return Attempt(True, False, f"HTTP {code}")
        return Attempt(False, code >= 500 or code in RETRYABLE_STATUS, f"HTTP {code}")


def _secret_context(target_id: str) -> str:
    # Bound into the ciphertext: a sealed secret copied onto another target's row does not open.
    return f"notification-target:{target_id}:secret"


def _actor_type(actor: str | None) -> str:
    if actor is None:
        return "system"
    return "api_key" if actor.startswith("key_") else "user"
