"""Seed 004's Zendesk metadata (documents, the connection, ingestion events), in the style of
lightfast.sources.metadata: pydantic, snake_case in Python, camelCase stored, unset fields left out.

Kept here rather than in the shared module so the vendor lives in its own package; the seed's
``ZendeskDocMetadata`` lists ``ticket`` and ``article`` kinds, and we add ``comment`` (a ticket's
comments are its child documents, as Linear's are)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Meta(BaseModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, validate_by_name=True, frozen=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class ZendeskDocMetadata(_Meta):
    type: Literal["zendesk"] = "zendesk"
    kind: Literal["ticket", "comment", "article"]
    url: str | None = None
    created_at: str | None = None
    updated_at: str
    # tickets (and the ticket a comment belongs to)
    ticket_id: int | None = None
    subject: str | None = None
    status: str | None = None  # new | open | pending | hold | solved | closed
    priority: str | None = None  # low | normal | high | urgent
    ticket_type: str | None = None  # problem | incident | question | task
    requester_id: int | None = None
    submitter_id: int | None = None
    assignee_id: int | None = None
    group_id: int | None = None
    organization_id: int | None = None
    brand_id: int | None = None
    problem_id: int | None = None  # an incident's problem ticket (also in relationships.mentions.zendesk)
    external_id: str | None = None  # what links the ticket to another system, as the customer set it
    tags: list[str] | None = None
    satisfaction: str | None = None  # unoffered | offered | good | bad ...
    via_channel: str | None = None  # web | email | api | web_service ...
    comment_count: int | None = None
    # comments
    comment_id: int | None = None
    author_id: int | None = None
    public: bool | None = None  # False: an internal note (private comment)
    # help-center articles
    article_id: int | None = None
    title: str | None = None
    section_id: int | None = None
    section_name: str | None = None
    category_id: int | None = None
    category_name: str | None = None
    locale: str | None = None  # en-us
    labels: list[str] | None = None
    promoted: bool | None = None
    vote_sum: int | None = None
    draft: bool | None = None


class ZendeskSourceMetadata(_Meta):
    type: Literal["zendesk"] = "zendesk"
    zendesk_subdomain: str  # acme in acme.zendesk.com
    zendesk_account_id: str | None = None  # learnt from the first event-subscription delivery
    email: str | None = None  # the agent an API token belongs to (``email/token:TOKEN``)
    webhook_id: str | None = None
    mode: Literal["webhook-only", "api"] = "webhook-only"
    token_env: str | None = None
    # Internal notes are indexed by default: they are the team's own knowledge of the case. A connection
    # whose search is shared more widely than its agents can turn them off.
    index_private_comments: bool = True
    articles: bool = Field(default=True)  # whether the backfill lists help-center articles


class ZendeskEventMetadata(_Meta):
    type: Literal["zendesk"] = "zendesk"
    action: str  # ticket.created, ticket.comment_added, article.published, trigger, ...
    webhook_id: str | None = None
    delivery_id: str
    ticket_id: int | None = None
    article_id: int | None = None
    comment_id: int | None = None
    triggered_at: str
    shape: Literal["event", "trigger"] = "event"
