"""What an organization's workspaces may connect: the GitHub App installations bound to it, and the
directories on the server granted to it inside LIGHTFAST_LOCAL_SOURCE_ROOTS.

An operator grants both (``lightfast orgs grant-installation``, ``lightfast orgs grant-path``). One case
needs no grant, the single-tenant development install (``make run``, the README): the environment is
development, the server listens on a loopback address, and the database holds one organization. There
the operator and the tenant are the same person, so that organization counts every process root as
granted and claims an unbound installation the first time it connects one (the claim is recorded, and
stays with it when a second organization is created later). Once a second organization exists,
everything is granted explicitly.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.orm import Session

from lightfast.db import grants, tenancy
from lightfast.db.models import Organization
from lightfast.errors import Forbidden, InvalidInput
from lightfast.settings import Settings

GITHUB = "github"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CLAIMED_IN_DEVELOPMENT = "development"
# Git follows at most this many levels of objects/info/alternates.
ALTERNATES_DEPTH = 5
_GIT_TIMEOUT = 30.0


def path_forbidden() -> Forbidden:
    # One message whoever was granted the path, and whether or not it exists: a 403 tells nothing.
    return Forbidden(
        "this path is not granted to the workspace's organization; an operator grants it with "
        "`lightfast orgs grant-path ORG PATH`",
        field="path",
    )


def installation_forbidden(installation_id: int | str) -> Forbidden:
    return Forbidden(
        f"GitHub App installation {installation_id} is not granted to the workspace's organization; "
        f"an operator grants it with `lightfast orgs grant-installation ORG {installation_id}`",
        field="installationId",
    )


def inside(path: Path, roots: Iterable[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def resolve_path(raw: str | Path) -> Path:
    """An absolute path with symbolic links resolved; 400 when it cannot be one."""
    try:
        return Path(raw).expanduser().resolve()
    except (ValueError, RuntimeError, OSError) as exc:  # a NUL byte, "~nosuchuser", a symlink loop
        raise InvalidInput(f"path is not a usable directory path: {exc}", field="path") from exc


class Access:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def single_tenant_development(self, session: Session) -> bool:
        settings = self.settings
        return (
            settings.environment == "development"
            and settings.host in LOOPBACK_HOSTS
            and tenancy.count_organizations(session) == 1
        )

    # -- GitHub App installations ----------------------------------------------------------------

    def installation_claim(self, session: Session, org: Organization, installation_id: int) -> bool:
        """Whether ``org`` may connect the installation's repositories: False when it is bound to it,
        True when it may claim it now (single-tenant development, not bound yet); else Forbidden."""
        grant = grants.find_installation_grant(session, GITHUB, str(installation_id))
        if grant is not None and grant.organization_id == org.id:
            return False
        if grant is None and self.single_tenant_development(session):
            return True
        raise installation_forbidden(installation_id)

    def authorize_installation(self, session: Session, org: Organization, installation_id: int) -> None:
        """In the transaction that connects: bind a claimable installation, refuse any other."""
        if self.installation_claim(session, org, installation_id):
            grants.add_installation_grant(
                session, org.id, GITHUB, str(installation_id), granted_by=CLAIMED_IN_DEVELOPMENT
            )

    # -- directories on the server ---------------------------------------------------------------

    def process_roots(self) -> list[Path]:
        return [resolve_path(root) for root in self.settings.local_source_roots]

    def granted_paths(self, session: Session, org: Organization) -> list[Path]:
        granted = [Path(grant.path) for grant in grants.path_grants(session, org.id)]
        if org.slug == self.settings.default_organization and self.single_tenant_development(session):
            granted += self.process_roots()
        return granted

    def authorize_path(self, session: Session, org: Organization, path: Path) -> None:
        """``path`` (resolved) must lie inside a process root (else 400: the server's configuration) and
        inside a directory granted to ``org`` (else 403)."""
        if not inside(path, self.process_roots()):
            raise InvalidInput(
                "this path is outside LIGHTFAST_LOCAL_SOURCE_ROOTS; the API only connects "
                "directories under those roots",
                field="path",
            )
        if not inside(path, self.granted_paths(session, org)):
            raise path_forbidden()

    def authorize_locations(self, session: Session, org: Organization, locations: list[Path]) -> None:
        """Where a repository's data lies: each inside the process roots and granted to ``org``, else
        403 (the path asked for was allowed; its data is not)."""
        roots, granted = self.process_roots(), self.granted_paths(session, org)
        if not all(inside(location, roots) and inside(location, granted) for location in locations):
            raise path_forbidden()


def git_locations(root: Path) -> list[Path]:
    """Every place a git repository reads its history from: the repository itself, its git directory
    and common directory (a ``.git`` file of a worktree or submodule points elsewhere), the object
    stores of ``objects/info/alternates``, and the targets of symbolic links inside those stores."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir"],
            capture_output=True,
            timeout=_GIT_TIMEOUT,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise InvalidInput(f"{root} is not a git repository", field="path") from exc
    lines = os.fsdecode(result.stdout).splitlines()
    directories = [Path(line).resolve() for line in lines if line]
    locations = [root, *directories]
    pending = [(directory / "objects").resolve() for directory in directories]
    seen: set[Path] = set()
    depth = 0
    while pending and depth <= ALTERNATES_DEPTH:
        following: list[Path] = []
        for objects in pending:
            if objects in seen:
                continue
            seen.add(objects)
            locations += [objects, *_link_targets(objects)]
            following += _alternates(objects)
        pending, depth = following, depth + 1
    if pending:  # deeper than git itself goes: refuse rather than guess
        raise InvalidInput(f"{root} chains object stores deeper than git follows", field="path")
    return locations


def _alternates(objects: Path) -> list[Path]:
    try:
        text = (objects / "info" / "alternates").read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return []
    entries = [line.strip() for line in text.splitlines()]
    return [(objects / entry).resolve() for entry in entries if entry and not entry.startswith("#")]


def _link_targets(directory: Path) -> list[Path]:
    """The resolved targets of the symbolic links below ``directory`` (not followed further)."""
    targets: list[Path] = []
    stack = [directory]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                targets.append(Path(entry.path).resolve())
            elif entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
    return targets
