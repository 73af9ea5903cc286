"""Connected sources: connecting one (local directory, git repository, GitHub repository), the API's
and the CLI's views of a source, and what configuration detection found."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import Field

from lightfast.app.schemas.common import Body, Out, Timestamp
from lightfast.db.models import ConnectedSource
from lightfast.ingest.config import ConfigReport


class ConnectLocalBody(Body):
    """A directory on the server, under LIGHTFAST_LOCAL_SOURCE_ROOTS, read as it is at each sync."""

    type: Literal["local"]
    path: str = Field(min_length=1, max_length=4096)


class ConnectGitBody(Body):
    """A git repository on the server, under LIGHTFAST_LOCAL_SOURCE_ROOTS: each sync indexes the commits
    of ``branch`` (default: the checked-out one) since the last."""

    type: Literal["git"]
    path: str = Field(min_length=1, max_length=4096)
    branch: str | None = Field(default=None, min_length=1, max_length=255)


class ConnectGitHubBody(Body):
    """A repository the GitHub App's installation can read; pushes arrive at POST /webhooks/github."""

    type: Literal["github"]
    repository: str = Field(
        min_length=3, max_length=200, json_schema_extra={"pattern": r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"}
    )
    installation_id: int = Field(alias="installationId", ge=1, le=2**53, strict=True)


class VendorConnectBody(Body):
    """What connecting every vendor's source takes; a vendor's body adds its own fields, gives them to
    ``VendorKind.metadata`` as ``options()`` and may name the connection after one of them."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    token: str | None = Field(default=None, min_length=8, max_length=4096)

    def options(self) -> dict[str, str]:
        """The connection options ``VendorKind.metadata`` reads (and checks again, naming the field)."""
        return {}

    def connection_name(self) -> str | None:
        """The name given, else the vendor's default (the type's name when None)."""
        return self.name

    def signing_secret(self) -> str | None:
        """The webhook's signing secret given, for the vendors whose deliveries carry one."""
        secret = getattr(self, "webhook_secret", None)
        return secret if isinstance(secret, str) else None


class ConnectLinearBody(VendorConnectBody):
    """A Linear workspace; deliveries arrive at the answer's ``webhookUrl``, signed with ``webhookSecret``
    (generated and shown once when not given). A ``token`` (a Linear API key) turns on the backfill."""

    type: Literal["linear"]
    webhook_secret: str | None = Field(default=None, alias="webhookSecret", min_length=8, max_length=4096)


class ConnectNotionBody(VendorConnectBody):
    """A Notion workspace; its subscription's handshake arrives at ``webhookUrl``. Notion events carry ids
    only: without a ``token`` (an integration secret) they are recorded, not indexed."""

    type: Literal["notion"]


class ConnectZendeskBody(VendorConnectBody):
    """A Zendesk account (``subdomain``.zendesk.com); deliveries of its webhook arrive at ``webhookUrl``,
    signed with the webhook's ``webhookSecret`` (Zendesk shows it on the webhook's page). A ``token`` (an
    API token, with ``email`` the agent it belongs to; an OAuth token without) turns on the backfill
    and fetching whole tickets. ``privateComments: false`` leaves internal notes out of the index."""

    type: Literal["zendesk"]
    subdomain: str = Field(
        min_length=1, max_length=63, json_schema_extra={"pattern": r"^[a-z0-9][a-z0-9-]{0,62}$"}
    )
    email: str | None = Field(default=None, min_length=3, max_length=254)
    webhook_secret: str | None = Field(default=None, alias="webhookSecret", min_length=8, max_length=4096)
    private_comments: bool = Field(default=True, alias="privateComments", strict=True)

    def options(self) -> dict[str, str]:
        found = {"subdomain": self.subdomain, "privateComments": str(self.private_comments).lower()}
        return found | ({"email": self.email} if self.email else {})

    def connection_name(self) -> str | None:
        return self.name or self.subdomain


class ConnectSentryBody(VendorConnectBody):
    """A Sentry organization (``organization``: its slug), all its projects or those ``projects`` names;
    deliveries of its integration's webhooks arrive at ``webhookUrl``, signed with the integration's
    client secret (``webhookSecret``). A ``token`` (the integration's or a user's auth token with
    org:read, project:read and event:read) turns on the backfill and the latest event of each issue."""

    type: Literal["sentry"]
    organization: str = Field(
        min_length=1, max_length=50, json_schema_extra={"pattern": r"^[a-z0-9][a-z0-9_-]{0,49}$"}
    )
    projects: list[str] | None = Field(default=None, max_length=100)
    webhook_secret: str | None = Field(default=None, alias="webhookSecret", min_length=8, max_length=4096)

    def options(self) -> dict[str, str]:
        found = {"organization": self.organization}
        return found | ({"projects": ",".join(p[:60] for p in self.projects)} if self.projects else {})

    def connection_name(self) -> str | None:
        return self.name or self.organization


