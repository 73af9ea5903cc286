"""Typed source metadata (seed 004): what a document, a connection and an ingestion event carry for
each source type, as Pydantic discriminated unions on ``type``. Stored as JSON in ``source_metadata`` /
``event_metadata`` with the seed's camelCase keys; validating through these models is what keeps a
Linear document's metadata a Linear document's metadata.

``extra="allow"`` on documents and connections: a source may keep more than the seed lists (the GitHub
source keeps ``htmlUrl``, ``lastCommit``), and older rows stay readable when a field is added."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel


class _Meta(BaseModel):
    # Python names in snake_case, the stored JSON in the seed's camelCase.
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, validate_by_name=True, frozen=True)

    def wire(self) -> dict[str, Any]:
        """The JSON stored in a metadata column: unset optional fields left out."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


# -- documents --------------------------------------------------------------------------------------


class GitHubDocMetadata(_Meta):
    type: Literal["github"] = "github"
    path: str
    commit_sha: str | None = None
    committed_at: str | None = None
    repo_full_name: str | None = None
    branch: str | None = None


class LinearDocMetadata(_Meta):
    type: Literal["linear"] = "linear"
    kind: Literal["issue", "comment", "project"]
    id: str
    url: str | None = None
    created_at: str | None = None
    updated_at: str
    identifier: str | None = None  # ENG-123
    title: str | None = None
    team_id: str | None = None
    team_key: str | None = None
    project_id: str | None = None
    state: str | None = None  # the workflow state's name: "In Progress"
    state_type: str | None = None  # backlog|unstarted|started|completed|canceled
    priority: int | None = None
    labels: list[str] | None = None
    assignee_id: str | None = None
    issue_id: str | None = None  # a comment's issue
    issue_identifier: str | None = None
    user_id: str | None = None
    user_name: str | None = None


class NotionDocMetadata(_Meta):
    type: Literal["notion"] = "notion"
    kind: Literal["database-page", "doc-page", "comment"]
    page_id: str
    database_id: str | None = None
    title: str
    url: str | None = None
    properties: dict[str, Any] | None = None
    last_edited_time: str
    last_edited_by: str | None = None


class LocalDocMetadata(_Meta):
    type: Literal["local", "git"]


DocumentSourceMetadata = Annotated[
    GitHubDocMetadata | LinearDocMetadata | NotionDocMetadata | LocalDocMetadata,
    Field(discriminator="type"),
]
document_metadata: TypeAdapter[DocumentSourceMetadata] = TypeAdapter(DocumentSourceMetadata)


# -- connections ------------------------------------------------------------------------------------


class LinearSourceMetadata(_Meta):
    type: Literal["linear"] = "linear"
    workspace: str  # the Linear workspace (organization url key) this connection reads
    linear_organization_id: str | None = None
    linear_team_id: str | None = None
    linear_team_key: str | None = None
    team_name: str | None = None
    webhook_id: str | None = None
    mode: Literal["webhook-only", "api"] = "webhook-only"
    token_env: str | None = None  # where the token was read from when connected (never the token)


class NotionSourceMetadata(_Meta):
    type: Literal["notion"] = "notion"
    notion_workspace_id: str | None = None
    notion_workspace_name: str
    database_ids: list[str] = Field(default_factory=list)
    webhook_id: str | None = None  # the subscription id, learnt from the first delivery
    mode: Literal["webhook-only", "api"] = "webhook-only"
    token_env: str | None = None
    verified: bool = False  # whether the subscription's handshake arrived


VendorSourceMetadata = Annotated[LinearSourceMetadata | NotionSourceMetadata, Field(discriminator="type")]
vendor_source_metadata: TypeAdapter[VendorSourceMetadata] = TypeAdapter(VendorSourceMetadata)


# -- ingestion events -------------------------------------------------------------------------------


class LinearEventMetadata(_Meta):
    type: Literal["linear"] = "linear"
    action: Literal["create", "update", "remove"]
    webhook_id: str | None = None
    delivery_id: str
    entity_type: str  # Issue | Comment | Project | ...
    issue_id: str | None = None
    comment_id: str | None = None
    project_id: str | None = None
    updated_at: str | None = None
    webhook_timestamp: int | None = None


class NotionEventMetadata(_Meta):
    type: Literal["notion"] = "notion"
    action: str  # page.created, page.content_updated, comment.created, ...
    webhook_id: str | None = None  # the subscription id
    delivery_id: str
    page_id: str | None = None
    database_id: str | None = None
    comment_id: str | None = None
    last_edited_time: str  # the event's timestamp


EventMetadata = Annotated[LinearEventMetadata | NotionEventMetadata, Field(discriminator="type")]
event_metadata: TypeAdapter[EventMetadata] = TypeAdapter(EventMetadata)
