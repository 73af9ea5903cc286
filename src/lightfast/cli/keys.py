"""``lightfast keys ...``: API keys bound to one workspace."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from lightfast.app.schemas import ApiKeyOut, CreatedKeyOut
from lightfast.cli.common import (
    JsonOption,
    OwnerOption,
    WorkspaceOption,
    app,
    console,
    guarded,
    print_json,
    services,
)

keys_app = typer.Typer(help="API keys (each bound to one workspace).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def create_key(
    workspace: WorkspaceOption = None,
    name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
    expires_in_days: Annotated[int | None, typer.Option(min=1, max=3650, help="Expire after N days.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key; its secret is shown once.

    Example: lightfast keys create --workspace acme --name ci
    """
    with services() as svc:
        created = guarded(
            lambda: svc.api_keys.create(
                svc.workspaces.workspace_id(workspace),
                name,
                expires_in_days=expires_in_days,
                created_by="cli",
            )
        )
    if as_json:
        print_json(CreatedKeyOut.from_created(created), indent=None)
        return
    console.print(f"{created.key.id} ({created.key.name})")
    console.print(created.secret, soft_wrap=True)
    console.print("[dim]Store it now: it is not shown again.[/dim]")


@keys_app.command("list")
def list_keys(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """List a workspace's API keys (previews only).

    Example: lightfast keys list --workspace acme
    """
    with services() as svc:
        keys = guarded(lambda: svc.api_keys.list(svc.workspaces.workspace_id(workspace)))
    rows = [ApiKeyOut.model_validate(k) for k in keys]
    if as_json:
        print_json(rows)
        return
    table = Table()
    for column in ("id", "name", "preview", "last used", "status"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.id,
            row.name,
            row.preview,
            row.last_used_at.isoformat() if row.last_used_at else "never",
            "revoked" if row.revoked_at else "active",
        )
    console.print(table)


@keys_app.command("revoke")
def revoke_key(key_id: str, workspace: OwnerOption = None) -> None:
    """Revoke an API key at once.

    Example: lightfast keys revoke key_0123
    """
    with services() as svc:
        key = guarded(lambda: svc.api_keys.revoke(svc.workspaces.of_key(key_id, workspace), key_id, "cli"))
    console.print(f"{key.id}: revoked")


@keys_app.command("rotate")
def rotate_key(key_id: str, workspace: OwnerOption = None) -> None:
    """Replace an API key with a new secret; the old one stops working.

    Example: lightfast keys rotate key_0123
    """
    with services() as svc:
        created = guarded(
            lambda: svc.api_keys.rotate(svc.workspaces.of_key(key_id, workspace), key_id, created_by="cli")
        )
    console.print(f"{created.key.id} replaces {key_id}")
    console.print(created.secret, soft_wrap=True)
