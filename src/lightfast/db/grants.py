"""What an organization was granted: GitHub App installations (each bound to one organization) and
directories on the server."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lightfast.db.models import InstallationGrant, PathGrant


def find_installation_grant(
    session: Session, provider: str, installation_id: str
) -> InstallationGrant | None:
    return session.scalar(
        select(InstallationGrant).where(
            InstallationGrant.provider == provider, InstallationGrant.installation_id == installation_id
        )
    )


def add_installation_grant(
    session: Session, organization_id: str, provider: str, installation_id: str, *, granted_by: str | None
) -> InstallationGrant:
    """Bind an installation; one bound already (to any organization) fails on the unique constraint."""
    grant = InstallationGrant(
        organization_id=organization_id,
        provider=provider,
        installation_id=installation_id,
        granted_by=granted_by,
    )
    session.add(grant)
    session.flush()
    return grant


def delete_installation_grant(session: Session, grant: InstallationGrant) -> None:
    session.delete(grant)


def installation_grants(session: Session, organization_id: str) -> list[InstallationGrant]:
    return list(
        session.scalars(
            select(InstallationGrant)
            .where(InstallationGrant.organization_id == organization_id)
            .order_by(InstallationGrant.provider, InstallationGrant.installation_id)
        )
    )


def path_grants(session: Session, organization_id: str) -> list[PathGrant]:
    return list(
        session.scalars(
            select(PathGrant).where(PathGrant.organization_id == organization_id).order_by(PathGrant.path)
        )
    )


def add_path_grant(session: Session, organization_id: str, path: str, *, granted_by: str | None) -> PathGrant:
    """Grant a directory (idempotent)."""
    grant = session.scalar(
        select(PathGrant).where(PathGrant.organization_id == organization_id, PathGrant.path == path)
    )
    if grant is None:
        grant = PathGrant(organization_id=organization_id, path=path, granted_by=granted_by)
        session.add(grant)
        session.flush()
    return grant


def delete_path_grant(session: Session, organization_id: str, path: str) -> bool:
    result = session.execute(
        delete(PathGrant).where(PathGrant.organization_id == organization_id, PathGrant.path == path)
    )
    return bool(getattr(result, "rowcount", 0))
