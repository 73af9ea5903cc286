"""``lightfast workspaces ...``: make, list, rename and delete workspaces, and choose the default one.

A workspace is NAME in the default organization and ORG/NAME in another. Each organization has one
default workspace: the first one made in it, until ``lightfast workspaces default`` picks another.
Commands without ``--workspace`` and API requests without a key act on the default organization's."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lightfast.app.container import Services
from lightfast.app.schemas import WorkspaceOut
from lightfast.app.schemas.workspaces import WorkspaceDeletionOut
from lightfast.app.workspaces import Deletion
from lightfast.cli.common import JsonOption, app, console, errors, guarded, print_json, services
from lightfast.cli.jobs import local_worker
from lightfast.db.statuses import SUCCEEDED, TERMINAL

workspaces_app = typer.Typer(
    help="Workspaces: NAME in the default organization, ORG/NAME in another.", no_args_is_help=True
)
app.add_typer(workspaces_app, name="workspaces")

Name = Annotated[str, typer.Argument(help="The workspace: NAME, or ORG/NAME in another organization.")]
POLL_SECONDS = 0.2


@workspaces_app.command("create")
def create_workspace(
    name: Name,
    default: Annotated[bool, typer.Option("--default", help="Make it the default workspace.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Create an empty workspace; the first one of an organization becomes its default.

    Example: lightfast workspaces create docs && lightfast keys create --workspace docs
    """
    with services() as svc:
        workspace = guarded(lambda: svc.workspaces.add(name, created_by="cli"))
        if default:
            workspace = guarded(lambda: svc.workspaces.set_default(name))
    if as_json:
        print_json(WorkspaceOut.model_validate(workspace), indent=None)
        return
    console.print(f"{name}: created ({workspace.id})" + (", the default" if workspace.is_default else ""))


@workspaces_app.command("list")
def list_workspaces(
    org: Annotated[
        str | None, typer.Option("--org", help="The organization (default: the default one).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List an organization's workspaces; * marks the default one.

    Example: lightfast workspaces list --org acme
    """
    with services() as svc:
        entries = guarded(lambda: svc.workspaces.list_entries(org))
    if as_json:
        print_json([WorkspaceOut.model_validate(e.workspace) for e in entries])
        return
    table = Table()
    for column in ("", "name", "id", "state", "created"):
        table.add_column(column)
    for entry in entries:
        table.add_row(
            "*" if entry.is_default else "",
            entry.ref,
            entry.workspace.id,
            "deleting" if entry.deleting else "",
            entry.workspace.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(table)


@workspaces_app.command("rename")
def rename_workspace(
    name: Name,
    new_name: Annotated[str, typer.Argument(help="Its new name (within the same organization).")],
) -> None:
    """Rename a workspace; its id, keys and documents stay as they are.

    Example: lightfast workspaces rename docs handbook
    """
    with services() as svc:
        workspace = guarded(lambda: svc.workspaces.rename(svc.workspaces.workspace_id(name), new_name, "cli"))
    console.print(f"{name}: renamed {workspace.name} ({workspace.id})")


@workspaces_app.command("default")
def default_workspace(name: Name) -> None:
    """Make a workspace its organization's default: commands without --workspace and, in the default
    organization, API requests without a key (and the search page) act on it.

    Example: lightfast workspaces default docs
    """
    with services() as svc:
        workspace = guarded(lambda: svc.workspaces.set_default(name))
    console.print(f"{name}: the default workspace ({workspace.id})")


@workspaces_app.command("delete")
def delete_workspace(
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    detach: Annotated[bool, typer.Option("--detach", help="Queue the job and print its id at once.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete a workspace and everything in it: its stores, documents, chunks and vectors, its sources
    (disconnected), API keys (revoked at once), events, jobs and activity. A job does it; the workspace
    takes nothing new from the start. The default workspace goes last: make another one the default first.

    Example: lightfast workspaces delete docs --yes
    """
    with services() as svc:
        workspace_id = guarded(lambda: svc.workspaces.workspace_id(name, deleting=True))
        found = guarded(lambda: svc.workspaces.contents(workspace_id))
        if not yes:
            typer.confirm(
                f"Delete workspace {name} with its {found.stores} store(s), {found.sources} source(s), "
                f"{found.documents} document(s) and {found.keys} API key(s)?",
                abort=True,
                err=True,
            )
        deletion = guarded(lambda: svc.workspaces.delete(workspace_id, triggered_by="cli"))
        if detach:
            if as_json:
                print_json(WorkspaceDeletionOut.from_deletion(deletion, "queued"), indent=None)
            else:
                print(deletion.job_id)
            return
        status, error = wait_for_deletion(svc, deletion, show=not as_json)
    if as_json:
        print_json(WorkspaceDeletionOut.from_deletion(deletion, status, error))
    elif error is None:
        gone = deletion.contents
        console.print(
            f"{deletion.ref}: deleted ({gone.stores} store(s), {gone.sources} source(s), "
            f"{gone.documents} document(s), {gone.keys} API key(s))"
        )
    else:
        errors.print(
            f"[red]error:[/red] {deletion.ref} was not deleted: job {deletion.job_id} {status}: {error}"
        )
    if error is not None:
        raise typer.Exit(1)


def wait_for_deletion(svc: Services, deletion: Deletion, *, show: bool) -> tuple[str, str | None]:
    """Follow a delete job, running a worker here if none holds this LIGHTFAST_HOME: ("completed", None)
    once the workspace is gone (the job's record with it), else the job's status and error."""
    progress = Progress(
        TextColumn("[bold]deleting"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("documents"),
        TimeElapsedColumn(),
        console=errors,
        disable=not show or not errors.is_terminal,
    )
    task = progress.add_task("delete", total=deletion.contents.documents or None)
    with local_worker(svc), progress:
        while True:
            job = svc.workspaces.deletion(deletion.job_id)
            if job is None:
                return "completed", None
            progress.update(task, total=job.progress_total, completed=job.progress_processed)
            if job.status in SUCCEEDED:  # its transaction removes the workspace too
                return "completed", None
            if job.status in TERMINAL:  # failed or cancelled: the workspace stays, marked deleting
                return job.status, job.error_message or str(job.status)
            time.sleep(POLL_SECONDS)
