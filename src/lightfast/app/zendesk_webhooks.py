"""What a delivery to ``/webhooks/zendesk/{sourceId}`` does (the handler registered into
``VendorWebhooks.handlers``).

Checked first, over the raw bytes: the signature under the connection's sealed signing secret (either
concatenation order, see lightfast.sources.zendesk.webhooks), then the signature timestamp's age
(``LIGHTFAST_WEBHOOK_MAX_AGE``), then the body. A refusal stores nothing but a ``webhook.refused``
activity. The delivery id is ``X-Zendesk-Webhook-Invocation-Id``, else the event's ``id``, else a hash
of the body; a redelivery is answered as a duplicate.

Ticket events carry the ticket's fields but not its comments (``ticket.comment_added`` carries the one
comment added). With an API token the handler fetches the ticket and all its comments, so the index
holds what Zendesk holds; should the API fail, or without a token (webhook-only), what the delivery
carries is merged over the stored snapshot. Versions are the ticket's ``updated_at`` or the event's
``time``, whichever is later: an older delivery arriving late changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from lightfast.app.credentials import WEBHOOK_SECRET
from lightfast.app.vendor_webhooks import REFUSED, VendorOutcome, VendorWebhooks, json_object
from lightfast.app.zendesk_backfill import QUICK_COMMENTS, ZendeskSources, version_of
from lightfast.db import sources as sources_repo
from lightfast.db.models import ConnectedSource
from lightfast.errors import InvalidInput, InvalidSignature, UpstreamError
from lightfast.sources.zendesk import documents as docs
from lightfast.sources.zendesk.client import ZendeskClient
from lightfast.sources.zendesk.metadata import ZendeskEventMetadata
from lightfast.sources.zendesk.webhooks import (
    ACCOUNT_HEADER,
    INVOCATION_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_ID_HEADER,
    ZendeskDelivery,
    comment_fields,
    is_fresh,
    parse_delivery,
    parse_timestamp,
    ticket_fields,
    verify_signature,
)

log = logging.getLogger("lightfast.webhooks")
API_FAILED = "Zendesk's API could not be read; the delivery's own fields were indexed"


class ZendeskWebhookHandler:
    def __init__(self, hooks: VendorWebhooks, zendesk: ZendeskSources) -> None:
        self.hooks, self.zendesk = hooks, zendesk

    def __call__(
        self, source: ConnectedSource, headers: Mapping[str, str], body: bytes, address: str | None
    ) -> VendorOutcome:
        hooks = self.hooks
        secret = hooks.credentials.read(source.id, WEBHOOK_SECRET)
        stamp = headers.get(TIMESTAMP_HEADER)
        if secret is None or not verify_signature(secret, stamp, body, headers.get(SIGNATURE_HEADER)):
            hooks.refuse(source, "bad_signature", address)
            raise InvalidSignature(REFUSED)
        max_age = hooks.settings.webhook_max_age
        if not is_fresh(stamp, hooks.clock.now(), max_age):
            message = f"X-Zendesk-Webhook-Signature-Timestamp is more than {max_age} s from now"
            hooks.refuse(source, "stale", address, message)
            raise InvalidInput(message, field="X-Zendesk-Webhook-Signature-Timestamp")
        try:
            delivery = parse_delivery(json_object(body))
            delivery_id = hooks.delivery_id(headers.get(INVOCATION_HEADER) or delivery.event_id, body)
        except InvalidInput as exc:
            hooks.refuse(source, "invalid", address, exc.message)
            raise
        key = f"{source.id}:{delivery_id}"
        if hooks.seen(source, key):
            return VendorOutcome(delivery_id, "duplicate", duplicate=True)
        sent_at = parse_timestamp(stamp)
        fallback = sent_at.isoformat() if sent_at is not None else hooks.clock.now().isoformat()
        outcome = VendorOutcome(delivery_id, "unhandled")
        changes: dict[str, str] = {}
        client = self.zendesk.client(source, quick=True) if delivery.ticket or delivery.article else None
        try:
            fetched = self._fetch(client, delivery) if client is not None else None
        except UpstreamError as exc:
            log.warning("zendesk %s: the API failed (%s); indexing the delivery", source.id, exc.message)
            fetched, outcome.notice = None, API_FAILED
        finally:
            if client is not None:
                client.close()
        with hooks.sessions.begin() as session:
            self._learn(session, source.id, delivery, headers)
            if fetched is not None:
                changes = self._apply_fetched(session, source.id, delivery, fetched, fallback)
            elif delivery.ticket is not None:
                changes = self._apply_ticket(session, source.id, delivery, fallback)
            elif delivery.article is not None and delivery.extra.get("carries_article"):
                # Without a token only a publication (or its end) says enough to index; votes,
                # subscriptions and author changes wait for the next reconciliation.
                version = version_of(delivery.occurred_at, fallback)
                assert version is not None
                article = {**delivery.article, "updated_at": delivery.occurred_at or fallback}
                changes = self.zendesk.apply_article(
                    session, source.id, article, version=version, removed=delivery.removed
                )
        if delivery.ticket or (delivery.article and (fetched or delivery.extra.get("carries_article"))):
            outcome.result = "recorded" if changes else "stale"
        if changes:
            name = f"Zendesk {delivery.action}"
            outcome.jobs = hooks.enqueue(source, changes, key, name)
            outcome.result = "indexing_enqueued" if outcome.jobs else "recorded"
        comment_id = delivery.comment.get("id") if delivery.comment else None
        metadata = ZendeskEventMetadata(
            action=delivery.action,
            webhook_id=(headers.get(WEBHOOK_ID_HEADER) or "")[:100] or None,
            delivery_id=delivery_id,
            ticket_id=delivery.ticket_id,
            article_id=delivery.article_id,
            comment_id=comment_id if isinstance(comment_id, int) else None,
            triggered_at=delivery.occurred_at or fallback,
            shape=delivery.shape,
        ).wire()
        return hooks.record(source, key, delivery.action, metadata, outcome)

    # -- with a token: what Zendesk holds now -------------------------------------------------------

    def _fetch(self, client: ZendeskClient, delivery: ZendeskDelivery) -> dict[str, Any]:
        if delivery.ticket_id is not None:
            ticket = client.ticket(delivery.ticket_id)
            comments = (
                client.comments(delivery.ticket_id, QUICK_COMMENTS, newest=True)
                if ticket is not None
                else None
            )
            return {"ticket": ticket, "comments": comments or []}
        assert delivery.article_id is not None
        article = client.article(delivery.article_id)
        if article is not None and article.get("section_id") is not None:
            section = client.get(f"/api/v2/help_center/sections/{int(article['section_id'])}.json")
            found = (section or {}).get("section")
            if isinstance(found, dict) and isinstance(found.get("id"), int):
                article = docs.with_names(article, {found["id"]: found}, {})
        return {"article": article}

    def _apply_fetched(
        self,
        session: Session,
        source_id: str,
        delivery: ZendeskDelivery,
        fetched: dict[str, Any],
        fallback: str,
    ) -> dict[str, str]:
        zendesk = self.zendesk
        if delivery.ticket_id is not None:
            ticket = fetched.get("ticket")
            if ticket is None:  # gone for good (a 404): remove it, at the delivery's time
                gone = {"id": delivery.ticket_id}
                version = version_of(delivery.occurred_at, fallback)
                assert version is not None
                return zendesk.apply_ticket(session, source_id, gone, version=version, removed=True)
            fields = ticket_fields(ticket, delivery.ticket_id)
            listed = fetched.get("comments") or []
            replies = docs.replies(listed, fields.get("description"))
            # All of them, or only the newest: then the next listing reads them all again.
            complete = len(listed) < QUICK_COMMENTS
            fields["comment_count"] = len(listed) if complete else None
            fields["comment_ids"] = (
                [docs.entity_id("comment", int(c["id"])) for c in replies] if complete else None
            )
            version = version_of(ticket.get("updated_at"), delivery.occurred_at, fallback)
            assert version is not None
            changes = zendesk.apply_ticket(session, source_id, fields, version=version, merge=False)
            for given in replies:
                comment = comment_fields(given, delivery.ticket_id)
                comment_version = version_of(given.get("created_at"), version)
                if comment is not None and comment_version is not None:
                    changes |= zendesk.apply_comment(
                        session,
                        source_id,
                        comment,
                        version=comment_version,
                        subject=fields.get("subject"),
                        merge=False,
                        seen_at=version_of(delivery.occurred_at, fallback),
                    )
            return changes
        article = fetched.get("article")
        version = version_of((article or {}).get("updated_at"), delivery.occurred_at, fallback)
        assert version is not None
        assert delivery.article_id is not None
        return zendesk.apply_article(
            session,
            source_id,
            article or {"id": delivery.article_id},
            version=version,
            removed=article is None or delivery.removed,
        )

    # -- webhook-only: what the delivery carries ----------------------------------------------------

    def _apply_ticket(
        self, session: Session, source_id: str, delivery: ZendeskDelivery, fallback: str
    ) -> dict[str, str]:
        assert delivery.ticket is not None
        # What the delivery changed is not in the comment list a listing keeps: the next one reads
        # this ticket's comments again.
        ticket = {**delivery.ticket, "comment_ids": None}
        updated = version_of(ticket.get("updated_at"))
        occurred = version_of(delivery.occurred_at)
        # The later of the ticket's own time and the event's: an undelete keeps updated_at.
        version = max((v for v in (updated, occurred) if v), default=None) or version_of(fallback)
        assert version is not None
        changes = self.zendesk.apply_ticket(
            session,
            source_id,
            ticket,
            version=version,
            removed=delivery.removed,
        )
        if delivery.comment is not None and not delivery.removed:
            comment_version = version_of(delivery.comment.get("created_at"), delivery.occurred_at, fallback)
            assert comment_version is not None
            stored = self.zendesk.apply_comment(
                session,
                source_id,
                delivery.comment,
                version=comment_version,
                seen_at=version_of(delivery.occurred_at, fallback),
                subject=ticket.get("subject"),
            )
            changes |= stored
        return changes

    def _learn(
        self, session: Session, source_id: str, delivery: ZendeskDelivery, headers: Mapping[str, str]
    ) -> None:
        """Seed 004's ``zendeskAccountId`` and ``webhookId``, from the first delivery that says them
        (the body of an event, else the ``X-Zendesk-Account-Id`` / ``X-Zendesk-Webhook-Id`` headers)."""
        source = sources_repo.find_source(session, source_id)
        if source is None:
            return
        metadata = dict(source.source_metadata or {})
        account = delivery.account_id or (headers.get(ACCOUNT_HEADER) or "").strip()[:40]
        webhook = (headers.get(WEBHOOK_ID_HEADER) or "").strip()[:100]
        learnt = {
            "zendeskAccountId": account if account.isprintable() else None,
            "webhookId": webhook if webhook.isprintable() else None,
        }
        missing = {k: v for k, v in learnt.items() if v and not metadata.get(k)}
        if missing:
            source.source_metadata = {**metadata, **missing}
