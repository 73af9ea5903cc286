"""What a delivery to ``/webhooks/sentry/{sourceId}`` does (the handler registered into
``VendorWebhooks.handlers``).

Checked first, over the raw bytes: the signature under the connection's sealed client secret, then the
hook timestamp's age (``LIGHTFAST_WEBHOOK_MAX_AGE``), then the body. A refusal stores nothing but a
``webhook.refused`` activity. The delivery id is ``Request-ID``, else a hash of the body; a redelivery
is answered as a duplicate.

* ``issue`` deliveries carry the whole issue: stored (merged over the stored snapshot), and with an API
  token its latest event is fetched so the document holds the stack at once.
* ``error`` deliveries carry one event: it becomes the issue's latest event when it is newer.
* ``comment`` deliveries carry the comment's text: a child document of the issue (removed on delete).
* ``event_alert`` / ``metric_alert`` / ``installation``: recorded as events (and on the timeline) with the
  issue they name; not indexed (seed 004 has no document kind for them).

A connection limited to some projects records deliveries about other projects without indexing them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from lightfast.app.credentials import WEBHOOK_SECRET
from lightfast.app.sentry_backfill import Applied, SentrySources, organization_of, projects_of
from lightfast.app.vendor_webhooks import REFUSED, VendorOutcome, VendorWebhooks, json_object
from lightfast.db import sources as sources_repo
from lightfast.db import vendor_entities as entities_repo
from lightfast.db.models import ConnectedSource
from lightfast.errors import InvalidInput, InvalidSignature, UpstreamError
from lightfast.sources.sentry import documents as docs
from lightfast.sources.sentry.metadata import SentryEventMetadata
from lightfast.sources.sentry.webhooks import (
    REQUEST_ID_HEADER,
    RESOURCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SentryDelivery,
    event_fields,
    is_fresh,
    issue_fields,
    parse_delivery,
    parse_timestamp,
    verify_signature,
)
from lightfast.sources.snapshots import canonical_version

log = logging.getLogger("lightfast.webhooks")
API_FAILED = "Sentry's API could not be read; the delivery's own fields were indexed"
INDEXED = frozenset({"issue", "error", "comment"})
UNINSTALLED = (
    "Sentry reports the integration was uninstalled: no deliveries arrive until it is installed again "
    "(a token still backfills)"
)


class SentryWebhookHandler:
    def __init__(self, hooks: VendorWebhooks, sentry: SentrySources) -> None:
        self.hooks, self.sentry = hooks, sentry

    def __call__(
        self, source: ConnectedSource, headers: Mapping[str, str], body: bytes, address: str | None
    ) -> VendorOutcome:
        hooks = self.hooks
        secret = hooks.credentials.read(source.id, WEBHOOK_SECRET)
        if secret is None or not verify_signature(secret, body, headers.get(SIGNATURE_HEADER)):
            hooks.refuse(source, "bad_signature", address)
            raise InvalidSignature(REFUSED)
        stamp = headers.get(TIMESTAMP_HEADER)
        max_age = hooks.settings.webhook_max_age
        if not is_fresh(stamp, hooks.clock.now(), max_age):
            message = f"Sentry-Hook-Timestamp is missing or more than {max_age} s from now"
            hooks.refuse(source, "stale", address, message)
            raise InvalidInput(message, field="Sentry-Hook-Timestamp")
        try:
            delivery = parse_delivery(headers.get(RESOURCE_HEADER), json_object(body))
            delivery_id = hooks.delivery_id(headers.get(REQUEST_ID_HEADER), body)
        except InvalidInput as exc:
            hooks.refuse(source, "invalid", address, exc.message)
            raise
        key = f"{source.id}:{delivery_id}"
        if hooks.seen(source, key):
            return VendorOutcome(delivery_id, "duplicate", duplicate=True)
        sent_at = parse_timestamp(stamp) or hooks.clock.now()
        version = canonical_version(sent_at.isoformat())
        outcome = VendorOutcome(delivery_id, "recorded" if delivery.resource not in INDEXED else "unhandled")
        event, issue = self._fetch(source, delivery, outcome)
        changes: dict[str, str] = {}
        with hooks.sessions.begin() as session:
            self._learn(session, source.id, delivery)
            if delivery.resource in INDEXED and self._wanted(session, source, delivery, issue):
                applied = self._apply(session, source.id, delivery, event, issue, version)
                changes = applied.changes
                outcome.result = "stale" if applied.state == "stale" else "recorded"
        if changes:
            outcome.jobs = hooks.enqueue(
                source, changes, key, f"Sentry {delivery.resource}.{delivery.action}"
            )
            outcome.result = "indexing_enqueued" if outcome.jobs else "recorded"
        found_event = delivery.event or event
        metadata = SentryEventMetadata(
            resource=delivery.resource,
            action=delivery.action,
            webhook_id=delivery.installation,
            delivery_id=delivery_id,
            issue_id=delivery.issue_id,
            event_id=(found_event or {}).get("id"),
            comment_id=(delivery.comment or {}).get("id"),
            level=(delivery.issue or found_event or {}).get("level"),
            alert_rule=delivery.alert.get("rule"),
            triggered_at=sent_at.isoformat(),
        ).wire()
        return hooks.record(source, key, f"{delivery.resource}.{delivery.action}", metadata, outcome)

    def _fetch(
        self, source: ConnectedSource, delivery: SentryDelivery, outcome: VendorOutcome
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """With a token, what the delivery lacks: an issue delivery's latest event (issues carry no
        stack), an error's issue when it is not stored yet (events carry few of its fields). (None, None)
        without a token, or when the API fails (the delivery is indexed all the same)."""
        issue_id = delivery.issue_id
        wants_event = delivery.resource == "issue"
        wants_issue = (
            delivery.resource == "error" and issue_id is not None and not self._stored(source, issue_id)
        )
        if not (wants_event or wants_issue) or issue_id is None:
            return None, None
        client = self.sentry.client(source, quick=True)
        if client is None:
            return None, None
        try:
            if wants_event:
                given = client.latest_event(organization_of(source), issue_id)
                return (event_fields(given) if given is not None else None), None
            found = client.issue(organization_of(source), issue_id)
            return None, (issue_fields(found) if found is not None else None)
        except UpstreamError as exc:
            log.warning("sentry %s: the API failed (%s); indexing the delivery", source.id, exc.message)
            outcome.notice = API_FAILED
            return None, None
        finally:
            client.close()

    def _stored(self, source: ConnectedSource, issue_id: str) -> bool:
        with self.hooks.sessions() as session:
            return (
                entities_repo.find_entity(session, source.id, docs.entity_id("issue", issue_id)) is not None
            )

    def _wanted(
        self,
        session: Session,
        source: ConnectedSource,
        delivery: SentryDelivery,
        fetched: dict[str, Any] | None,
    ) -> bool:
        """Whether the delivery is about one of the connection's projects (all when it names none). An
        error names its project by number only: it is indexed when its issue is (stored, or fetched with
        a token); unknown, only when the connection reads every project."""
        projects = projects_of(source)
        if projects is None:
            return True
        project = (delivery.issue or delivery.comment or fetched or {}).get("project")
        if project is not None:
            return project in projects
        issue_id = delivery.issue_id
        stored = entities_repo.find_entity(session, source.id, docs.entity_id("issue", issue_id or "0"))
        return stored is not None and ((stored.payload or {}).get("issue") or {}).get("project") in projects

    def _apply(
        self,
        session: Session,
        source_id: str,
        delivery: SentryDelivery,
        event: dict[str, Any] | None,
        issue: dict[str, Any] | None,
        version: str,
    ) -> Applied:
        sentry = self.sentry
        if delivery.resource == "issue":
            return sentry.apply_issue(session, source_id, version=version, issue=delivery.issue, event=event)
        if delivery.resource == "error":
            return sentry.apply_issue(session, source_id, version=version, issue=issue, event=delivery.event)
        assert delivery.comment is not None
        comment = delivery.comment
        # The comment's own time (microseconds) orders its edits better than the hook's whole seconds.
        try:
            comment_version = canonical_version(str(comment.get("created_at")))
        except ValueError:
            comment_version = version
        return sentry.apply_comment(
            session,
            source_id,
            comment,
            version=max(comment_version, version),
            removed=delivery.action == "deleted",
        )

    def _learn(self, session: Session, source_id: str, delivery: SentryDelivery) -> None:
        """The installation's uuid (seed 004's ``webhookId``), from the first delivery that says it; and
        the connection's notice when Sentry says the integration was uninstalled (deliveries stop) or
        installed again."""
        source = sources_repo.find_source(session, source_id)
        if source is None:
            return
        if delivery.resource == "installation" and delivery.action in ("deleted", "created"):
            removed = delivery.action == "deleted"
            if removed or source.config_message == UNINSTALLED:
                source.config_message = UNINSTALLED if removed else None
        if not delivery.installation or not delivery.installation.isprintable():
            return
        if not (source.source_metadata or {}).get("installationUuid"):
            source.source_metadata = {
                **(source.source_metadata or {}),
                "installationUuid": delivery.installation,
                "webhookId": delivery.installation,
            }
