"""Organizations, the tenants: an operator creates them and grants each what its workspaces may read (see
``lightfast.app.access``). Revoking a grant disconnects the organization's sources it covered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.access import GITHUB, Access, inside, resolve_path
from lightfast.app.sources import SourceService
from lightfast.db import grants, tenancy
from lightfast.db import sources as sources_repo
from lightfast.db.models import ConnectedSource, InstallationGrant, Organization, PathGrant, Workspace
from lightfast.db.transactions import conflict_on_duplicate
from lightfast.errors import Conflict, NotFound
from lightfast.settings import Settings
from lightfast.sources import git, local


@dataclass(frozen=True)
class OrganizationView:
    organization: Organization
    workspaces: list[Workspace]
    installations: list[InstallationGrant]
    paths: list[PathGrant]


@dataclass(frozen=True)
class Disconnect:
    """The disconnect job of a source a revoked grant covered."""

    workspace_id: str
    source_id: str
    job_id: str


class OrganizationService:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], sources: SourceService) -> None:
        self.settings = settings
        self.sessions = sessions
        self.sources = sources
        self.access = Access(settings)

    def create(self, slug: str, *, name: str | None = None, workspace: str | None = None) -> OrganizationView:
        """A new organization with its first (default) workspace."""
        tenancy.validate_organization_slug(slug)
        with (
            conflict_on_duplicate(f"an organization {slug!r} already exists"),
            self.sessions.begin() as session,
        ):
            if tenancy.find_organization(session, slug) is not None:
                raise Conflict(f"an organization {slug!r} already exists")
            org = tenancy.create_organization(session, slug, name)
            tenancy.create_workspace(
                session, org.id, workspace or self.settings.default_workspace, is_default=True
            )
            return self._view(session, org)

    def list_all(self) -> list[OrganizationView]:
        with self.sessions() as session:
            return [self._view(session, org) for org in tenancy.list_organizations(session)]

    def get(self, slug: str) -> OrganizationView:
        with self.sessions() as session:
            return self._view(session, tenancy.get_organization(session, slug))

    def single_tenant_development(self) -> bool:
        """Whether the one organization still gets the process roots and claims installations."""
        with self.sessions() as session:
            return self.access.single_tenant_development(session)

    def inside_process_roots(self, path: str | Path) -> bool:
        """Whether this process's LIGHTFAST_LOCAL_SOURCE_ROOTS cover ``path`` (the server's may differ)."""
        return inside(resolve_path(path), self.access.process_roots())

    # -- installations ---------------------------------------------------------------------------

    def grant_installation(
        self, slug: str, installation_id: int, *, granted_by: str = "cli"
    ) -> InstallationGrant:
        """Bind a GitHub App installation to an organization (idempotent). One bound to another
        organization stays there until it is revoked there."""
        with (
            conflict_on_duplicate(f"installation {installation_id} is already bound"),
            self.sessions.begin() as session,
        ):
            org = tenancy.get_organization(session, slug)
            grant = grants.find_installation_grant(session, GITHUB, str(installation_id))
            if grant is not None and grant.organization_id != org.id:
                owner = tenancy.find_organization_by_id(session, grant.organization_id)
                raise Conflict(
                    f"installation {installation_id} is bound to organization "
                    f"{owner.slug if owner else grant.organization_id!r}; revoke it there first"
                )
            return grant or grants.add_installation_grant(
                session, org.id, GITHUB, str(installation_id), granted_by=granted_by
            )

    def revoke_installation(self, slug: str, installation_id: int) -> list[Disconnect]:
        """Unbind an installation and disconnect the organization's repositories connected through it."""
        with self.sessions.begin() as session:
            org = tenancy.get_organization(session, slug)
            grant = grants.find_installation_grant(session, GITHUB, str(installation_id))
            if grant is None or grant.organization_id != org.id:
                raise NotFound(f"installation {installation_id} is not granted to {slug!r}")
            grants.delete_installation_grant(session, grant)
            covered = [
                s
                for s in sources_repo.organization_sources(session, org.id, (GITHUB,))
                if str((s.source_metadata or {}).get("githubInstallationId")) == str(installation_id)
            ]
        reason = f"installation {installation_id} was revoked from {slug}"
        return self._disconnect(covered, reason)

    # -- paths -----------------------------------------------------------------------------------

    def grant_path(self, slug: str, path: str | Path, *, granted_by: str = "cli") -> PathGrant:
        """Grant a directory (resolved; idempotent). Only what also lies inside the API server's
        LIGHTFAST_LOCAL_SOURCE_ROOTS can be connected through it."""
        resolved = resolve_path(path)
        with self.sessions.begin() as session:
            org = tenancy.get_organization(session, slug)
            return grants.add_path_grant(session, org.id, str(resolved), granted_by=granted_by)

    def revoke_path(self, slug: str, path: str | Path) -> list[Disconnect]:
        """Withdraw a directory and disconnect the organization's local and git sources inside it that
        no other grant of the organization covers."""
        resolved = resolve_path(path)
        with self.sessions.begin() as session:
            org = tenancy.get_organization(session, slug)
            if not grants.delete_path_grant(session, org.id, str(resolved)):
                raise NotFound(f"{resolved} is not granted to {slug!r}")
            remaining = self.access.granted_paths(session, org)
            covered = [
                s
                for s in sources_repo.organization_sources(
                    session, org.id, (local.SOURCE_TYPE, git.SOURCE_TYPE)
                )
                if inside(Path(s.external_key), [resolved]) and not inside(Path(s.external_key), remaining)
            ]
        return self._disconnect(covered, f"{resolved} was revoked from {slug}")

    # -- helpers ---------------------------------------------------------------------------------

    def _disconnect(self, sources: list[ConnectedSource], reason: str) -> list[Disconnect]:
        disconnects = []
        for source in sources:
            if source.workspace_id is None:
                continue
            try:
                enqueued = self.sources.disconnect(
                    source.workspace_id, source.id, triggered_by="operator", reason=reason
                )
            except NotFound:  # disconnected meanwhile
                continue
            disconnects.append(Disconnect(source.workspace_id, source.id, enqueued.job_id))
        return disconnects

    def _view(self, session: Session, org: Organization) -> OrganizationView:
        return OrganizationView(
            org,
            tenancy.list_workspaces(session, org.id),
            grants.installation_grants(session, org.id),
            grants.path_grants(session, org.id),
        )
