"""The Linear and Notion services, built together (one field of ``Services``): sealed credentials, the
connections, their webhooks, and the openers the sync uses for them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.clock import Clock
from lightfast.app.credentials import CredentialService
from lightfast.app.document_lookup import DocumentLookup
from lightfast.app.jobs import JobService
from lightfast.app.linear_backfill import LinearBackfill
from lightfast.app.notion_ingest import NotionPages
from lightfast.app.secrets import secret_box
from lightfast.app.sentry_backfill import SENTRY, SentrySources
from lightfast.app.sentry_webhooks import SentryWebhookHandler
from lightfast.app.vendor_snapshots import VendorOpeners
from lightfast.app.vendor_sources import VendorSourceService
from lightfast.app.vendor_webhooks import VendorWebhooks
from lightfast.app.vercel_backfill import VERCEL, VercelSources
from lightfast.app.vercel_webhooks import VercelWebhookHandler
from lightfast.app.zendesk_backfill import ZENDESK, ZendeskSources
from lightfast.app.zendesk_webhooks import ZendeskWebhookHandler
from lightfast.settings import Settings
from lightfast.sources.registry import SourceOpener


@dataclass
class Vendors:
    credentials: CredentialService
    connections: VendorSourceService
    webhooks: VendorWebhooks
    openers: VendorOpeners
    notion: NotionPages  # tests replace its transport with the stand-in's
    lookup: DocumentLookup  # GET /v1/documents?sourceType=&sourceId=, /v1/documents/{id}/children
    zendesk: ZendeskSources | None = None  # tests point its transport at the stand-in
    sentry: SentrySources | None = None  # tests point its transport at the stand-in
    vercel: VercelSources | None = None  # tests point its transport at the stand-in


def build_vendors(
    settings: Settings,
    sessions: sessionmaker[Session],
    jobs: JobService,
    opener: SourceOpener,
    clock: Clock,
) -> Vendors:
    credentials = CredentialService(sessions, secret_box(settings))
    connections = VendorSourceService(settings, sessions, jobs, credentials)
    linear = LinearBackfill(settings, sessions, credentials)
    openers = VendorOpeners(sessions, linear.for_connection)
    connections.register_linear_webhook = linear.register_webhook
    opener.register("linear", openers.linear)
    notion = NotionPages(settings, sessions, credentials)
    opener.register("notion", lambda connection: notion.open(connection))
    zendesk = ZendeskSources(settings, sessions, credentials)
    connections.kinds[ZENDESK.source_type] = ZENDESK
    opener.register("zendesk", lambda connection: zendesk.open(connection))
    webhooks = VendorWebhooks(settings, sessions, jobs, credentials, connections, clock)
    webhooks.handlers["zendesk"] = ZendeskWebhookHandler(webhooks, zendesk)
    sentry = SentrySources(settings, sessions, credentials)
    connections.kinds[SENTRY.source_type] = SENTRY
    opener.register("sentry", lambda connection: sentry.open(connection))
    webhooks.handlers["sentry"] = SentryWebhookHandler(webhooks, sentry)
    vercel = VercelSources(settings, sessions, credentials)
    connections.kinds[VERCEL.source_type] = VERCEL
    opener.register("vercel", lambda connection: vercel.open(connection))
    webhooks.handlers["vercel"] = VercelWebhookHandler(webhooks, vercel)
    return Vendors(
        credentials=credentials,
        connections=connections,
        webhooks=webhooks,
        openers=openers,
        notion=notion,
        lookup=DocumentLookup(sessions),
        zendesk=zendesk,
        sentry=sentry,
        vercel=vercel,
    )
