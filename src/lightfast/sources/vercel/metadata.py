"""Seed 004's Vercel metadata (documents, the connection, ingestion events), in the style of
lightfast.sources.metadata: pydantic, snake_case in Python, camelCase stored, unset fields left out.

Kept here rather than in the shared module so the vendor lives in its own package. The seed's
``VercelDocMetadata`` names one kind, ``deployment``; projects are not documents (a project's removal
removes its deployments' documents)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class _Meta(BaseModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, validate_by_name=True, frozen=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class VercelDocMetadata(_Meta):
    type: Literal["vercel"] = "vercel"
    kind: Literal["deployment"] = "deployment"
    deployment_id: str
    deployment_url: str | None = None  # the deployment's own host (app-abc123-team.vercel.app)
    project: str | None = None  # the project's name
    project_id: str | None = None
    environment: str  # production | preview
    status: str  # READY | ERROR | BUILDING | CANCELED | QUEUED | INITIALIZING
    target: str | None = None  # production | staging | a custom environment; None for a preview
    commit_sha: str | None = None
    commit_message: str | None = None
    branch: str | None = None
    repo: str | None = None  # owner/name
    author: str | None = None
    error_count: int | None = None
    error_summary: str | None = None
    # Seed 004 requires it; a deployment known only from a delivery later than deployment.created has
    # none until a listing reads it, and an absent time is truer than an invented one.
    created_at: str | None = None
    ready_at: str | None = None
    url: str  # the deployment's page on vercel.com (inspector), else its https address
    # Vercel's own meta names, which a generic relationship extractor also reads.
    github_commit_sha: str | None = None
    github_commit_org: str | None = None
    github_commit_repo: str | None = None
    github_pr_id: str | None = None


class VercelSourceMetadata(_Meta):
    type: Literal["vercel"] = "vercel"
    vercel_projects: list[str]  # ids (prj_...) or names, as the connection was given them
    vercel_team_id: str | None = None
    mode: Literal["webhook-only", "api"] = "webhook-only"
    token_env: str | None = None


class VercelEventMetadata(_Meta):
    type: Literal["vercel"] = "vercel"
    event: str  # deployment.created | deployment.error | project.removed | ...
    delivery_id: str
    deployment_id: str | None = None
    project_id: str | None = None
    team_id: str | None = None
    created_at: str  # the envelope's createdAt
