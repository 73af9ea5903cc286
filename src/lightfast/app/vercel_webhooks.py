"""What a delivery to ``/webhooks/vercel/{sourceId}`` does (the handler registered into
``VendorWebhooks.handlers``).

Checked first, over the raw bytes: the signature under the connection's sealed secret, then the body,
then the envelope's ``createdAt`` against ``LIGHTFAST_WEBHOOK_MAX_AGE`` (Vercel sends no timestamp
header: the signed envelope is what says when). A refusal stores nothing but a ``webhook.refused``
activity. The delivery id is the envelope's ``id``; a redelivery is answered as a duplicate.

* ``deployment.created|succeeded|ready|error|canceled``: the deployment's new state, merged over the
  stored one, ordered by ``createdAt``. With an API token a failed deployment's error message and build
  log's error lines are read at once (bounded, quick: the delivery is indexed without them on failure).
* ``project.removed``: that project's deployments' documents are removed. ``project.created`` and every
  other type (``deployment.promoted``, ``deployment.check-rerequested``...): recorded, not indexed.

Deliveries about projects the connection does not name are recorded without indexing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from lightfast.app.credentials import WEBHOOK_SECRET
from lightfast.app.vendor_webhooks import REFUSED, VendorOutcome, VendorWebhooks, json_object
from lightfast.app.vercel_backfill import VercelSources, wanted
from lightfast.db.models import ConnectedSource
from lightfast.errors import InvalidInput, InvalidSignature, UpstreamError
from lightfast.sources.vercel.metadata import VercelEventMetadata
from lightfast.sources.vercel.webhooks import (
    SIGNATURE_HEADER,
    VercelDelivery,
    deployment_fields,
    is_fresh,
    parse_delivery,
    verify_signature,
)

log = logging.getLogger("lightfast.webhooks")
API_FAILED = "Vercel's API could not be read; the delivery's own fields were indexed"


class VercelWebhookHandler:
    def __init__(self, hooks: VendorWebhooks, vercel: VercelSources) -> None:
        self.hooks, self.vercel = hooks, vercel

    def __call__(
        self, source: ConnectedSource, headers: Mapping[str, str], body: bytes, address: str | None
    ) -> VendorOutcome:
        hooks = self.hooks
        secret = hooks.credentials.read(source.id, WEBHOOK_SECRET)
        if secret is None or not verify_signature(secret, body, headers.get(SIGNATURE_HEADER)):
            hooks.refuse(source, "bad_signature", address)
            raise InvalidSignature(REFUSED)
        try:
            delivery = parse_delivery(json_object(body))
        except InvalidInput as exc:
            hooks.refuse(source, "invalid", address, exc.message)
            raise
        # A delivery handled before is a duplicate whatever its age: Vercel's retry of it keeps the
        # envelope's createdAt, and must get a 200, not a refusal, or it retries again.
        key = f"{source.id}:{delivery.delivery_id}"
        if hooks.seen(source, key):
            return VendorOutcome(delivery.delivery_id, "duplicate", duplicate=True)
        max_age = hooks.settings.webhook_max_age
        if not is_fresh(delivery.created, hooks.clock.now(), max_age):
            message = f"createdAt is more than {max_age} s from now"
            hooks.refuse(source, "stale", address, message)
            raise InvalidInput(message, field="createdAt")
        outcome = VendorOutcome(delivery.delivery_id, "unhandled")
        about_us = wanted(source, delivery.project_id, delivery.project_name)
        changes: dict[str, str] = {}
        if delivery.deployment is not None and about_us:
            extra, errors = self._fetch(source, delivery, outcome)
            with hooks.sessions.begin() as session:
                applied = self.vercel.apply_deployment(
                    session,
                    source.id,
                    {**delivery.deployment, **extra},
                    version=delivery.created_ms,
                    errors=errors,
                )
            changes = applied.changes
            outcome.result = "stale" if applied.state == "stale" else "recorded"
        elif delivery.type == "project.removed" and about_us:
            with hooks.sessions.begin() as session:
                changes = self.vercel.remove_project(
                    session, source.id, delivery.project_id, delivery.project_name, delivery.created_ms
                )
            outcome.result = "recorded"
        elif delivery.type == "project.created":
            outcome.result = "recorded"
        if changes:
            outcome.jobs = hooks.enqueue(source, changes, key, f"Vercel {delivery.type}")
            outcome.result = "indexing_enqueued" if outcome.jobs else "recorded"
        metadata = VercelEventMetadata(
            event=delivery.type,
            delivery_id=delivery.delivery_id,
            deployment_id=(delivery.deployment or {}).get("id"),
            project_id=delivery.project_id,
            team_id=delivery.team_id,
            created_at=delivery.created_ms,
        ).wire()
        return hooks.record(source, key, delivery.type, metadata, outcome)

    def _fetch(
        self, source: ConnectedSource, delivery: VercelDelivery, outcome: VendorOutcome
    ) -> tuple[dict[str, Any], list[str] | None]:
        """With a token, what a failure delivery lacks: the deployment's error message and its build
        log's error lines. ({}, None) otherwise, or when the API fails (indexed all the same)."""
        deployment = delivery.deployment or {}
        if deployment.get("state") != "ERROR":
            return {}, None
        client = self.vercel.client(source, quick=True)
        if client is None:
            return {}, None
        try:
            given = client.deployment(str(deployment["id"]))
            fields = deployment_fields(given) if given is not None else None
            extra = {
                k: v for k, v in (fields or {}).items() if k in ("error_code", "error_message", "ready_at")
            }
            return extra, self.vercel.error_lines(client, str(deployment["id"]))
        except UpstreamError as exc:
            log.warning("vercel %s: the API failed (%s); indexing the delivery", source.id, exc.message)
            outcome.notice = API_FAILED
            return {}, None
        finally:
            client.close()