class ConnectVercelBody(VendorConnectBody):
    """Vercel projects (``projects``: ids ``prj_...`` or names) of an account or a team (``team``: its id
    ``team_...``); deliveries of the webhook arrive at ``webhookUrl``, signed with its ``webhookSecret``
    (Vercel shows it once, when the webhook is created; an integration's client secret for an
    integration's webhooks). A ``token`` (an access token scoped to the team) turns on the backfill of
    each project's newest deployments and the error lines of failed builds."""

    type: Literal["vercel"]
    projects: list[
        Annotated[
            str, Field(min_length=1, max_length=100, pattern=r"^(?:prj_[A-Za-z0-9]+|[a-z0-9][a-z0-9._-]*)$")
        ]
    ] = Field(min_length=1, max_length=50)
    team: str | None = Field(default=None, min_length=6, max_length=70, pattern=r"^team_[A-Za-z0-9]+$")
    webhook_secret: str | None = Field(default=None, alias="webhookSecret", min_length=8, max_length=4096)

    def options(self) -> dict[str, str]:
        found = {"projects": ",".join(p[:110] for p in self.projects)}
        return found | ({"team": self.team} if self.team else {})

    def connection_name(self) -> str | None:
        return self.name or self.projects[0][:100]


ConnectSourceBody = Annotated[
    ConnectLocalBody
    | ConnectGitBody
    | ConnectGitHubBody
    | ConnectLinearBody
    | ConnectNotionBody
    | ConnectZendeskBody
    | ConnectSentryBody
    | ConnectVercelBody,
    Field(discriminator="type"),
]


class SyncBody(Body):
    full: bool = Field(default=False, strict=True)


def config_status(source: ConnectedSource, *, ingesting: bool) -> str:
    """Seed 002's ``configStatus``: ``ingesting`` while a sync of an active source runs, else what
    config detection recorded (``pending``, ``configured``, ``unconfigured``, ``error``)."""
    return "ingesting" if ingesting and source.is_active else source.config_status


class SourceOut(Out):
    id: str
    type: str
    name: str
    is_active: bool
    config_status: str
    document_count: int
    last_synced_at: Timestamp | None
    created_at: Timestamp | None
    config_message: str | None = None
    last_commit: str | None = None
    external_key: str | None = None
    last_error: str | None = None

    @classmethod
    def from_row(cls, source: ConnectedSource, *, ingesting: bool = False, **extra: Any) -> Self:
        return cls(
            id=source.id,
            type=source.source_type,
            name=source.display_name,
            is_active=source.is_active,
            config_status=config_status(source, ingesting=ingesting),
            last_error=source.last_error,
            document_count=source.document_count,
            last_synced_at=source.last_synced_at,
            created_at=source.created_at,
            config_message=source.config_message,
            last_commit=(source.source_metadata or {}).get("lastCommit"),
            external_key=source.external_key,
            **extra,
        )


class ConnectedSourceOut(SourceOut):
    job_id: str | None = Field(
        description="The source's first, full sync (none for a Linear or Notion source without a token)."
    )
    # Linear and Notion sources: where their deliveries go, and what to set up at the vendor.
    webhook_url: str | None = None
    webhook_secret: str | None = Field(default=None, description="Generated signing secret, shown once.")
    credentials: dict[str, str] | None = Field(default=None, description="Stored credentials' previews.")
    mode: str | None = None  # webhook-only | api
    notice: str | None = None


class SourceListOut(Out):
    items: list[SourceOut]


class SourceConfigOut(Out):
    version: int
    store: str
    include: list[str]
    exclude: list[str]


class DetectConfigOut(Out):
    source_id: str
    status: Literal["configured", "unconfigured", "error"]
    path: str | None
    config: SourceConfigOut | None
    problems: list[str]

    @classmethod
    def from_report(cls, source_id: str, report: ConfigReport) -> Self:
        return cls(
            source_id=source_id,
            status=report.status,
            path=report.path,
            config=None if report.config is None else SourceConfigOut.model_validate(report.config),
            problems=[str(p) for p in (*report.problems, *report.warnings)],
        )


class CliSourceOut(Out):
    """A row of ``lightfast source list --json``: shorter names than the API's, and the schedule."""

    id: str
    type: str
    name: str
    active: bool
    documents: int
    config: str
    config_message: str | None
    last_commit: str | None
    schedule: dict[str, Any] | None
    last_synced_at: Timestamp | None
    last_error: str | None = None

    @classmethod
    def from_row(cls, source: ConnectedSource, *, ingesting: bool = False) -> Self:
        metadata = source.source_metadata or {}
        return cls(
            id=source.id,
            type=source.source_type,
            name=source.display_name,
            active=source.is_active,
            documents=source.document_count,
            config=config_status(source, ingesting=ingesting),
            last_error=source.last_error,
            config_message=source.config_message,
            last_commit=metadata.get("lastCommit"),
            schedule=metadata.get("schedule"),
            last_synced_at=source.last_synced_at,
        )
