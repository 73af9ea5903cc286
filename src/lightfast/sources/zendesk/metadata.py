"""Seed 004's Zendesk metadata (documents, the connection, ingestion events), in the style of
lightfast.sources.metadata: pydantic, snake_case in Python, camelCase stored, unset fields left out.

Kept here rather than in the shared module so the vendor lives in its own package; the seed's
``ZendeskDocMetadata`` lists ``ticket`` and ``article`` kinds, and we add ``comment`` (a ticket's
comments are its child documents, as Linear's are)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from lightfast.errors import InvalidInput

SUBDOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")


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


def connection_metadata(
    name: str, mode: str, token_env: str | None, options: Mapping[str, str]
) -> dict[str, Any]:
    """A Zendesk connection's typed metadata from its options: ``subdomain`` (required: acme in
    acme.zendesk.com), ``email`` (the agent an API token belongs to), ``privateComments``
    (``false`` leaves internal notes out of the index)."""
    subdomain = (options.get("subdomain") or "").strip().lower()
    if not SUBDOMAIN.fullmatch(subdomain):
        raise InvalidInput(
            "subdomain must be the account's Zendesk subdomain (acme in acme.zendesk.com): 1-63 lower-case "
            "letters, digits or dashes",
            field="subdomain",
        )
    email = (options.get("email") or "").strip() or None
    if email is not None and not EMAIL.fullmatch(email):
        raise InvalidInput("email must be the address of the agent the API token belongs to", field="email")
    notes = (options.get("privateComments") or "true").strip().lower()
    if notes not in ("true", "false"):
        raise InvalidInput("privateComments must be true or false", field="privateComments")
    return ZendeskSourceMetadata(
        zendesk_subdomain=subdomain,
        email=email,
        mode="api" if mode == "api" else "webhook-only",
        token_env=token_env,
        index_private_comments=notes == "true",
    ).wire()
