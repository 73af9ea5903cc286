"""The plain parts of who uses the console: roles, the checks on emails and passwords, the sign-in rate
limit as a pure function, and the shapes UserService hands to the shells."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from lightfast.db.models import Invitation
from lightfast.errors import InvalidInput

ROLES = ("owner", "admin", "member")
ADMIN_ROLES = frozenset({"owner", "admin"})
MIN_PASSWORD = 8
# argon2 reads the whole password: an unbounded one would let a stranger burn CPU on every try.
MAX_PASSWORD = 256
MAX_EMAIL = 254
# A session's last use is written at most this often: each page view must not become a write.
LAST_SEEN_RESOLUTION = timedelta(seconds=60)
WRONG_CREDENTIALS = "the email or password is wrong"
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalize_email(email: str) -> str:
    """The stored form of an address: trimmed, lowercased, checked. InvalidInput naming ``email``."""
    cleaned = email.strip().lower()
    if len(cleaned) > MAX_EMAIL or not _EMAIL.fullmatch(cleaned):
        raise InvalidInput("email must be an address such as ada@example.com", field="email")
    return cleaned


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters", field="password")


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    return role


def retry_after(failures: list[datetime], limit: int, window: timedelta, now: datetime) -> int | None:
    """Seconds until another try is allowed, or None when it is allowed now. ``failures`` are the times
    of failed tries, oldest first; a try is refused while ``limit`` of them fall inside the window
    before ``now``, until the oldest of those leaves it."""
    recent = [at for at in failures if now - window < at <= now]
    if len(recent) < limit:
        return None
    leaves = recent[-limit] + window
    return max(1, int((leaves - now).total_seconds() + 0.999))


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a signed-in user, the local admin of a development install, or the
    operator at the command line; and the workspace whose activity log records it."""

    user_id: str | None
    role: str
    workspace_id: str | None
    name: str = "local-admin"

    @property
    def actor_id(self) -> str:
        return self.user_id or self.name

    @property
    def can_administer(self) -> bool:
        return self.role in ADMIN_ROLES


@dataclass(frozen=True)
class SessionView:
    session_id: str
    user_id: str
    email: str
    display_name: str
    organization_id: str
    workspace_id: str
    role: str
    csrf_token: str


@dataclass(frozen=True)
class SignedIn:
    token: str  # the cookie's value: exists only here, never stored
    view: SessionView


@dataclass(frozen=True)
class MemberView:
    user_id: str
    email: str
    display_name: str
    role: str
    joined_at: datetime
    disabled: bool


@dataclass(frozen=True)
class WorkspaceChoice:
    id: str
    name: str
    is_default: bool


@dataclass(frozen=True)
class CreatedInvitation:
    invitation: Invitation
    token: str  # shown once: the link holds it, the database only its hash


def display_name_of(display_name: str | None, email: str) -> str:
    name = (display_name or "").strip() or email.split("@", 1)[0]
    if len(name) > 255 or _CONTROL.search(name):
        raise InvalidInput("display name must be 1-255 printable characters", field="display_name")
    return name
