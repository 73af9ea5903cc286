"""What a delivery to ``/webhooks/{linear|notion}/{sourceId}`` does.

Checked before anything is stored: the connection exists (else the same answer as a bad signature, so a
URL's existence is not revealed), the body's size, its signature over the raw bytes under the
connection's own sealed secret, and (Linear) its ``webhookTimestamp``. A refused delivery stores nothing
but one ``webhook.refused`` activity on the connection's workspace.

An accepted delivery is one ingestion event keyed by its delivery id (a redelivery is answered as a
duplicate). Its entity snapshot is kept newest-first (``vendor_entities``): a late or repeated delivery
carrying an older version changes nothing. The indexing is a job: an incremental sync of the changed
entities, which supersedes the queued sync of the same connection, so a burst of deliveries becomes one
job (as pushes do).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.clock import Clock
from lightfast.app.credentials import TOKEN, VERIFICATION_TOKEN, WEBHOOK_SECRET, CredentialService
from lightfast.app.jobs import JobService
from lightfast.app.notion_ingest import event_changes
from lightfast.app.vendor_sources import NO_CONTENT_NOTICE, VendorSourceService
from lightfast.db import activities
from lightfast.db import events as events_repo
from lightfast.db import jobs as jobs_repo
from lightfast.db import sources as sources_repo
from lightfast.db import vendor_entities as entities_repo
from lightfast.db.models import ConnectedSource
from lightfast.db.statuses import EventStatus, JobTrigger
from lightfast.errors import Conflict, InvalidInput, InvalidSignature, PayloadTooLarge
from lightfast.settings import Settings
from lightfast.sources.linear import documents as linear_docs
from lightfast.sources.linear import webhooks as linear
from lightfast.sources.metadata import LinearEventMetadata, NotionEventMetadata
from lightfast.sources.notion import webhooks as notion
from lightfast.sources.snapshots import canonical_version

log = logging.getLogger("lightfast.webhooks")
MAX_DELIVERY_ID = 100
REFUSED = "the delivery's signature is missing or does not match"


@dataclass
class VendorOutcome:
    delivery: str
    result: str  # indexing_enqueued|stale|recorded|unhandled|verified|duplicate|no_token
    jobs: list[str] = field(default_factory=list)
    duplicate: bool = False
    notice: str | None = None
    event: str | None = None  # the vendor's event type, once known (for the timeline)

    @property
    def status_code(self) -> int:
        return 202 if self.jobs else 200

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "delivery": self.delivery,
            "result": self.result,
            "duplicate": self.duplicate,
            "jobs": self.jobs,
        }
        if self.notice:
            out["notice"] = self.notice
        return out


def json_object(body: bytes) -> dict[str, Any]:
    """A delivery body as a JSON object: UTF-8, no byte order mark, no NUL (what the vendors send)."""
    if b"\x00" in body:
        raise InvalidInput("the body is not UTF-8 JSON (it holds NUL bytes)", field="body")
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the body is not UTF-8 (byte {exc.start})", field="body") from exc
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc.msg}", field="body") from exc
    except RecursionError as exc:
        raise InvalidInput("the body nests too deeply", field="body") from exc
    if not isinstance(value, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    return value


VendorHandler = Callable[[ConnectedSource, Mapping[str, str], bytes, str | None], "VendorOutcome"]


class VendorWebhooks:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        jobs: JobService,
        credentials: CredentialService,
        connections: VendorSourceService,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.jobs = jobs
        self.credentials = credentials
        self.connections = connections
        self.clock = clock
        # One handler per vendor: (connection, lower-cased headers, raw body, client address) -> outcome.
        # Each checks its own signature first; the shared steps below are public for handlers that live
        # in their own modules (registered by lightfast.app.vendors).
        self.handlers: dict[str, VendorHandler] = {"linear": self._linear, "notion": self._notion}

    def receive(
        self,
        source_type: str,
        source_id: str,
        headers: Mapping[str, str],
        body: bytes | None,
        address: str | None = None,
    ) -> VendorOutcome:
        """Handle one delivery; ``body`` None when it was larger than allowed. Raises InvalidSignature
        (401), PayloadTooLarge (413) or InvalidInput (400) for a delivery refused."""
        handler = self.handlers.get(source_type)
        source = self.connections.find(source_type, source_id) if handler is not None else None
        if source is None:
            log.info("webhook for unknown %s source refused", source_type[:16])
            raise InvalidSignature(REFUSED)
        if body is None:
            self.refuse(source, "too_large", address)
            limit = self.settings.vendor_max_webhook_bytes
            raise PayloadTooLarge(f"the delivery is larger than {limit} bytes", field="body")
        assert handler is not None
        outcome = handler(source, headers, body, address)
        if outcome.duplicate:  # accepted ones are on the timeline from ``record``'s transaction
            with self.sessions.begin() as session:
                key = f"{source.id}:{outcome.delivery}"
                event = outcome.event or events_repo.recorded_type(session, source.source_type, key)
                self._delivery_activity(session, source, outcome, event, address)
        return outcome

    # -- Linear -------------------------------------------------------------------------------------

    def _linear(
        self, source: ConnectedSource, headers: Mapping[str, str], body: bytes, address: str | None
    ) -> VendorOutcome:
        secret = self.credentials.read(source.id, WEBHOOK_SECRET)
        if secret is None or not linear.verify_signature(secret, body, headers.get("linear-signature")):
            self.refuse(source, "bad_signature", address)
            raise InvalidSignature(REFUSED)
        try:
            payload = json_object(body)
            now_ms = int(self.clock.now().timestamp() * 1000)
            if not linear.is_fresh(payload.get("webhookTimestamp"), now_ms, self.settings.webhook_max_age):
                raise InvalidInput(
                    f"webhookTimestamp is missing or more than {self.settings.webhook_max_age} s from now",
                    field="webhookTimestamp",
                )
            delivery_id = self.delivery_id(headers.get("linear-delivery"), body)
            parsed = linear.parse_delivery(payload)
            version = canonical_version(parsed.updated_at)
        except ValueError as exc:
            self.refuse(source, "invalid", address, str(exc))
            raise InvalidInput("data.updatedAt is not an ISO 8601 time", field="data.updatedAt") from exc
        except InvalidInput as exc:
            self.refuse(
                source, "stale" if exc.field == "webhookTimestamp" else "invalid", address, exc.message
            )
            raise
        key = f"{source.id}:{delivery_id}"
        if self.seen(source, key):
            return VendorOutcome(delivery_id, "duplicate", duplicate=True)
        rendered = linear_docs.render(parsed.entity_type, parsed.data, parsed.url) if parsed.indexed else None
        state = "unhandled"
        changes: dict[str, str] = {}
        if rendered is not None:
            with self.sessions.begin() as session:
                state = entities_repo.apply_snapshot(
                    session,
                    source_id=source.id,
                    entity_id=parsed.entity_id,
                    kind=rendered.kind,
                    version=version,
                    payload={"type": parsed.entity_type, "data": parsed.data, "url": parsed.url},
                    deleted=parsed.removed,
                )
                if state == "applied" and rendered.kind == "issue":
                    # An issue's comments leave search with it, and come back when it is restored.
                    for comment_id in entities_repo.follow_parent(
                        session, source.id, "comment", parsed.entity_id, removed=parsed.removed
                    ):
                        changes[linear_docs.path_for("comment", comment_id)] = (
                            "remove" if parsed.removed else "upsert"
                        )
            if state != "stale":
                changes[rendered.path] = "remove" if parsed.removed else "upsert"
        metadata = LinearEventMetadata(
            action=parsed.action,
            webhook_id=parsed.webhook_id,
            delivery_id=delivery_id,
            entity_type=parsed.entity_type,
            issue_id=parsed.entity_id if parsed.entity_type == "Issue" else None,
            comment_id=parsed.entity_id if parsed.entity_type == "Comment" else None,
            project_id=parsed.entity_id if parsed.entity_type == "Project" else None,
            updated_at=version,
            webhook_timestamp=parsed.webhook_timestamp,
        ).wire()
        outcome = VendorOutcome(delivery_id, "stale" if state == "stale" else "recorded")
        if state == "unhandled":
            outcome.result = "unhandled"
        if changes:
            outcome.jobs = self.enqueue(source, changes, key, f"Linear {parsed.entity_type} {parsed.action}")
            outcome.result = "indexing_enqueued" if outcome.jobs else "recorded"
        return self.record(source, key, f"{parsed.entity_type}.{parsed.action}", metadata, outcome)

    # -- Notion -------------------------------------------------------------------------------------

    def _notion(
        self, source: ConnectedSource, headers: Mapping[str, str], body: bytes, address: str | None
    ) -> VendorOutcome:
        token = self.credentials.read(source.id, VERIFICATION_TOKEN)
        signature = headers.get("x-notion-signature")
        if token is None and signature is None:
            # The subscription's handshake: the one unsigned POST, accepted once (the token it carries is
            # what signs everything after; a second handshake would let anyone replace it).
            try:
                offered = notion.handshake_token(json_object(body))
            except InvalidInput as exc:
                self.refuse(source, "invalid", address, exc.message)
                raise
            if offered is None:
                self.refuse(source, "bad_signature", address)
                raise InvalidSignature(REFUSED)
            with self.sessions.begin() as session:
                self.credentials.put(session, source.id, VERIFICATION_TOKEN, offered)
                row = sources_repo.find_source(session, source.id)
                if row is not None:
                    row.source_metadata = {**(row.source_metadata or {}), "verified": True}
                    activities.record_activity(
                        session,
                        workspace_id=row.workspace_id or "",
                        actor_type="webhook",
                        actor_id=None,
                        category="webhook",
                        action="webhook.verified",
                        entity_type="source",
                        entity_id=source.id,
                        details={"type": "notion"},
                        address=address,
                    )
            return VendorOutcome("handshake", "verified")
        if token is None or not notion.verify_signature(token, body, signature):
            self.refuse(source, "bad_signature", address)
            raise InvalidSignature(REFUSED)
        try:
            event = notion.parse_event(json_object(body))
            version = canonical_version(event.timestamp)
        except ValueError as exc:
            self.refuse(source, "invalid", address, str(exc))
            raise InvalidInput("timestamp is not an ISO 8601 time", field="timestamp") from exc
        except InvalidInput as exc:
            self.refuse(source, "invalid", address, exc.message)
            raise
        delivery_id = self.delivery_id(event.delivery_id, body)
        key = f"{source.id}:{delivery_id}"
        if self.seen(source, key):
            return VendorOutcome(delivery_id, "duplicate", duplicate=True)
        metadata = NotionEventMetadata(
            action=event.type,
            webhook_id=event.subscription_id,
            delivery_id=delivery_id,
            page_id=event.page_id,
            comment_id=event.entity_id if event.entity_type == "comment" else None,
            database_id=event.entity_id if event.entity_type in ("database", "data_source") else None,
            last_edited_time=version,
        ).wire()
        outcome = VendorOutcome(delivery_id, "recorded")
        if self.credentials.read(source.id, TOKEN) is None:
            outcome.result, outcome.notice = "no_token", NO_CONTENT_NOTICE
        elif event.page_id is not None:
            with self.sessions.begin() as session:
                changes = event_changes(session, source.id, event, version)
            if changes:
                outcome.jobs = self.enqueue(source, changes, key, f"Notion {event.type}")
                outcome.result = "indexing_enqueued" if outcome.jobs else "recorded"
            else:
                outcome.result = "stale"
        return self.record(source, key, event.type, metadata, outcome)

    # -- shared -------------------------------------------------------------------------------------

    def delivery_id(self, given: str | None, body: bytes) -> str:
        """The vendor's delivery id; a hash of the body when it sent none (the same bytes are the same
        delivery)."""
        if given is None or not given.strip():
            return "sha256:" + hashlib.sha256(body).hexdigest()[:40]
        given = given.strip()
        if len(given) > MAX_DELIVERY_ID or not given.isprintable():
            raise InvalidInput(f"the delivery id must be at most {MAX_DELIVERY_ID} printable characters")
        return given

    def seen(self, source: ConnectedSource, key: str) -> bool:
        with self.sessions() as session:
            return events_repo.event_recorded(session, source.source_type, key)

    def enqueue(self, source: ConnectedSource, changes: dict[str, str], key: str, name: str) -> list[str]:
        if source.workspace_id is None or not source.is_active:
            return []
        try:
            enqueued = self.jobs.enqueue_sync(
                source.workspace_id,
                source.id,
                mode="incremental",
                changes=changes,
                trigger=JobTrigger.WEBHOOK,
                triggered_by=f"{source.source_type}:{key.split(':', 1)[1]}",
                idempotency_key=f"{source.source_type}:delivery:{key}",
                name=name,
            )
        except Conflict:  # deactivated since it was read
            return []
        return [enqueued.job_id]

    def record(
        self,
        source: ConnectedSource,
        key: str,
        event_type: str,
        metadata: dict[str, Any],
        outcome: VendorOutcome,
    ) -> VendorOutcome:
        try:
            with self.sessions.begin() as session:
                events_repo.record_event(
                    session,
                    source_type=source.source_type,
                    event_key=key,
                    event_type=event_type[:64],
                    metadata={
                        **metadata,
                        "sourceId": source.id,
                        "result": outcome.result,
                        "jobs": outcome.jobs,
                    },
                    origin="webhook",
                    status=EventStatus.IGNORED
                    if not outcome.jobs and outcome.result in ("stale", "unhandled", "no_token")
                    else jobs_repo.event_status(session, outcome.jobs),
                )
                outcome.event = event_type[:64]
                self._delivery_activity(session, source, outcome, outcome.event, None)
        except IntegrityError:  # the same delivery handled concurrently; its job was keyed the same
            return VendorOutcome(outcome.delivery, "duplicate", outcome.jobs, duplicate=True)
        return outcome

    def _delivery_activity(
        self,
        session: Session,
        source: ConnectedSource,
        outcome: VendorOutcome,
        event: str | None,
        address: str | None,
    ) -> None:
        """A verified delivery on its connection's timeline, with its outcome (indexing queued, stale,
        duplicate, unhandled...)."""
        if source.workspace_id is None:
            return
        activities.record_activity(
            session,
            workspace_id=source.workspace_id,
            actor_type="webhook",
            actor_id=None,
            category="webhook",
            action="webhook.delivery",
            entity_type="source",
            entity_id=source.id,
            details={
                "type": source.source_type,
                "event": event,
                "result": outcome.result,
                "deliveryId": outcome.delivery,
                "jobs": outcome.jobs,
                "name": source.display_name,
            },
            address=address,
        )

    def refuse(
        self, source: ConnectedSource, reason: str, address: str | None, message: str | None = None
    ) -> None:
        """The one trace a refused delivery leaves: an activity on the connection's workspace."""
        if source.workspace_id is None:
            return
        with self.sessions.begin() as session:
            activities.record_activity(
                session,
                workspace_id=source.workspace_id,
                actor_type="webhook",
                actor_id=None,
                category="webhook",
                action="webhook.refused",
                entity_type="source",
                entity_id=source.id,
                details={
                    "type": source.source_type,
                    "reason": reason,
                    **({"message": message[:300]} if message else {}),
                },
                address=address,
            )
