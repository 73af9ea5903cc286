"""``lightfast users ...``: the people who sign in to the console, their roles in organizations, and
invitation links. The operator at the command line acts as an owner of every organization."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from lightfast.app.people import ROLES, Actor
from lightfast.cli.common import JsonOption, app, console, errors, guarded, services

users_app = typer.Typer(help="Console users, their roles and invitation links.", no_args_is_help=True)
app.add_typer(users_app, name="users")

CLI_ACTOR = Actor(user_id=None, role="owner", workspace_id=None, name="cli")
Email = Annotated[str, typer.Argument(help="The user's email address.")]
OrgOption = Annotated[str, typer.Option("--org", help="The organization's slug (see `lightfast orgs list`).")]
RoleOption = Annotated[
    str | None,
    typer.Option(
        "--role",
        help=f"One of {', '.join(ROLES)}; default: owner for an organization's first member, else member.",
    ),
]


def _read_password(from_stdin: bool) -> str:
    """From standard input (one line: scripts, secrets managers) or a prompt that never echoes."""
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        errors.print("[red]error:[/red] no terminal to ask for the password: pass it with --password-stdin")
        raise typer.Exit(2)
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("create")
def create_user(
    email: Email,
    org: OrgOption,
    role: RoleOption = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (one line).")
    ] = False,
    name: Annotated[str | None, typer.Option(help="Display name (default: the part before the @).")] = None,
) -> None:
    """Create a user who signs in with a password, as a member of an organization (an existing user is
    added to it). Without --password-stdin the password is asked for, never echoed.

    Example: lightfast users create ada@example.com --org default --role admin --password-stdin < pw.txt
    """
    password = _read_password(password_stdin)
    with services() as svc:
        if org == svc.settings.default_organization:
            guarded(svc.workspaces.ensure_workspace_id)  # a fresh install: the default organization
        user = guarded(
            lambda: svc.users.create_member(org, email, password, role, actor=CLI_ACTOR, display_name=name)
        )
        members = svc.users.members(svc.users.organization_id(org))
        chosen = next((m.role for m in members if m.user_id == user.id), role)
    console.print(f"{user.email}: {chosen} of {org}")


@users_app.command("list")
def list_users(org: OrgOption, as_json: JsonOption = False) -> None:
    """List the members of an organization with their roles.

    Example: lightfast users list --org default
    """
    with services() as svc:
        members = guarded(lambda: svc.users.members(svc.users.organization_id(org)))
    if as_json:
        shaped = [
            {
                "userId": m.user_id,
                "email": m.email,
                "displayName": m.display_name,
                "role": m.role,
                "joinedAt": m.joined_at.isoformat(),
                "disabled": m.disabled,
            }
            for m in members
        ]
        print(json.dumps(shaped, indent=2))
        return
    table = Table()
    for column in ("email", "name", "role", "joined", "status"):
        table.add_column(column)
    for m in members:
        status = "disabled" if m.disabled else ""
        table.add_row(m.email, m.display_name, m.role, m.joined_at.strftime("%Y-%m-%d"), status)
    console.print(table)


@users_app.command("invite")
def invite(
    org: OrgOption,
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")] = "member",
    email: Annotated[str | None, typer.Option(help="Only this address may accept the invitation.")] = None,
) -> None:
    """Print a one-time invitation link into an organization; copy it to the person you invite. It is
    shown only now and expires after LIGHTFAST_INVITATION_DAYS days.

    Example: lightfast users invite --org default --role admin
    """
    with services() as svc:
        organization_id = guarded(lambda: svc.users.organization_id(org))
        created = guarded(lambda: svc.users.invite(CLI_ACTOR, organization_id, role, email=email))
        settings = svc.settings
    base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    print(f"{base}/invite/{created.token}")
    errors.print(
        f"[dim]one use, as {created.invitation.role}, until "
        f"{created.invitation.expires_at.strftime('%Y-%m-%d %H:%M')} UTC[/dim]"
    )


@users_app.command("disable")
def disable(email: Email) -> None:
    """Stop a user from signing in; their console sessions end now. The last owner of an organization
    cannot be disabled.

    Example: lightfast users disable ada@example.com
    """
    with services() as svc:
        user = guarded(lambda: svc.users.disable(email))
    console.print(f"{user.email}: disabled")


@users_app.command("set-password")
def set_password(
    email: Email,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (one line).")
    ] = False,
) -> None:
    """Give a user a new password (asked for, never echoed); every console session of theirs ends.

    Example: lightfast users set-password ada@example.com
    """
    password = _read_password(password_stdin)
    with services() as svc:
        guarded(lambda: svc.users.set_password(email, password))
    console.print(f"{email.strip().lower()}: password changed, sessions ended")
