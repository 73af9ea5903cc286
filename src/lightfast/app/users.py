"""Who uses the console: users (argon2id password hashes), their roles in organizations, one-time
invitation links, sign-in with a rate limit, and console sessions that expire.

Secrets never reach the database: a session cookie and an invitation link carry a random token, and only
its SHA-256 is stored. Every change to who may do what records an activity naming who made it."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.clock import Clock
from lightfast.app.people import (
    LAST_SEEN_RESOLUTION,
    MAX_EMAIL,
    MAX_PASSWORD,
    WRONG_CREDENTIALS,
    Actor,
    CreatedInvitation,
    MemberView,
    SessionView,
    SignedIn,
    WorkspaceChoice,
    check_password,
    check_role,
    display_name_of,
    normalize_email,
    retry_after,
    token_hash,
)
from lightfast.db import tenancy
from lightfast.db import users as users_repo
from lightfast.db.activities import record_activity
from lightfast.db.models import Invitation, Membership, User, Workspace
from lightfast.db.transactions import conflict_on_duplicate
from lightfast.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited, Unauthenticated
from lightfast.settings import Settings


class UserService:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.settings = settings
        self.sessions = sessions
        self.clock = clock
        self.hasher = PasswordHasher()  # argon2id with RFC 9106's low-memory parameters

    @cached_property
    def _dummy_hash(self) -> str:
        """Verified against when the email is unknown, so a wrong address takes as long as a wrong
        password and the timing does not tell which addresses have accounts."""
        return self.hasher.hash(secrets.token_urlsafe(16))

    # -- users ------------------------------------------------------------------------------------

    def hash_password(self, password: str) -> str:
        check_password(password)
        return self.hasher.hash(password)

    def verify_password(self, stored: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored or self._dummy_hash, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def create_user(self, email: str, password: str | None, *, display_name: str | None = None) -> User:
        email = normalize_email(email)
        name = display_name_of(display_name, email)
        hashed = self.hash_password(password) if password is not None else None
        with conflict_on_duplicate(f"a user with email {email!r} exists already"), self.sessions.begin() as s:
            if users_repo.user_by_email(s, email) is not None:
                raise Conflict(f"a user with email {email!r} exists already", field="email")
            now = self._now()
            return users_repo.add_user(s, email=email, display_name=name, password_hash=hashed, at=now)

    def create_member(
        self,
        organization: str,
        email: str,
        password: str | None,
        role: str | None = None,
        *,
        actor: Actor,
        display_name: str | None = None,
    ) -> User:
        """A new user who is a member of organization ``organization`` (a slug): ``lightfast users
        create``. An existing user is added to the organization instead (their password unchanged).
        Without a role, an organization's first member becomes its owner, later ones members."""
        if role is not None:
            check_role(role)
        email = normalize_email(email)
        with self.sessions() as s:
            tenancy.get_organization(s, organization)  # before a user is made for nothing
            existing = users_repo.user_by_email(s, email)
        user = existing or self.create_user(email, password, display_name=display_name)
        with conflict_on_duplicate(f"{email} is a member already"), self.sessions.begin() as s:
            org = tenancy.get_organization(s, organization)
            users_repo.lock_memberships(s, org.id)
            if users_repo.find_membership(s, user.id, org.id) is not None:
                raise Conflict(f"{email} is a member of {organization} already", field="email")
            chosen = role or ("member" if users_repo.members(s, org.id) else "owner")
            users_repo.add_membership(s, user_id=user.id, organization_id=org.id, role=chosen, at=self._now())
            self._record(s, actor, org.id, "member.added", user.id, {"email": email, "role": chosen})
        return user

    def set_password(self, email: str, password: str) -> None:
        """A new password; every session of the user ends (a stolen one among them)."""
        hashed = self.hash_password(password)
        with self.sessions.begin() as s:
            user = self._user_by_email(s, email)
            user.password_hash = hashed
            users_repo.delete_user_sessions(s, user.id)

    def disable(self, email: str) -> User:
        """The user can no longer sign in, and their sessions end now. Refused for the last owner of an
        organization: nobody could manage it any more."""
        with self.sessions.begin() as s:
            user = self._user_by_email(s, email)
            for membership in users_repo.memberships_of(s, user.id):
                users_repo.lock_memberships(s, membership.organization_id)
                owners = users_repo.count_owners(s, membership.organization_id)
                if membership.role == "owner" and owners <= 1:
                    raise Conflict(f"{user.email} is the last owner of an organization; make another first")
            user.disabled_at = user.disabled_at or self._now()
            users_repo.delete_user_sessions(s, user.id)
            return user

    def organization_name(self, organization_id: str) -> str:
        with self.sessions() as s:
            org = tenancy.find_organization_by_id(s, organization_id)
            return org.name if org else organization_id

    def organization_id(self, slug: str) -> str:
        with self.sessions() as s:
            return tenancy.get_organization(s, slug).id

    # -- members and roles -----------------------------------------------------------------------

    def members(self, organization_id: str) -> list[MemberView]:
        with self.sessions() as s:
            return [
                MemberView(u.id, u.email, u.display_name, m.role, m.created_at, u.disabled_at is not None)
                for m, u in users_repo.members(s, organization_id)
            ]

    def change_role(self, actor: Actor, organization_id: str, user_id: str, role: str) -> None:
        check_role(role)
        self._require_admin(actor, "change roles")
        with self.sessions.begin() as s:
            users_repo.lock_memberships(s, organization_id)
            membership = self._membership(s, user_id, organization_id)
            if membership.role == role:
                return
            if "owner" in (membership.role, role) and actor.role != "owner":
                raise Forbidden("only an owner may make someone an owner or change an owner's role")
            if membership.role == "owner" and users_repo.count_owners(s, organization_id) <= 1:
                raise Conflict("the last owner cannot be demoted; make another member an owner first")
            before, membership.role = membership.role, role
            details = {"from": before, "to": role}
            self._record(s, actor, organization_id, "member.role_changed", user_id, details)

    def remove_member(self, actor: Actor, organization_id: str, user_id: str) -> None:
        self._require_admin(actor, "remove members")
        with self.sessions.begin() as s:
            users_repo.lock_memberships(s, organization_id)
            membership = self._membership(s, user_id, organization_id)
            if membership.role == "owner":
                if actor.role != "owner":
                    raise Forbidden("only an owner may remove an owner")
                if users_repo.count_owners(s, organization_id) <= 1:
                    raise Conflict("the last owner cannot be removed; make another member an owner first")
            user = users_repo.find_user(s, user_id)
            users_repo.delete_membership(s, membership)
            users_repo.delete_user_sessions(s, user_id, organization_id)
            details = {"email": user.email if user else None, "role": membership.role}
            self._record(s, actor, organization_id, "member.removed", user_id, details)

    # -- invitations -----------------------------------------------------------------------------

    def invite(
        self, actor: Actor, organization_id: str, role: str = "member", *, email: str | None = None
    ) -> CreatedInvitation:
        """A one-time link into the organization; its token is returned once and stored as a hash."""
        check_role(role)
        self._require_admin(actor, "invite members")
        if role == "owner" and actor.role != "owner":
            raise Forbidden("only an owner may invite an owner")
        address = normalize_email(email) if email else None
        token = secrets.token_urlsafe(32)
        now = self._now()
        with self.sessions.begin() as s:
            if tenancy.find_organization_by_id(s, organization_id) is None:
                raise NotFound("organization does not exist", field="organization")
            invitation = users_repo.add_invitation(
                s,
                token_hash=token_hash(token),
                organization_id=organization_id,
                role=role,
                email=address,
                created_by=actor.actor_id,
                at=now,
                expires_at=now + timedelta(days=self.settings.invitation_days),
            )
            details = {"role": role, "email": address}
            self._record(s, actor, organization_id, "member.invited", invitation.id, details)
        return CreatedInvitation(invitation, token)

    def invitations(self, organization_id: str) -> list[Invitation]:
        with self.sessions() as s:
            return users_repo.open_invitations(s, organization_id, self._now())

    def invitation(self, token: str) -> Invitation:
        """The invitation of a link, if it can still be accepted."""
        with self.sessions() as s:
            return self._usable(s, token)

    def accept(
        self,
        token: str,
        *,
        email: str,
        password: str,
        display_name: str | None = None,
        address: str | None = None,
    ) -> SignedIn:
        """Join the organization through a link and sign in. A new address becomes a user with this
        password; an existing user proves it is them with their current password. The link then stops
        working."""
        email = normalize_email(email)
        self.invitation(token)  # a dead link says so before any password is checked
        with self.sessions() as s:
            known = users_repo.user_by_email(s, email)
        if known is not None:  # proving an existing account is a sign-in: the same limit applies
            self._refuse_when_limited(email, address)
            if known.disabled_at is not None or not self.verify_password(known.password_hash, password):
                self._attempt(email, address, succeeded=False)
                raise Unauthenticated(f"{email} has an account: enter its current password to join")
        now = self._now()
        with self.sessions.begin() as s:
            invitation = self._usable(s, token, for_update=True)
            if invitation.email and invitation.email != email:
                raise Forbidden("this invitation is for another email address")
            user = users_repo.user_by_email(s, email)
            if user is None:
                name = display_name_of(display_name, email)
                hashed = self.hash_password(password)
                user = users_repo.add_user(s, email=email, display_name=name, password_hash=hashed, at=now)
            elif known is None or user.id != known.id:  # made meanwhile: prove it again
                raise Conflict(f"{email} has just been registered; open the link again")
            if users_repo.find_membership(s, user.id, invitation.organization_id) is not None:
                raise Conflict(f"{email} is a member already; sign in instead")
            users_repo.add_membership(
                s, user_id=user.id, organization_id=invitation.organization_id, role=invitation.role, at=now
            )
            invitation.used_at, invitation.used_by = now, user.id
            who = Actor(user.id, invitation.role, None)
            details = {"email": email, "role": invitation.role, "invitation": invitation.id}
            self._record(s, who, invitation.organization_id, "member.added", user.id, details)
            user_id, organization_id = user.id, invitation.organization_id
        return self._sign_in(user_id, organization_id, address)

    # -- sign-in and sessions ----------------------------------------------------------------------

    def login(self, email: str, password: str, *, address: str | None = None) -> SignedIn:
        """A new session, or Unauthenticated (one message whether the email or the password is wrong),
        or RateLimited after too many failures for the email or from the address."""
        try:
            email = normalize_email(email)
        except InvalidInput:
            email = email.strip().lower()[:MAX_EMAIL]  # counted like any wrong email
        if len(password) > MAX_PASSWORD:
            password = password[: MAX_PASSWORD + 1]  # wrong anyway; argon2 reads no more than this
        self._refuse_when_limited(email, address)
        with self.sessions() as s:
            user = users_repo.user_by_email(s, email)
            stored = user.password_hash if user else None
            membership = users_repo.first_membership(s, user.id) if user else None
        ok = self.verify_password(stored, password)
        ok = ok and user is not None and user.disabled_at is None and membership is not None
        self._attempt(email, address, succeeded=ok)  # committed before refusing: the failure counts
        if not ok or user is None or membership is None:
            raise Unauthenticated(WRONG_CREDENTIALS)
        if stored and self.hasher.check_needs_rehash(stored):  # parameters raised since it was hashed
            with self.sessions.begin() as s:
                found = users_repo.find_user(s, user.id)
                if found is not None:
                    found.password_hash = self.hasher.hash(password)
        return self._sign_in(user.id, membership.organization_id, address)

    def resolve(self, token: str | None) -> SessionView | None:
        """The session of a cookie, its last use refreshed; None when unknown, idle too long, past its
        end, or when its user was disabled or left the organization."""
        if not token or len(token) > 128:
            return None
        now = self._now()
        idle = timedelta(minutes=self.settings.console_idle_minutes)
        with self.sessions.begin() as s:
            row = users_repo.session_by_hash(s, token_hash(token))
            if row is None:
                return None
            user = users_repo.find_user(s, row.user_id)
            membership = users_repo.find_membership(s, row.user_id, row.organization_id)
            ended = row.expires_at <= now or row.last_seen_at + idle <= now
            if ended or user is None or user.disabled_at or membership is None:
                users_repo.delete_session(s, row)
                return None
            workspace = self._workspace_in(s, row.organization_id, row.workspace_id)
            row.workspace_id = workspace.id  # the one it was, or the default when that one went away
            if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
                row.last_seen_at = now
            return SessionView(
                row.id, user.id, user.email, user.display_name, row.organization_id, workspace.id,
                membership.role, row.csrf_token,
            )  # fmt: skip

    def logout(self, token: str | None, *, workspace_id: str | None = None) -> None:
        if not token or len(token) > 128:
            return
        with self.sessions.begin() as s:
            row = users_repo.session_by_hash(s, token_hash(token))
            if row is None:
                return
            actor = Actor(row.user_id, "member", workspace_id or row.workspace_id)
            self._record(s, actor, row.organization_id, "auth.logout", row.user_id, {}, category="auth")
            users_repo.delete_session(s, row)

    def workspaces(self, organization_id: str) -> list[WorkspaceChoice]:
        """The organization's workspaces one may switch to (those being deleted left out), by name."""
        with self.sessions() as s:
            default = tenancy.default_workspace(s, organization_id)
            return [
                WorkspaceChoice(w.id, w.name, default is not None and w.id == default.id)
                for w in tenancy.list_workspaces(s, organization_id)
                if w.deleted_at is None
            ]

    def workspace_of(self, organization_id: str, workspace_id: str | None) -> str:
        """``workspace_id`` when it is a live workspace of the organization, else its default one."""
        with self.sessions.begin() as s:
            return self._workspace_in(s, organization_id, workspace_id).id

    def switch_workspace(self, session_id: str, workspace_id: str) -> None:
        with self.sessions.begin() as s:
            row = users_repo.find_session(s, session_id)
            workspace = tenancy.find_workspace_by_id(s, workspace_id)
            if row is None:
                raise NotFound("the session has ended")
            if workspace is None or workspace.organization_id != row.organization_id or workspace.deleted_at:
                raise NotFound("no such workspace in this organization", field="workspace")
            row.workspace_id = workspace.id

    # -- inside ------------------------------------------------------------------------------------

    def _sign_in(self, user_id: str, organization_id: str, address: str | None) -> SignedIn:
        token = secrets.token_urlsafe(32)
        now = self._now()
        with self.sessions.begin() as s:
            users_repo.delete_expired_sessions(s, now)
            workspace = self._workspace_in(s, organization_id, None)
            users_repo.add_session(
                s,
                token_hash=token_hash(token),
                user_id=user_id,
                organization_id=organization_id,
                workspace_id=workspace.id,
                csrf_token=secrets.token_urlsafe(32),
                at=now,
                expires_at=now + timedelta(hours=self.settings.console_session_hours),
            )
            actor = Actor(user_id, "member", workspace.id)
            self._record(s, actor, organization_id, "auth.login", user_id, {},
                category="auth", address=address,
            )  # fmt: skip
        view = self.resolve(token)
        if view is None:  # pragma: no cover - just written in the transaction above
            raise Unauthenticated(WRONG_CREDENTIALS)
        return SignedIn(token, view)

    def _refuse_when_limited(self, email: str, address: str | None) -> None:
        now = self._now()
        window = timedelta(minutes=self.settings.login_window_minutes)
        with self.sessions() as s:
            since = users_repo.last_success(s, email, now - window) or now - window
            by_email = users_repo.failures_by_email(s, email, since)
            by_address = users_repo.failures_by_address(s, address, now - window) if address else []
        wait = retry_after(by_email, self.settings.login_failures_per_email, window, now)
        what = "for this email"
        if wait is None:
            wait = retry_after(by_address, self.settings.login_failures_per_address, window, now)
            what = "from this address"
        if wait is not None:
            minutes = max(1, (wait + 59) // 60)
            raise RateLimited(
                f"too many failed sign-ins {what}; try again in {minutes} minute{'s' if minutes > 1 else ''}",
                retry_after=wait,
            )

    def _attempt(self, email: str, address: str | None, *, succeeded: bool) -> None:
        with self.sessions.begin() as s:
            users_repo.add_login_attempt(s, email=email, address=address, succeeded=succeeded, at=self._now())
            users_repo.prune_login_attempts(s, self._now() - timedelta(days=1))

    def _workspace_in(self, s: Session, organization_id: str, workspace_id: str | None) -> Workspace:
        if workspace_id is not None:
            found = tenancy.find_workspace_by_id(s, workspace_id)
            if found is not None and found.organization_id == organization_id and found.deleted_at is None:
                return found
        default = tenancy.default_workspace(s, organization_id)
        if default is not None:
            return default
        # An organization without a workspace yet: make its first, as the CLI does on first use.
        workspace = tenancy.ensure_workspace(s, organization_id, self.settings.default_workspace)
        tenancy.set_default_workspace(s, workspace)
        return workspace

    def _usable(self, s: Session, token: str, *, for_update: bool = False) -> Invitation:
        found = users_repo.invitation_by_hash(s, token_hash(token), for_update=for_update) if token else None
        if found is None:
            raise NotFound("this invitation link is not valid")
        if found.used_at is not None:
            done = "revoked" if found.used_by == "revoked" else "used already"
            raise Conflict(f"this invitation link was {done}; ask an admin for a new one")
        if found.expires_at <= self._now():
            raise Conflict("this invitation link has expired; ask an admin for a new one")
        return found

    def _user_by_email(self, s: Session, email: str) -> User:
        user = users_repo.user_by_email(s, normalize_email(email))
        if user is None:
            raise NotFound(f"no user has the email {email.strip().lower()!r}", field="email")
        return user

    def _membership(self, s: Session, user_id: str, organization_id: str) -> Membership:
        membership = users_repo.find_membership(s, user_id, organization_id)
        if membership is None:
            raise NotFound("that user is not a member of this organization", field="user")
        return membership

    def _require_admin(self, actor: Actor, what: str) -> None:
        if not actor.can_administer:
            raise Forbidden(f"only owners and admins may {what}")

    def _record(
        self,
        s: Session,
        actor: Actor,
        organization_id: str,
        action: str,
        entity_id: str | None,
        details: dict[str, Any],
        *,
        category: str = "member",
        entity_type: str = "user",
        address: str | None = None,
    ) -> None:
        """An activity in the actor's workspace, or the organization's default one (the log is kept per
        workspace; an organization without any has nowhere to record it)."""
        workspace_id = actor.workspace_id
        if workspace_id is None:
            default = tenancy.default_workspace(s, organization_id)
            workspace_id = default.id if default else None
        if workspace_id is None:
            return
        record_activity(
            s,
            workspace_id=workspace_id,
            actor_type="user",
            actor_id=actor.actor_id,
            category=category,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            details=details,
            address=address,
        )

    def _now(self) -> datetime:
        return self.clock.now()
