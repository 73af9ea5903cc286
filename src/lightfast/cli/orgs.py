"""``lightfast orgs ...``: organizations (the tenants) and what each may read: the GitHub App
installations bound to it and the server directories granted to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lightfast.app.container import Services
from lightfast.app.organizations import Disconnect, OrganizationView
from lightfast.cli.common import JsonOption, app, console, errors, guarded, services
from lightfast.cli.jobs import follow, print_summary

orgs_app = typer.Typer(
    help="Organizations and what their workspaces may read. A workspace is named ORG/NAME outside the "
    "default organization (e.g. --workspace acme/docs).",
    no_args_is_help=True,
)
app.add_typer(orgs_app, name="orgs")

Org = Annotated[str, typer.Argument(help="The organization's slug.")]
Installation = Annotated[int, typer.Argument(help="The GitHub App installation id.", min=1)]
Directory = Annotated[Path, typer.Argument(help="A directory on the server.")]
DetachOption = Annotated[
    bool, typer.Option("--detach", help="Queue the disconnect jobs and print their ids at once.")
]


def _wire(view: OrganizationView) -> dict[str, object]:
    org = view.organization
    return {
        "id": org.id,
        "slug": org.slug,
        "name": org.name,
        "workspaces": [w.name for w in view.workspaces],
        "installations": [g.installation_id for g in view.installations],
        "paths": [g.path for g in view.paths],
    }


@orgs_app.command("create")
def create_org(
    slug: Org,
    name: Annotated[str | None, typer.Option(help="Display name (default: the slug).")] = None,
    workspace: Annotated[
        str | None, typer.Option(help="Its first workspace (default: LIGHTFAST_DEFAULT_WORKSPACE).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an organization with its first workspace. From the second organization on, every
    installation and directory is granted explicitly.

    Example: lightfast orgs create acme --workspace docs
    """
    with services() as svc:
        view = guarded(lambda: svc.organizations.create(slug, name=name, workspace=workspace))
    if as_json:
        print(json.dumps(_wire(view)))
        return
    console.print(f"{view.organization.slug}: created with workspace {slug}/{view.workspaces[0].name}")


@orgs_app.command("list")
def list_orgs(as_json: JsonOption = False) -> None:
    """List organizations with their workspaces and grants.

    Example: lightfast orgs list
    """
    with services() as svc:
        views = guarded(svc.organizations.list_all)
        single = guarded(svc.organizations.single_tenant_development)
    if as_json:
        print(json.dumps([_wire(v) for v in views], indent=2))
        return
    table = Table()
    for column in ("slug", "workspaces", "installations", "paths"):
        table.add_column(column)
    for view in views:
        table.add_row(
            view.organization.slug,
            ", ".join(w.name for w in view.workspaces),
            ", ".join(g.installation_id for g in view.installations),
            "\n".join(g.path for g in view.paths),
        )
    console.print(table)
    if single:
        console.print(
            "[dim]Single-tenant development: this organization may also connect every "
            "LIGHTFAST_LOCAL_SOURCE_ROOTS directory, and claims an installation when it first "
            "connects one.[/dim]"
        )


@orgs_app.command("grant-installation")
def grant_installation(slug: Org, installation: Installation) -> None:
    """Bind a GitHub App installation to an organization: its workspaces may connect the repositories
    the installation can read. An installation belongs to one organization.

    Example: lightfast orgs grant-installation acme 123456
    """
    with services() as svc:
        guarded(lambda: svc.organizations.grant_installation(slug, installation))
    console.print(f"installation {installation}: bound to {slug}")


@orgs_app.command("revoke-installation")
def revoke_installation(slug: Org, installation: Installation, detach: DetachOption = False) -> None:
    """Unbind an installation; the organization's repositories connected through it are disconnected.

    Example: lightfast orgs revoke-installation acme 123456
    """
    with services() as svc:
        disconnects = guarded(lambda: svc.organizations.revoke_installation(slug, installation))
        console.print(f"installation {installation}: revoked from {slug}")
        _disconnects(svc, disconnects, detach=detach)


@orgs_app.command("grant-path")
def grant_path(slug: Org, path: Directory) -> None:
    """Grant a directory: the organization's workspaces may connect local and git sources inside it
    through the API, where it also lies inside the server's LIGHTFAST_LOCAL_SOURCE_ROOTS.

    Example: lightfast orgs grant-path acme /srv/docs/acme
    """
    with services() as svc:
        grant = guarded(lambda: svc.organizations.grant_path(slug, path))
        covered = svc.organizations.inside_process_roots(grant.path)
    console.print(f"{grant.path}: granted to {slug}")
    if not covered:
        errors.print(
            "[yellow]note:[/yellow] this path is outside this process's LIGHTFAST_LOCAL_SOURCE_ROOTS; "
            "the API connects only what lies inside the server's roots"
        )


@orgs_app.command("revoke-path")
def revoke_path(slug: Org, path: Directory, detach: DetachOption = False) -> None:
    """Withdraw a directory; the organization's sources inside it that no other grant covers are
    disconnected.

    Example: lightfast orgs revoke-path acme /srv/docs/acme
    """
    with services() as svc:
        disconnects = guarded(lambda: svc.organizations.revoke_path(slug, path))
        console.print(f"{path}: revoked from {slug}")
        _disconnects(svc, disconnects, detach=detach)


def _disconnects(svc: Services, disconnects: list[Disconnect], *, detach: bool) -> None:
    """Like ``source remove``: follow each disconnect job (running a worker here if none runs)."""
    for disconnect in disconnects:
        if detach:
            print(disconnect.job_id)
        else:
            print_summary(follow(svc, disconnect.workspace_id, disconnect.job_id, show=True))
