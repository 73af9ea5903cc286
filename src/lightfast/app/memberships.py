"""A console user's organizations: the header's switcher between the ones they belong to, and revoking an
invitation that has not been used (a link sent to the wrong address, a contractor who never started).

Beside UserService (lightfast.app.users), which signs people in and manages members: this is what a
signed-in user does across organizations, and what an admin does to a pending invitation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from lightfast.app.clock import Clock
from lightfast.app.people import Actor
from lightfast.db import tenancy
from lightfast.db import users as users_repo
from lightfast.db.activities import record_activity
from lightfast.errors import Conflict, Forbidden, NotFound

REVOKED = "revoked"  # Invitation.used_by of a revoked link: used up, by no one


@dataclass(frozen=True)
class OrganizationChoice:
    id: str
    name: str
    role: str


class MembershipService:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, default_workspace: str) -> None:
        self.sessions = sessions
        self.clock = clock
        self.default_workspace = default_workspace

    def organizations(self, user_id: str) -> list[OrganizationChoice]:
        """The organizations a user belongs to, by name."""
        with self.sessions() as s:
            choices = []
            for membership in users_repo.memberships_of(s, user_id):
                org = tenancy.find_organization_by_id(s, membership.organization_id)
                if org is not None:
                    choices.append(OrganizationChoice(org.id, org.name, membership.role))
            return sorted(choices, key=lambda c: (c.name.lower(), c.id))

    def switch_organization(self, session_id: str, organization_id: str) -> None:
        """The session moves to another organization of its user, in that organization's default
        workspace; refused (as absent) for one the user does not belong to."""
        with self.sessions.begin() as s:
            row = users_repo.find_session(s, session_id)
            if row is None:
                raise NotFound("the session has ended")
            if users_repo.find_membership(s, row.user_id, organization_id) is None:
                raise NotFound("no such organization among yours", field="organization")
            workspace = tenancy.default_workspace(s, organization_id)
            if workspace is None or workspace.deleted_at is not None:
                # An organization without a workspace yet gets its first, as signing in does.
                workspace = tenancy.ensure_workspace(s, organization_id, self.default_workspace)
                tenancy.set_default_workspace(s, workspace)
            row.organization_id, row.workspace_id = organization_id, workspace.id

    def revoke_invitation(self, actor: Actor, organization_id: str, invitation_id: str) -> None:
        """The link stops working at once; its row stays (who invited whom, and that it was revoked)."""
        if not actor.can_administer:
            raise Forbidden("only owners and admins may revoke invitations")
        with self.sessions.begin() as s:
            invitation = users_repo.find_invitation(s, invitation_id)
            if invitation is None or invitation.organization_id != organization_id:
                raise NotFound("no such invitation in this organization", field="invitation")
            if invitation.used_at is not None:
                raise Conflict("this invitation was used or revoked already", field="invitation")
            invitation.used_at, invitation.used_by = self.clock.now(), REVOKED
            workspace_id = actor.workspace_id
            if workspace_id is None:
                default = tenancy.default_workspace(s, organization_id)
                workspace_id = default.id if default else None
            if workspace_id is not None:
                record_activity(
                    s,
                    workspace_id=workspace_id,
                    actor_type="user",
                    actor_id=actor.actor_id,
                    category="member",
                    action="member.invitation_revoked",
                    entity_type="invitation",
                    entity_id=invitation.id,
                    details={"email": invitation.email, "role": invitation.role},
                )
