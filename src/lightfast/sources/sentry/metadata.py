"""Seed 004's Sentry metadata (documents, the connection, ingestion events), in the style of
lightfast.sources.metadata: pydantic, snake_case in Python, camelCase stored, unset fields left out.

Kept here rather than in the shared module so the vendor lives in its own package. The seed's
``SentryDocMetadata`` names one kind, ``issue``; we add ``comment`` (an issue's comments are its child
documents, as Linear's are). Alerts are not documents (the seed has no kind for them): they are events."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class _Meta(BaseModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, validate_by_name=True, frozen=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class SentryDocMetadata(_Meta):
    type: Literal["sentry"] = "sentry"
    kind: Literal["issue", "comment"]
    issue_id: str
    short_id: str | None = None  # PROJ-ABC (also in relationships.mentions.sentry)
    project: str | None = None  # the project's slug
    platform: str | None = None
    url: str | None = None
    # issues
    title: str | None = None
    level: str | None = None  # fatal | error | warning | info | debug
    status: str | None = None  # unresolved | resolved | ignored
    substatus: str | None = None  # escalating | ongoing | regressed | new | archived_*
    culprit: str | None = None
    count: int | None = None
    user_count: int | None = None
    environments: list[str] | None = None
    releases: list[str] | None = None
    tags: dict[str, list[str]] | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    assigned_to: str | None = None
    latest_event_id: str | None = None
    # the latest event's, for a generic extractor of relationships (seed 004's temporal commitSha)
    release: str | None = None
    commit_sha: str | None = None
    environment: str | None = None
    # comments
    comment_id: str | None = None
    author: str | None = None
    created_at: str | None = None


class SentrySourceMetadata(_Meta):
    type: Literal["sentry"] = "sentry"
    sentry_organization_slug: str
    # The seed names one project; a connection may read several (or all of the organization's).
    sentry_project_slugs: list[str] | None = None
    sentry_project_slug: str | None = None
    sentry_project_id: str | None = None
    installation_uuid: str | None = None  # learnt from the first delivery
    webhook_id: str | None = None
    mode: Literal["webhook-only", "api"] = "webhook-only"
    token_env: str | None = None


class SentryEventMetadata(_Meta):
    type: Literal["sentry"] = "sentry"
    resource: str  # issue | error | comment | event_alert | metric_alert | installation ...
    action: str  # created | resolved | assigned | ... | triggered | critical
    webhook_id: str | None = None  # the installation's uuid
    delivery_id: str
    issue_id: str | None = None
    event_id: str | None = None
    comment_id: str | None = None
    level: str | None = None
    alert_rule: str | None = None  # event_alert's triggered_rule, metric_alert's rule name
    triggered_at: str
