"""Users, their memberships in organizations, console sessions, invitations and sign-in attempts: all the
SQL of who uses the console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lightfast.db.models import (
    ConsoleSession,
    Invitation,
    LoginAttempt,
    Membership,
    Organization,
    User,
)

# -- users ------------------------------------------------------------------------------------------


def add_user(
    session: Session, *, email: str, display_name: str, password_hash: str | None, at: datetime
) -> User:
    """Insert a user; an email taken already fails on the unique constraint (IntegrityError)."""
    user = User(email=email, display_name=display_name, password_hash=password_hash, created_at=at)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


# -- memberships ------------------------------------------------------------------------------------


def add_membership(
    session: Session, *, user_id: str, organization_id: str, role: str, at: datetime
) -> Membership:
    """Insert a membership; a user already in the organization fails on the unique constraint."""
    membership = Membership(user_id=user_id, organization_id=organization_id, role=role, created_at=at)
    session.add(membership)
    session.flush()
    return membership


def find_membership(session: Session, user_id: str, organization_id: str) -> Membership | None:
    return session.scalar(
        select(Membership).where(Membership.user_id == user_id, Membership.organization_id == organization_id)
    )


def first_membership(session: Session, user_id: str) -> Membership | None:
    """The organization a user signs in to: the one they joined first."""
    return session.scalar(
        select(Membership)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Membership.id)
        .limit(1)
    )


def memberships_of(session: Session, user_id: str) -> list[Membership]:
    return list(session.scalars(select(Membership).where(Membership.user_id == user_id)))


def members(session: Session, organization_id: str) -> list[tuple[Membership, User]]:
    rows = session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == organization_id)
        .order_by(User.email)
    )
    return [(row[0], row[1]) for row in rows]


def count_owners(session: Session, organization_id: str) -> int:
    """Owners of the organization who can still sign in (a disabled owner does not count)."""
    query = (
        select(func.count())
        .select_from(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.organization_id == organization_id,
            Membership.role == "owner",
            User.disabled_at.is_(None),
        )
    )
    return int(session.scalar(query) or 0)


def lock_memberships(session: Session, organization_id: str) -> None:
    """On PostgreSQL, serialize the organization's role changes, so two admins demoting the last two
    owners at once cannot both pass the last-owner check. SQLite has one writer at a time anyway."""
    session.execute(select(Organization.id).where(Organization.id == organization_id).with_for_update())


def delete_membership(session: Session, membership: Membership) -> None:
    session.delete(membership)
    session.flush()


# -- sessions ---------------------------------------------------------------------------------------


def add_session(
    session: Session,
    *,
    token_hash: str,
    user_id: str,
    organization_id: str,
    workspace_id: str | None,
    csrf_token: str,
    at: datetime,
    expires_at: datetime,
) -> ConsoleSession:
    row = ConsoleSession(
        token_hash=token_hash,
        user_id=user_id,
        organization_id=organization_id,
        workspace_id=workspace_id,
        csrf_token=csrf_token,
        created_at=at,
        last_seen_at=at,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


def find_session(session: Session, session_id: str) -> ConsoleSession | None:
    return session.get(ConsoleSession, session_id)


def session_by_hash(session: Session, token_hash: str) -> ConsoleSession | None:
    return session.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == token_hash))


def delete_session(session: Session, row: ConsoleSession) -> None:
    session.delete(row)


def delete_user_sessions(session: Session, user_id: str, organization_id: str | None = None) -> int:
    """End every session of a user (in one organization, when given); the number ended."""
    query = delete(ConsoleSession).where(ConsoleSession.user_id == user_id)
    if organization_id is not None:
        query = query.where(ConsoleSession.organization_id == organization_id)
    return int(getattr(session.execute(query), "rowcount", 0) or 0)


def delete_expired_sessions(session: Session, now: datetime) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))


# -- invitations ------------------------------------------------------------------------------------


def add_invitation(
    session: Session,
    *,
    token_hash: str,
    organization_id: str,
    role: str,
    email: str | None,
    created_by: str | None,
    at: datetime,
    expires_at: datetime,
) -> Invitation:
    row = Invitation(
        token_hash=token_hash,
        organization_id=organization_id,
        role=role,
        email=email,
        created_by=created_by,
        created_at=at,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


def invitation_by_hash(session: Session, token_hash: str, *, for_update: bool = False) -> Invitation | None:
    query = select(Invitation).where(Invitation.token_hash == token_hash)
    if for_update:  # two browsers accepting one link at once: the second waits, then sees it used
        query = query.with_for_update()
    return session.scalar(query)


def open_invitations(session: Session, organization_id: str, now: datetime) -> list[Invitation]:
    return list(
        session.scalars(
            select(Invitation)
            .where(
                Invitation.organization_id == organization_id,
                Invitation.used_at.is_(None),
                Invitation.expires_at > now,
            )
            .order_by(Invitation.created_at.desc())
        )
    )


def find_invitation(session: Session, invitation_id: str) -> Invitation | None:
    return session.get(Invitation, invitation_id)


# -- sign-in attempts -------------------------------------------------------------------------------


def add_login_attempt(
    session: Session, *, email: str, address: str | None, succeeded: bool, at: datetime
) -> None:
    session.add(LoginAttempt(email=email, address=address, succeeded=succeeded, at=at))


def last_success(session: Session, email: str, since: datetime) -> datetime | None:
    return session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.email == email, LoginAttempt.succeeded.is_(True), LoginAttempt.at >= since
        )
    )


def failures_by_email(session: Session, email: str, since: datetime) -> list[datetime]:
    """When the failed attempts for ``email`` since ``since`` happened, oldest first."""
    return list(
        session.scalars(
            select(LoginAttempt.at)
            .where(LoginAttempt.email == email, LoginAttempt.succeeded.is_(False), LoginAttempt.at >= since)
            .order_by(LoginAttempt.at)
        )
    )


def failures_by_address(session: Session, address: str, since: datetime) -> list[datetime]:
    return list(
        session.scalars(
            select(LoginAttempt.at)
            .where(
                LoginAttempt.address == address,
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.at >= since,
            )
            .order_by(LoginAttempt.at)
        )
    )


def prune_login_attempts(session: Session, before: datetime) -> None:
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < before))
