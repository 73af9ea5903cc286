"""``lightfast source ...``: connect GitHub repositories and local git repositories, list, sync, detect
their configuration, schedule and disconnect them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lightfast.app.container import Services
from lightfast.app.schemas import CliSourceOut, DetectConfigOut, EnqueuedOut, JobRunOut
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
from lightfast.cli.jobs import follow, print_summary
from lightfast.db.statuses import SUCCEEDED

source_app = typer.Typer(help="Connected sources.", no_args_is_help=True)
add_app = typer.Typer(help="Connect a source to a workspace and start its first sync.", no_args_is_help=True)
app.add_typer(source_app, name="source")
source_app.add_typer(add_app, name="add")

DetachOption = Annotated[bool, typer.Option("--detach", help="Queue the job and print its id at once.")]


def _finish(svc: Services, workspace_id: str, job_id: str, *, detach: bool, as_json: bool) -> None:
    """Follow a job (running a worker here if none is running) or print its id."""
    if detach:
        if as_json:
            print_json(EnqueuedOut(job_id=job_id), indent=None)
        else:
            print(job_id)
        return
    job = follow(svc, workspace_id, job_id, show=not as_json)
    if as_json:
        print_json(JobRunOut.from_job(job))
    else:
        print_summary(job)
    if job.status not in SUCCEEDED:
        raise typer.Exit(1)


@add_app.command("github")
def add_github(
    repository: Annotated[str, typer.Argument(help="OWNER/REPO")],
    installation: Annotated[int, typer.Option("--installation", help="The GitHub App installation id.")],
    workspace: WorkspaceOption = None,
    detach: DetachOption = False,
    as_json: JsonOption = False,
) -> None:
    """Connect a GitHub repository through the GitHub App and run its full sync.

    Needs LIGHTFAST_GITHUB_APP_ID and LIGHTFAST_GITHUB_PRIVATE_KEY (or _PATH); pushes then arrive at
    POST /webhooks/github. Example: lightfast source add github acme/handbook --installation 123456
    """
    with services() as svc:
        workspace_id = guarded(lambda: svc.workspaces.ensure_workspace_id(workspace))
        connected = guarded(lambda: svc.sources.connect_github(workspace_id, repository, installation))
        if not as_json:
            console.print(f"{connected.source.id}: connected {connected.source.display_name}")
        _finish(svc, workspace_id, connected.job_id, detach=detach, as_json=as_json)


@add_app.command("git")
def add_git(
    path: Annotated[Path, typer.Argument(help="A local git repository (working tree or bare).")],
    branch: Annotated[str | None, typer.Option(help="Branch to index; default: the checked-out one.")] = None,
    workspace: WorkspaceOption = None,
    detach: DetachOption = False,
    as_json: JsonOption = False,
) -> None:
    """Connect a local git repository; every sync indexes the commits since the last one.

    Only committed content is indexed. Example: lightfast source add git ~/src/handbook --branch main
    """
    with services() as svc:
        workspace_id = guarded(lambda: svc.workspaces.ensure_workspace_id(workspace))
        connected = guarded(lambda: svc.sources.connect_git(workspace_id, path, branch))
        if not as_json:
            console.print(f"{connected.source.id}: connected {connected.source.display_name}")
        _finish(svc, workspace_id, connected.job_id, detach=detach, as_json=as_json)


@source_app.command("sync")
def sync_source(
    source_id: str,
    full: Annotated[bool, typer.Option("--full", help="Re-read every file, not only what changed.")] = False,
    workspace: OwnerOption = None,
    detach: DetachOption = False,
    as_json: JsonOption = False,
) -> None:
    """Sync a source now: git and GitHub sources index the commits since the last sync.

    Example: lightfast source sync src_0123 --full
    """
    with services() as svc:
        workspace_id = guarded(lambda: svc.workspaces.of_source(source_id, workspace))
        enqueued = guarded(
            lambda: svc.jobs.enqueue_sync(workspace_id, source_id, mode="full" if full else "incremental")
        )
        _finish(svc, workspace_id, enqueued.job_id, detach=detach, as_json=as_json)


@source_app.command("detect-config")
def detect_config(source_id: str, workspace: OwnerOption = None, as_json: JsonOption = False) -> None:
    """Read and validate the source's lightfast.yml now and record the result.

    Example: lightfast source detect-config src_0123
    """
    with services() as svc:
        report = guarded(
            lambda: svc.sources.detect_config(svc.workspaces.of_source(source_id, workspace), source_id)
        )
    result = DetectConfigOut.from_report(source_id, report)
    if as_json:
        print_json(result)
    else:
        console.print(f"{source_id}: {result.status} ({result.path or 'no lightfast.yml: defaults'})")
        for problem in result.problems:
            console.print(f"  {problem}")
    if result.status == "error":
        raise typer.Exit(1)


@source_app.command("remove")
def remove_source(
    source_id: str,
    workspace: OwnerOption = None,
    detach: DetachOption = False,
    as_json: JsonOption = False,
) -> None:
    """Disconnect a source: stop syncing it and delete its documents, chunks and vectors (a job).

    Example: lightfast source remove src_0123
    """
    with services() as svc:
        workspace_id = guarded(lambda: svc.workspaces.of_source(source_id, workspace))
        enqueued = guarded(lambda: svc.sources.disconnect(workspace_id, source_id))
        _finish(svc, workspace_id, enqueued.job_id, detach=detach, as_json=as_json)


@source_app.command("list")
def list_sources(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """List the workspace's connected sources.

    Example: lightfast source list
    """
    with services() as svc:
        sources = guarded(lambda: svc.sources.list(svc.workspaces.workspace_id(workspace)))
        ingesting = svc.sources.ingesting([s.id for s in sources])
    rows = [CliSourceOut.from_row(s, ingesting=s.id in ingesting) for s in sources]
    if as_json:
        print_json(rows)
        return
    table = Table()
    for column in ("id", "type", "name", "active", "documents", "config", "commit", "schedule"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.id,
            row.type,
            row.name,
            "yes" if row.active else "no",
            str(row.documents),
            row.config,
            (row.last_commit or "")[:12],
            json.dumps(row.schedule) if row.schedule else "",
        )
    console.print(table)


_DURATION = re.compile(r"^(\d+)([smhd])$")


def parse_duration(text: str) -> int:
    match = _DURATION.match(text.strip())
    if not match:
        raise typer.BadParameter("use a number with s, m, h or d, e.g. 15m")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


@source_app.command("schedule")
def schedule_source(
    source_id: str,
    every: Annotated[str | None, typer.Option(help="Interval, e.g. 15m, 1h, 1d.")] = None,
    cron: Annotated[str | None, typer.Option(help="Cron expression, e.g. '0 * * * *'.")] = None,
    off: Annotated[bool, typer.Option("--off", help="Remove the schedule.")] = False,
    workspace: OwnerOption = None,
) -> None:
    """Sync a source on a schedule (a running worker enqueues each due sync).

    Example: lightfast source schedule src_0123 --every 1h
    """
    seconds = parse_duration(every) if every else None
    with services() as svc:
        source = guarded(
            lambda: svc.sources.set_schedule(
                svc.workspaces.of_source(source_id, workspace),
                source_id,
                every_seconds=seconds,
                cron=cron,
                off=off,
            )
        )
    console.print(f"{source.id}: schedule {json.dumps(source.source_metadata.get('schedule'))}")
